"""The monthly misuse report: the billing export of the fees flagged in a month.

Its rows are the month's fee flags (``MisuseFlag.month``, written in the service's time zone
when the case was flagged), waived or not; review flags (no fee) are not billed and left out.
Each row says where the fee stands (``state``: flagged, disputed, confirmed, waived) and
carries the evidence frozen on the flag (how the severity was chosen), a link to the caller's
recording while retention keeps it, and what a disputing customer wrote. Beside each fee,
also: every note the engineers wrote on the case (the reason given with ``SEV``, the
``STATUS`` texts, the ``RESOLVE`` note, the text after ``ACK``), as kept on its timeline.
The CSV is what billing imports, so a text a person typed cannot run as a spreadsheet formula;
its columns only ever grow at the end.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import Case, CaseEvent, MisuseFlag
from oncall.reports.months import parse_month

NOTE_SEPARATOR = " | "


@dataclass(frozen=True)
class MisuseRow:
    customer: str
    customer_name: str
    case: int | None
    date: str  # the local date the case was flagged, YYYY-MM-DD
    severity_claimed: int | None
    severity_set: int | None
    fee: float
    currency: str
    waived: bool
    reason: str  # why the case was flagged
    waived_by: str
    waive_reason: str
    notes: tuple[str, ...] = ()  # the engineers' notes on the case, oldest first
    state: str = "flagged"  # FeeState: flagged | disputed | confirmed | waived
    menu_choice: str = ""  # how the severity was chosen (the evidence frozen on the flag)
    recording: str = ""  # the caller's recording on the dashboard, while retention keeps it
    dispute_text: str = ""  # what the customer wrote when they disputed the fee

    @property
    def due(self) -> float:
        return 0.0 if self.waived else self.fee

    @property
    def engineer_notes(self) -> str:
        """The notes in one cell, as the CSV and the API give them."""
        return NOTE_SEPARATOR.join(self.notes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["notes"]
        data["due"] = self.due
        data["engineer_notes"] = self.engineer_notes
        return data


CSV_COLUMNS = [
    "customer",
    "customer_name",
    "case",
    "date",
    "severity_claimed",
    "severity_set",
    "fee",
    "currency",
    "waived",
    "due",
    "reason",
    "waived_by",
    "waive_reason",
    "engineer_notes",  # added last: billing imports read the columns before it by position
    # issue 11: where the fee stands, and its evidence
    "state",
    "menu_choice",
    "recording",
    "dispute_text",
]
# Timeline events that may carry an engineer's note (ACK, STATUS, RESOLVE, SEV, a late reason).
NOTE_KINDS = ("acknowledged", "status", "resolved", "severity_changed", "note")


def misuse_report(
    session: Session, month: str, zone: ZoneInfo | None = None, public_url: str = ""
) -> list[MisuseRow]:
    """The month's misuse fee flags, waived or not, oldest first. ``public_url``: the
    service's, to link a case's recording (while retention keeps it) on the dashboard."""
    parse_month(month)
    zone = zone or ZoneInfo("UTC")
    rows = session.execute(
        select(MisuseFlag, Case.number, Case.customer_name, Case.recording_url)
        .outerjoin(Case, Case.id == MisuseFlag.case_id)
        .where(MisuseFlag.month == month, MisuseFlag.kind == "fee")
        .order_by(MisuseFlag.flagged_at, MisuseFlag.id)
    ).all()
    notes = engineer_notes(session, (flag.case_id for flag, *_ in rows), zone)
    out = []
    for flag, number, customer_name, recording_url in rows:
        evidence = flag.evidence or {}
        out.append(
            MisuseRow(
                customer=flag.customer_key,
                customer_name=customer_name or flag.customer_key,
                case=number,
                date=flag.flagged_at.astimezone(zone).date().isoformat(),
                severity_claimed=flag.severity_claimed,
                severity_set=flag.severity_set,
                fee=flag.fee,
                currency=flag.currency,
                waived=flag.waived_at is not None,
                reason=flag.reason or "",
                waived_by=flag.waived_by or "",
                waive_reason=flag.waive_reason or "",
                notes=tuple(notes.get(flag.case_id or 0, ())),
                state=flag.state or ("waived" if flag.waived_at else "flagged"),
                menu_choice=str(evidence.get("menu_choice") or ""),
                recording=(
                    f"{public_url.rstrip('/')}/cases/{number}/recording"
                    if recording_url and number
                    else ""
                ),
                dispute_text=flag.dispute_text or "",
            )
        )
    return out


def engineer_notes(
    session: Session, case_ids: Iterable[int | None], zone: ZoneInfo
) -> dict[int, list[str]]:
    """Case id -> its engineers' notes, oldest first, each as ``HH:MM ZONE VERB (who): note``.

    The notes are the ones the timeline events carry in ``data.note``
    (:func:`oncall.cases.events.note_data`)."""
    ids = sorted({case_id for case_id in case_ids if case_id is not None})
    if not ids:
        return {}
    events = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id.in_(ids), CaseEvent.kind.in_(NOTE_KINDS))
        .order_by(CaseEvent.case_id, CaseEvent.at, CaseEvent.id)
    )
    notes: dict[int, list[str]] = {}
    for event in events:
        data = event.data or {}
        note = data.get("note")
        if not isinstance(note, str) or not note.strip():
            continue
        when = event.at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        verb = str(data.get("verb") or event.kind)
        notes.setdefault(event.case_id, []).append(f"{when} {verb} ({event.actor}): {note}")
    return notes


def misuse_csv(rows: list[MisuseRow]) -> str:
    """The rows as CSV, in :data:`CSV_COLUMNS` order, with a header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        data = row.to_dict()
        data["waived"] = "yes" if row.waived else "no"
        data["fee"] = f"{row.fee:.2f}"
        data["due"] = f"{row.due:.2f}"
        writer.writerow({key: _csv_safe(data[key]) for key in CSV_COLUMNS})
    return buffer.getvalue()


def _csv_safe(value: Any) -> Any:
    # A reason typed by a person lands in a spreadsheet: a leading = + - @ would run as a
    # formula there (CSV injection), so such text is prefixed with a quote.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
