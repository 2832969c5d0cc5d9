"""Severities: which ones the critical line is for (S1 and S2), and what a customer's email says
about its own: a severity the customer states, one the phrase rules make clear, or doubt, to be
settled by asking the customer (see :func:`classify_severity`).

The rules are data (:mod:`oncall.domain.severity_rules`); reading a mail with them is
:mod:`oncall.domain.severity_context`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from oncall.domain.severity_context import DISCOUNTING, UNSURE, Context, Hit, Reading, read
from oncall.domain.severity_rules import DEFAULT_SEVERITY_RULES, SeverityRules

__all__ = [
    "CRITICAL_SEVERITIES",
    "DEFAULT_SEVERITY_RULES",
    "LOW_PHRASE_SEVERITY",
    "Decision",
    "SeverityRules",
    "SeverityVerdict",
    "classify_severity",
    "is_critical",
]

CRITICAL_SEVERITIES = (1, 2)
LOW_PHRASE_SEVERITY = 3
NOTHING_FOUND = "no severity marker or critical phrase found"


def is_critical(severity: int | None) -> bool:
    """S1 and S2 alone are entitled to the critical line."""
    return severity in CRITICAL_SEVERITIES


class Decision(StrEnum):
    """What the email intake does with a mail from a contact the line covers."""

    PAGE = "page"  # S1/S2: open the case, page at once
    ASK = "ask"  # unclear: ask the customer, severity menu by email (and SMS)
    NOT_CRITICAL = "not_critical"  # S3/S4: refuse politely, forward to the regular queue


_WHY = {
    Context.NEGATED: "negated",
    Context.RESOLVED: "about a resolved incident",
    Context.POLICY: "in policy talk",
    Context.NON_PRODUCTION: "outside production",
    Context.MAINTENANCE: "about planned maintenance",
    Context.CONDITIONAL: "in a condition",
    Context.PAST: "about a past incident",
    Context.DOUBT: "in doubt",
    Context.QUESTION: "in a question",
    Context.THREAD: "in the subject of a reply",
}


_TALK = {
    Context.RESOLVED: "talk of a resolved incident",
    Context.MAINTENANCE: "talk of planned maintenance",
    Context.POLICY: "policy talk",
}


@dataclass(frozen=True)
class SeverityVerdict:
    """What a mail says about its severity.

    Verdicts compare by ``severity`` and ``reason``; the reason names the marker or phrase the
    verdict rests on, and so where ``stated`` and ``lean`` come from.
    """

    severity: int | None  # 1-4; None when unclear (ask the customer)
    reason: str  # e.g. 'subject marker "Sev 1"', 'phrase "data loss"'
    stated: bool = field(default=False, compare=False)  # written by the customer (a marker)
    lean: int | None = field(default=None, compare=False)  # unclear, leaning to S1/S2

    @property
    def critical(self) -> bool:
        """S1 and S2 alone are entitled to the critical line."""
        return is_critical(self.severity)

    @property
    def decision(self) -> Decision:
        if self.severity is None:
            return Decision.ASK
        return Decision.PAGE if self.critical else Decision.NOT_CRITICAL


def classify_severity(
    subject: str | None, text: str | None, rules: SeverityRules = DEFAULT_SEVERITY_RULES
) -> SeverityVerdict:
    """The severity a mail states or makes clear, else doubt with the way it leans.

    1. **Stated**: a marker (``S1``, ``Sev 2``, ``P1``, ``Priority 1``, ``Level 2``, ``[S3]``
       ...) in the subject or the body's first line, said as a fact. The subject beats the body;
       several in one place: the most severe (refusing a real S1 is the worse mistake).
    2. **Clear**: an S1/S2 phrase said of the present ("production is down"), or a symptom with
       its reach in one sentence ("checkout is broken for every customer"): the most severe.
    3. **Leaning**: a symptom ("not working"), a critical phrase or marker in a question or in
       doubt, a marker further down the body: severity None, ``lean`` set unless a low phrase
       or a negated critical one says otherwise.
    4. **Not critical** (3): a low phrase ("not urgent"), or critical words said only of
       something else: negated, a past or resolved incident, policy talk, planned maintenance,
       a condition, a system outside production.
    5. **Urgency** alone ("URGENT", "dringend", "緊急"): leaning.
    6. Nothing: severity None.

    Quoted history, signatures and footers never count.
    """
    reading = read(subject, text, rules)
    hits = reading.hits
    stated = _stated(reading)
    if stated is not None:
        return stated
    clear = _clear(reading)
    if clear is not None:
        return clear
    denied = [h for h in hits if _denies(h)]
    # A reply's subject neither pages nor refuses: the thread's topic, not this message.
    discounted = [
        h
        for h in hits
        if (h.critical_kind or h.kind == "cue")
        and h.context in DISCOUNTING
        and h.context is not Context.THREAD
    ]
    leaning = [h for h in hits if _leans(h)]
    broken_now = any(h.kind == "symptom" and h.context is Context.AFFIRMED for h in leaning)
    if leaning and (broken_now or not denied):
        # Something broken now, and a low phrase too ("not urgent, but exports fail"): ask,
        # leaning nowhere. Only doubt and a low phrase ("quick question, is it down?"): not
        # critical.
        lean = None if denied else min(_lean_severity(h) for h in leaning)
        return SeverityVerdict(None, _describe(leaning[0], "leaning "), lean=lean)
    if denied or discounted:
        # A phrase explains best; a cue alone ("policy") next.
        shown = sorted(denied or discounted, key=lambda h: h.kind == "cue")[0]
        return SeverityVerdict(LOW_PHRASE_SEVERITY, _describe(shown))
    urgent = [h for h in hits if h.kind == "urgency" and h.context not in DISCOUNTING]
    if urgent:
        return SeverityVerdict(None, f'urgency "{urgent[0].phrase}"', lean=2)
    return SeverityVerdict(None, NOTHING_FOUND)


def _stated(reading: Reading) -> SeverityVerdict | None:
    """The customer's own marker: the subject's, else the first line's; the most severe."""
    for where in ("subject", "body"):
        markers = [
            h
            for h in reading.hits
            if h.kind == "marker"
            and h.opening
            and h.context is Context.AFFIRMED
            and h.where == where
        ]
        if markers:
            best = min(markers, key=lambda h: h.severity or 4)
            return SeverityVerdict(best.severity, f'{where} marker "{best.phrase}"', stated=True)
    return None


