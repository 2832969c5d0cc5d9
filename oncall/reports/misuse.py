"""The monthly misuse report: the billing export of the fees flagged in a month.

Its rows are the month's fee flags (``MisuseFlag.month``, written in the service's time zone
when the case was flagged), waived or not; review flags (no fee) are not billed and left out.
The CSV is what billing imports, so a text a person typed cannot run as a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import Case, MisuseFlag
from oncall.reports.months import parse_month


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

    @property
    def due(self) -> float:
        return 0.0 if self.waived else self.fee

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["due"] = self.due
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
]


def misuse_report(session: Session, month: str, zone: ZoneInfo | None = None) -> list[MisuseRow]:
    """The month's misuse fee flags, waived or not, oldest first."""
    parse_month(month)
    zone = zone or ZoneInfo("UTC")
    rows = session.execute(
        select(MisuseFlag, Case.number, Case.customer_name)
        .outerjoin(Case, Case.id == MisuseFlag.case_id)
        .where(MisuseFlag.month == month, MisuseFlag.kind == "fee")
        .order_by(MisuseFlag.flagged_at, MisuseFlag.id)
    )
    out = []
    for flag, number, customer_name in rows:
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
            )
        )
    return out


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
