"""``INSERT … ON CONFLICT DO NOTHING RETURNING``: an idempotent write in one round trip.

Both databases speak the same statement (SQLite since 3.35). It is written here as ``text()``
with typed bind parameters rather than with the dialects' ``insert().on_conflict_do_nothing()``
constructs, because SQLAlchemy does not cache the compiled form of those: compiling one costs
more than the round trip it saves. The text is built once per table, columns and dialect.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Table, TextClause, bindparam, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, make_transient_to_detached

T = TypeVar("T")


@cache
def _statement(
    table: Table, columns: tuple[str, ...], conflict: str, returning: str, dialect: Dialect
) -> TextClause:
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    params = ", ".join(f":{c}" for c in columns)
    unique = ", ".join(quote(c) for c in conflict)
    # Only our own table and column names (quoted) go into the text; every value is a bind.
    sql = (
        f"INSERT INTO {quote(table.name)} ({names}) VALUES ({params}) "  # noqa: S608
        f"ON CONFLICT ({unique}) DO NOTHING RETURNING {quote(returning)}"
    )
    # Typed binds: the columns' own types convert the values (aware datetimes to UTC, JSON).
    return text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))


@cache
def _many_statement(
    table: Table,
    columns: tuple[str, ...],
    rows: int,
    conflict: tuple[str, ...],
    returning: tuple[str, ...],
    dialect: Dialect,
) -> TextClause:
    """:func:`_statement` for ``rows`` rows at once: each row's binds are suffixed ``_<i>``."""
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    values = ", ".join("(" + ", ".join(f":{c}_{i}" for c in columns) + ")" for i in range(rows))
    unique = ", ".join(quote(c) for c in conflict)
    back = ", ".join(quote(c) for c in returning)
    sql = (
        f"INSERT INTO {quote(table.name)} ({names}) VALUES {values} "  # noqa: S608
        f"ON CONFLICT ({unique}) DO NOTHING RETURNING {back}"
    )
    binds = (bindparam(f"{c}_{i}", type_=table.c[c].type) for i in range(rows) for c in columns)
    return text(sql).bindparams(*binds).columns(*(table.c[c] for c in returning))


def _complete(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every other column at its default (None when it has none), so the
    statement writes what an ORM insert would and the object built from it is whole."""
    out = dict(values)
    for column in table.columns:
        if column.name in out or column is table.autoincrement_column:
            continue
        default = column.default
        if default is None and column.server_default is not None:
            continue  # the database fills it in
        if default is None:
            out[column.name] = None
        elif default.is_callable:
            out[column.name] = default.arg(None)
        else:
            out[column.name] = default.arg
    return out


def insert_once(
    session: Session,
    table: Table,
    values: dict[str, Any],
    conflict: str | tuple[str, ...],
    returning: str,
) -> Any | None:
    """Insert ``values`` unless a row with the same ``conflict`` column(s) (a unique key)
    exists: the new row's
    ``returning`` column, or None when there was one already (nothing was written).

    On PostgreSQL a concurrent transaction inserting the same key makes this wait for it, then
    returns None if it committed: two requests never both think they were first.
    """
    values = _complete(table, values)
    dialect = session.get_bind().dialect
    if isinstance(conflict, str):
        conflict = (conflict,)
    statement = _statement(table, tuple(values), conflict, returning, dialect)
    return session.execute(statement, values).scalar()


def insert_many_once(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    conflict: tuple[str, ...],
    returning: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    """:func:`insert_once` for several rows (all with the same keys) in one statement: the
    ``returning`` columns of the rows written, in no particular order; a row whose
    ``conflict`` key exists already is skipped, as :func:`insert_once` would skip it."""
    if not rows:
        return []
    completed = [_complete(table, row) for row in rows]
    columns = tuple(completed[0])
    dialect = session.get_bind().dialect
    statement = _many_statement(table, columns, len(rows), conflict, returning, dialect)
    params = {f"{c}_{i}": row[c] for i, row in enumerate(completed) for c in columns}
    return [tuple(r) for r in session.execute(statement, params)]


def attach_inserted(session: Session, cls: type[T], ident: Any, values: dict[str, Any]) -> T:
    """The ORM object for a row :func:`insert_once` just wrote (primary key ``ident``), in the
    session as a persistent row, as ``session.add`` and a flush would have left it."""
    table = cls.__table__  # type: ignore[attr-defined]
    row = _complete(table, values)
    key = next(c.name for c in table.primary_key.columns)
    instance = cls(**{key: ident}, **{k: v for k, v in row.items() if k != key})
    make_transient_to_detached(instance)
    session.add(instance)
    return instance
