"""The customer's side of a case, pure: what a mail's subject asks for (``[New]``,
``ESCALATE``), durations said the way people say them, the words of the auto-reply when an
email joins an open case, the duty manager's page when a customer escalates, and the first
name an engineer is shown to customers by.

No I/O, no clock: callers pass ``now`` and what they read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from oncall.domain.sla_clock import SlaClock

# "[New]" anywhere in the subject: the customer wants a separate case (any case, any spacing).
NEW_MARKER = re.compile(r"\[\s*new\s*\]", re.IGNORECASE)
# After any number of "Re:", "Fwd:" and "[Case N]" prefixes, the subject starts with ESCALATE.
_PREFIXES = re.compile(r"^(?:\s*(?:re|fwd?|aw|sv)\s*:|\s*\[case\s*#?\s*\d+\])+", re.IGNORECASE)
_ESCALATE = re.compile(r"^\W*escalate\b", re.IGNORECASE)
# A customer may escalate once per this long; later requests are recorded and acknowledged.
ESCALATION_WINDOW = timedelta(minutes=30)


def wants_new_case(subject: str) -> bool:
    return bool(NEW_MARKER.search(subject or ""))


def escalation_reason(subject: str, first_line: str) -> str | None:
    """The customer's reason when the subject (after Re:/[Case N]) or the first line of the
    new text starts with ESCALATE; None when neither does."""
    bare = _PREFIXES.sub("", subject or "").strip()
    for text in (bare, (first_line or "").strip()):
        match = _ESCALATE.match(text)
        if match:
            reason = text[match.end() :].strip(" :-–—\t")
            return reason
    return None


def describe_ago(delta: timedelta) -> str:
    """``12 minutes``, ``1 hour 5 minutes``, ``2 days 3 hours``: how long, in words."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return "less than a minute"
    minutes = seconds // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    said = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n]
    return " ".join(said[:2])


def first_name(name: str) -> str:
    """What customers see of an engineer: the first name only."""
    words = (name or "").split()
    return words[0] if words else ""


def joined_text(number: int, opened_ago: str, open_cases: Sequence[int]) -> str:
    """The auto-reply to an email that joined the customer's open case ``number``."""
    text = (
        f"We are already working on case {number}, opened {opened_ago} ago; your message was "
        f"added to it and passed to the engineer working on it."
    )
    others = sorted(n for n in open_cases if n != number)
    if others:
        listed = ", ".join(str(n) for n in sorted({number, *others}))
        text += (
            f"\n\nYou have {len(others) + 1} open cases ({listed}); your message was added to "
            f"the most recent one, case {number}."
        )
    return text + (
        f"\n\nTo add more, reply to this email and keep [Case {number}] in the subject. If this "
        f"is a different problem, write again with [New] in the subject to open a separate case."
    )


def clock_words(name: str, clock: SlaClock) -> str:
    """``triage met``, ``status due in 18 minutes``, ``status BREACHED 5 minutes ago``."""
    if clock.level == "met":
        return f"{name} met"
    if clock.level == "none" or clock.seconds_left is None:
        return f"{name} not running"
    span = describe_ago(timedelta(seconds=abs(clock.seconds_left)))
    if clock.level == "breached":
        return f"{name} BREACHED {span} ago"
    return f"{name} due in {span}"


def escalation_page(
    number: int,
    customer: str,
    severity: int,
    opened_at: datetime,
    now: datetime,
    clocks: Sequence[tuple[str, SlaClock]],
    reason: str,
    working: str,
) -> str:
    """The duty manager's SMS when a customer escalates a case."""
    said = reason.strip() or "no reason given"
    return (
        f"CUSTOMER ESCALATION case {number} {customer} S{severity}, open "
        f"{describe_ago(now - opened_at)}; {working}. "
        f"{'; '.join(clock_words(n, c) for n, c in clocks)}. Reason: {said}"
    )


def escalation_ack(number: int, alerted: str, paged: bool, first_at: str) -> str:
    """What the customer is told about their escalation."""
    if paged:
        return (
            f"Your escalation of case {number} has reached our duty manager, {alerted}, who "
            f"has been paged with your reason and will contact you."
        )
    return (
        f"Case {number} was already escalated to our duty manager, {alerted}, at {first_at}. "
        f"Your message has been added to the case and the manager can see it."
    )