def _clear(reading: Reading) -> SeverityVerdict | None:
    """The most severe S1/S2 phrase said of the present, or a symptom with its reach."""
    found: list[tuple[int, str]] = []
    for hit in reading.hits:
        if hit.context is not Context.AFFIRMED:
            continue
        if hit.kind in ("S1", "S2"):
            found.append((1 if hit.kind == "S1" else 2, f'phrase "{hit.phrase}"'))
        elif hit.kind == "symptom":
            reach = next(
                (
                    h
                    for h in reading.hits
                    if h.kind == "impact"
                    and h.sentence == hit.sentence
                    and h.context is Context.AFFIRMED
                ),
                None,
            )
            if reach is not None:
                found.append((1, f'phrases "{hit.phrase}" + "{reach.phrase}"'))
    if not found:
        return None
    severity, reason = min(found, key=lambda item: item[0])
    return SeverityVerdict(severity, reason)


def _denies(hit: Hit) -> bool:
    """Says the mail is not critical: a low phrase or marker, a negated critical phrase."""
    if hit.kind == "low":
        return hit.context not in (Context.NEGATED, Context.THREAD)
    if hit.kind == "marker" and (hit.severity or 0) >= 3:
        return hit.context is Context.AFFIRMED
    return hit.critical_kind and hit.context is Context.NEGATED


def _leans(hit: Hit) -> bool:
    """Leans critical: a symptom now, a critical phrase or marker in doubt, a marker below the
    first line."""
    if not hit.critical_kind:
        return False
    if hit.context in UNSURE:
        return True
    return hit.context is Context.AFFIRMED and hit.kind in ("symptom", "marker")


def _lean_severity(hit: Hit) -> int:
    if hit.kind == "marker":
        return hit.severity or 2
    return 1 if hit.kind == "S1" else 2


def _describe(hit: Hit, prefix: str = "") -> str:
    if hit.kind == "cue":
        return f'{_TALK[hit.context]} ("{hit.cue}"), no critical phrase'
    what = (
        f'{hit.where} marker "{hit.phrase}"' if hit.kind == "marker" else f'phrase "{hit.phrase}"'
    )
    if hit.context is Context.AFFIRMED:
        where = " below the first line" if hit.kind == "marker" else ""
        return f"{prefix}{what}{where}"
    cue = f' ("{hit.cue}")' if hit.cue and hit.cue != "?" else ""
    return f"{what} {_WHY[hit.context]}{cue}"
