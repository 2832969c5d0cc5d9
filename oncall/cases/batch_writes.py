"""The engine's batch writes its new outbox rows and timers together: no round trip per step.

Applying a batch of deadlines queues a page, reminder or notice for most of them and arms the
next step of each escalation, each once per unique key (an outbox row's dedupe key, a timer's
``(case, kind, seq)``). One at a time, that is an ``INSERT … ON CONFLICT DO NOTHING RETURNING
id`` per row: a round trip each, the largest part of a step's cost (issue 14's profile).
Inside :func:`batched_writes` the batch instead

* reads, in one query per table, the keys its cases' rows already hold, so a row that exists
  is answered "already there" without asking the database;
* draws the new rows' ids from the tables' sequences in chunks (one query per chunk), so a
  row's id is known when it is queued (a timeline event names its page's outbox row);
* adds the rows to the session unflushed: the ORM writes them as multi-row INSERTs at the next
  flush (a savepoint's release, or a query that reads them).

"Once per key" still holds against other transactions: the keys are unique in the database,
so a row another transaction wrote after the keys were read makes the flush fail, and the
engine applies that group of deadlines again one at a time (:func:`unbatched`), each row with
the ``ON CONFLICT`` statement. (Rows about a case the engine holds cannot race at all: whoever
writes them locks the case first, and the engine holds it until the batch commits.)

PostgreSQL only: SQLite has no sequence to draw ids from, and its statements cost no round
trip (the single box writes in-process), so it keeps the one-statement path.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from oncall.db.models import Deadline, OutboundMessage

T = TypeVar("T", OutboundMessage, Deadline)

# ``session.info`` key of the batch in progress.
_BATCH = "oncall.batch_writes"

# ``chunk`` new ids of a table, in one round trip (the tables' own names; the count is a bind).
_DRAW_IDS = {
    name: text(
        f"SELECT nextval(pg_get_serial_sequence('{name}', 'id')) FROM generate_series(1, :n)"  # noqa: S608
    )
    for name in ("outbox", "deadlines")
}


@dataclass
class _Table:
    """One table's share of the batch: the keys taken, the rows queued, the ids drawn."""

    name: str
    key: Callable[[dict[str, Any]], Hashable | None]  # a row's unique key; None: not batched
    taken: set[Hashable]  # in the table, or queued by this batch
    queued: list[Hashable] = field(default_factory=list)  # queued by this batch, in order
    ids: list[int] = field(default_factory=list)  # drawn, not used yet


@dataclass
class _Batch:
    cases: frozenset[int]  # rows about these cases are batched; any other is written at once
    tables: dict[type, _Table]
    chunk: int  # how many ids to draw at a time
    suspended: bool = False


def _outbox_key(values: dict[str, Any]) -> Hashable | None:
    return values["dedupe_key"]


def _deadline_key(values: dict[str, Any]) -> Hashable:
    return (values["case_id"], str(values["kind"]), values["seq"])


@contextmanager
def batched_writes(session: Session, case_ids: set[int]) -> Iterator[None]:
    """Within this block, new outbox rows (with a dedupe key) and timers of ``case_ids`` are
    batched."""
    if session.get_bind().dialect.name != "postgresql" or not case_ids:
        yield
        return
    messages = session.scalars(
        select(OutboundMessage.dedupe_key).where(
            OutboundMessage.case_id.in_(case_ids), OutboundMessage.dedupe_key.is_not(None)
        )
    )
    timers = session.execute(
        select(Deadline.case_id, Deadline.kind, Deadline.seq).where(Deadline.case_id.in_(case_ids))
    )
    session.info[_BATCH] = _Batch(
        cases=frozenset(case_ids),
        tables={
            OutboundMessage: _Table("outbox", _outbox_key, set(messages)),
            Deadline: _Table("deadlines", _deadline_key, {tuple(row) for row in timers}),
        },
        chunk=max(2 * len(case_ids), 32),
    )
    try:
        yield
    finally:
        session.info.pop(_BATCH, None)


class NotBatched:
    """:func:`queue_in_batch`'s answer when the row must be written at once."""


_NOT_BATCHED = NotBatched()


def queue_in_batch(
    session: Session, model: type[T], values: dict[str, Any]
) -> T | NotBatched | None:
    """Queue a new ``model`` row in the batch: the row (its id drawn), None when its unique
    key is taken already, or a :class:`NotBatched` when no batch takes it."""
    batch: _Batch | None = session.info.get(_BATCH)
    if batch is None or batch.suspended or values["case_id"] not in batch.cases:
        return _NOT_BATCHED
    table = batch.tables[model]
    key = table.key(values)
    if key is None:
        return _NOT_BATCHED
    if key in table.taken:
        return None
    if not table.ids:
        table.ids = list(session.scalars(_DRAW_IDS[table.name], {"n": batch.chunk}))
    row = model(id=table.ids.pop(0), **values)
    session.add(row)
    table.taken.add(key)
    table.queued.append(key)
    return row


def batch_mark(session: Session) -> tuple[int, ...]:
    """Where the batch stands now (for :func:`drop_queued_since`); () without a batch."""
    batch: _Batch | None = session.info.get(_BATCH)
    return tuple(len(t.queued) for t in batch.tables.values()) if batch is not None else ()


def drop_queued_since(session: Session, mark: tuple[int, ...]) -> None:
    """Forget the rows queued since ``mark``: their savepoint was rolled back with them."""
    batch: _Batch | None = session.info.get(_BATCH)
    if batch is None:
        return
    for table, count in zip(batch.tables.values(), mark, strict=True):
        table.taken.difference_update(table.queued[count:])
        del table.queued[count:]


@contextmanager
def unbatched(session: Session) -> Iterator[None]:
    """Every row queued within this block is written at once, with ``ON CONFLICT``."""
    batch: _Batch | None = session.info.get(_BATCH)
    if batch is None:
        yield
        return
    batch.suspended = True
    try:
        yield
    finally:
        batch.suspended = False
