"""A case's story as one timeline: its events, with the messages they caused folded in.

Each outbound message appears once, inside the entry that caused it (the page inside "Paged
Alice Ng", the customer's SMS and email inside "Customer told"), and its delivery events
(sent, delivered, failed, ...) become that message's history instead of lines of their own. A
message no event points at gets an entry of its own at the time it was queued. The page shows
each message as a ``<details>`` element: one line closed, body and history open.

Plain functions over rows already read; names come from ``name_of`` so this module never looks
anything up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from oncall.db.models import CaseEvent, OutboundMessage
from oncall.web.dashboard.labels import label

#: Delivery news about one message: folded into that message's history.
DELIVERY_KINDS = frozenset({"sent", "delivered", "failed", "reconciled", "bundled"})
#: Event data keys that name the message an event is about.
MESSAGE_KEYS = ("outbox_id", "voice_id")
#: What the customer is told in the same instant as these is shown inside their entry.
TOLD_WITH = frozenset({"opened", "acknowledged", "status", "resolved", "severity_changed"})
CUSTOMER = "customer"
PREVIEW = 160  # characters of what the customer was told, on its one line
_HOW = {"sms": "SMS", "voice": "phone", "email": "email"}


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    kind: str
    label: str
    text: str


@dataclass
class MessageView:
    """One outbound message as the timeline shows it."""

    row: OutboundMessage
    to_name: str
    history: list[HistoryLine] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """``SMS to Alice Ng``: the closed ``<details>`` line (the state is a badge beside)."""
        return f"{label('channel', self.row.channel)} to {self.to_name}"

    @property
    def purpose(self) -> str:
        return label("purpose", self.row.purpose)

    @property
    def state(self) -> str:
        return label("message_state", self.row.state)


@dataclass
class Entry:
    """One line of the timeline, with the messages it caused."""

    at: datetime
    kind: str
    label: str
    text: str
    actor: str = ""
    messages: list[MessageView] = field(default_factory=list)
    told: str = ""  # "Customer told by email and SMS", when folded into another entry


def build_timeline(
    events: Iterable[CaseEvent],
    messages: Iterable[OutboundMessage],
    name_of: Callable[[str], str],
) -> list[Entry]:
    """The entries in time order; ``name_of`` turns a message's recipient into a name."""
    views = {
        m.id: MessageView(m, _recipient(m, name_of))
        for m in sorted(messages, key=lambda m: (m.created_at, m.id))
    }
    placed: set[int] = set()
    entries: list[tuple[datetime, int, int, Entry]] = []
    for event in sorted(events, key=lambda e: (e.at, e.id or 0)):
        about = _message_ids(event)
        if event.kind in DELIVERY_KINDS and about and about[0] in views:
            views[about[0]].history.append(
                HistoryLine(event.at, event.kind, label("event", event.kind), event.text)
            )
            continue
        entry = Entry(event.at, event.kind, label("event", event.kind), event.text)
        entry.actor = _actor(event)
        for message_id in about:
            if message_id in views and message_id not in placed:
                entry.messages.append(views[message_id])
                placed.add(message_id)
        if event.kind == "customer_notified":
            _fold_customer_messages(entry, views, placed)
        entries.append((event.at, 0, event.id or 0, entry))
    for message_id, view in views.items():
        if message_id not in placed:
            row = view.row
            entry = Entry(row.created_at, "message", view.purpose, view.summary, messages=[view])
            entries.append((row.created_at, 1, message_id, entry))
    entries.sort(key=lambda item: item[:3])
    return _merge_what_the_customer_was_told([entry for *_key, entry in entries])


def _merge_what_the_customer_was_told(entries: list[Entry]) -> list[Entry]:
    """An acknowledgement and the customer's "an engineer is working on it" are one moment."""
    out: list[Entry] = []
    for entry in entries:
        if entry.kind == "customer_notified" and entry.messages:
            host = next(
                (e for e in entries if e.at == entry.at and e.kind in TOLD_WITH),
                None,
            )
            if host is not None:
                host.messages.extend(entry.messages)
                host.told = f"{entry.label} {entry.told}"
                continue
        out.append(entry)
    return out


def _message_ids(event: CaseEvent) -> list[int]:
    data = event.data or {}
    return [data[key] for key in MESSAGE_KEYS if isinstance(data.get(key), int)]


def _actor(event: CaseEvent) -> str:
    """Who did it, when the text does not already say so."""
    actor = (event.actor or "").strip()
    if not actor or actor == "system" or actor in event.text:
        return ""
    return actor


def _fold_customer_messages(entry: Entry, views: dict[int, MessageView], placed: set[int]) -> None:
    """The "Customer told" event is written with the messages it queued, in one instant."""
    for message_id, view in views.items():
        row = view.row
        if message_id in placed or row.recipient != CUSTOMER or row.created_at != entry.at:
            continue
        entry.messages.append(view)
        placed.add(message_id)
    if entry.messages:
        # The event repeats what was said; the folded messages show it in full.
        channels = dict.fromkeys(_HOW.get(m.row.channel, m.row.channel) for m in entry.messages)
        entry.told = "by " + " and ".join(channels)
        said = entry.text.split(": ", 1)[-1].strip().splitlines()[0]
        entry.text = said if len(said) <= PREVIEW else said[: PREVIEW - 1].rstrip() + "…"


def _recipient(message: OutboundMessage, name_of: Callable[[str], str]) -> str:
    if message.recipient and message.recipient not in (CUSTOMER, "sender"):
        name = name_of(message.recipient)
        if name and name != message.recipient:
            return name
    if message.recipient == CUSTOMER:
        return "the customer"
    return message.to_address
