"""The monthly contract statement as text (``oncall report contract``), CSV (``--csv``, one
row per case) and a self-contained HTML page (``--html``, to mail to the customer).

Every time is shown in the service's time zone with the zone named; durations as ``1h 05m``.
The CSV is opened in spreadsheets, so a cell never starts with a formula character.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from oncall.reports.clocks import format_seconds
from oncall.reports.contract import KIND_TITLES, Statement, StatementCase, TargetResult

CSV_COLUMNS = [
    "case",
    "opened",
    "severity",
    "channel",
    "state",
    "after_hours",
    "triage_target",
    "triage_due",
    "triage",
    "first_status_target",
    "first_status_due",
    "first_status",
    "updates_target",
    "updates",
    "resolution_target",
    "resolution_due",
    "resolution",
    "paused",
    "resolution_time",
    "fee",
    "currency",
    "fee_state",
]


def local(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if at else ""


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def target_text(target: TargetResult | None) -> str:
    """``met``, ``late 12m 00s``, ``2 missed``, ``pending``, or a dash (not applicable)."""
    if target is None:
        return "–"
    if target.kind == "updates":
        if target.met is None:
            return "–"
        return "met" if target.met else f"{target.missed} missed"
    if target.met is None:
        return "pending" if target.due_at is not None else "–"
    if target.met:
        return "met"
    late = format_seconds(target.late_seconds)
    return f"late {late}" if target.done_at else f"missed, {late} so far"


def target_length(target: TargetResult | None) -> str:
    if target is None or target.seconds is None:
        return ""
    business = " business" if target.clock == "business" else ""
    return f"{format_seconds(target.seconds)}{business}"


def fee_text(row: StatementCase) -> str:
    if row.fee is None:
        return ""
    return f"{row.fee:.2f} {row.currency} ({row.fee_state})"


def statement_text(statement: Statement) -> str:
    zone = ZoneInfo(statement.timezone)
    lines = [
        f"Contract statement for {statement.customer_name} ({statement.customer}, plan "
        f"{statement.plan or '–'}), {statement.month} ({statement.timezone})",
        f"  cases opened          {len(statement.cases)}",
    ]
    for total in statement.totals:
        lines.append(
            f"  {KIND_TITLES[total.kind].lower() + ' met':<21} {pct(total.pct)} "
            f"({total.met}/{total.measured})"
        )
    lines += [
        f"  MTTA                  median {format_seconds(statement.median_acknowledge_seconds)}"
        f", p90 {format_seconds(statement.p90_acknowledge_seconds)}",
        f"  MTTR                  median {format_seconds(statement.median_resolution_seconds)}"
        f", p90 {format_seconds(statement.p90_resolution_seconds)}",
        f"  after hours           {pct(statement.after_hours_pct)} "
        f"({statement.after_hours_cases}/{len(statement.cases)})",
    ]
    for currency, total in sorted(statement.fees_due.items()):
        lines.append(f"  fees due              {total:.2f} {currency}")
    for row in statement.cases:
        flags = " after hours" + (" (targets multiplied)" if row.multiplied else "")
        lines.append(
            f"  case {row.number}  {local(row.opened_at, zone)}  S{row.severity} {row.channel}  "
            f"{row.state}{flags if row.after_hours else ''}"
        )
        for target in row.targets:
            length = target_length(target)
            due = f" due {local(target.due_at, zone)}" if target.due_at else ""
            lines.append(
                f"      {KIND_TITLES[target.kind]:<13} {length:<16}{due}: {target_text(target)}"
            )
        lines.append(
            f"      paused {format_seconds(row.paused_seconds)}, resolved in "
            f"{format_seconds(row.resolution_seconds)}"
            + (f", fee {fee_text(row)}" if row.fee is not None else "")
        )
    return "\n".join(lines) + "\n"


def _safe(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def statement_csv(statement: Statement) -> str:
    zone = ZoneInfo(statement.timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in statement.cases:
        cells: list[object] = [
            row.number,
            local(row.opened_at, zone),
            f"S{row.severity}",
            row.channel,
            row.state,
            "yes" if row.after_hours else "no",
        ]
        for kind in ("triage", "first_status", "updates", "resolution"):
            target = row.target(kind)
            cells.append(target_length(target))
            if kind != "updates":
                cells.append(local(target.due_at, zone) if target else "")
            cells.append(target_text(target) if target else "")
        cells += [
            format_seconds(row.paused_seconds),
            format_seconds(row.resolution_seconds) if row.resolution_seconds is not None else "",
            f"{row.fee:.2f}" if row.fee is not None else "",
            row.currency or "",
            row.fee_state or "",
        ]
        writer.writerow([_safe(c) for c in cells])
    return out.getvalue()


def statement_html(statement: Statement) -> str:
    """A page that stands alone (no stylesheet to fetch), for mailing to the customer."""
    zone = ZoneInfo(statement.timezone)
    e = escape
    totals = "".join(
        f"<tr><th>{e(KIND_TITLES[t.kind])} met</th>"
        f"<td>{pct(t.pct)} ({t.met}/{t.measured})</td></tr>"
        for t in statement.totals
    )
    totals += (
        f"<tr><th>MTTA</th><td>median {format_seconds(statement.median_acknowledge_seconds)}, "
        f"p90 {format_seconds(statement.p90_acknowledge_seconds)}</td></tr>"
        f"<tr><th>MTTR</th><td>median {format_seconds(statement.median_resolution_seconds)}, "
        f"p90 {format_seconds(statement.p90_resolution_seconds)}</td></tr>"
        f"<tr><th>After hours</th><td>{pct(statement.after_hours_pct)} "
        f"({statement.after_hours_cases}/{len(statement.cases)})</td></tr>"
    )
    for currency, total in sorted(statement.fees_due.items()):
        totals += f"<tr><th>Fees due</th><td>{total:.2f} {e(currency)}</td></tr>"
    rows = []
    for row in statement.cases:
        cells = "".join(
            f"<td>{e(target_length(row.target(k)))}<br>{e(target_text(row.target(k)))}</td>"
            for k in ("triage", "first_status", "updates", "resolution")
        )
        rows.append(
            f"<tr><td>{row.number}</td><td>{e(local(row.opened_at, zone))}"
            f"{' (after hours)' if row.after_hours else ''}</td><td>S{row.severity}</td>"
            f"<td>{e(row.channel)}</td>{cells}<td>{format_seconds(row.paused_seconds)}</td>"
            f"<td>{format_seconds(row.resolution_seconds)}</td><td>{e(fee_text(row))}</td></tr>"
        )
    title = f"Contract statement: {statement.customer_name}, {statement.month}"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:.3em .6em;text-align:left;vertical-align:top}</style></head><body>"
        f"<h1>{e(title)}</h1><p>Plan {e(statement.plan or '–')}; times in "
        f"{e(statement.timezone)}. Cases opened: {len(statement.cases)}.</p>"
        f"<table>{totals}</table>"
        "<table><thead><tr><th>Case</th><th>Opened</th><th>Severity</th><th>Channel</th>"
        "<th>Triage</th><th>First status</th><th>Updates</th><th>Resolution</th>"
        "<th>Waiting for you</th><th>Resolution time</th><th>Fee</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>\n"
    )
