"""What the critical address tells a customer by email and SMS: the case it opened, and, when
the severity of their mail is unclear, the severity menu (as the phone line asks it), what
their answer did, and what happened when no answer came. Pure texts; the callers fill in the
settings and the times (already written in the company's zone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from oncall.domain.sms_text import to_gsm7, truncate_words

#: The menu in words (issue 16), the same by email and SMS.
MENU = (
    "Reply 1 if a production system is down for all users and there is no workaround; 2 if an "
    "important function is unavailable and there is no workaround; 3 for anything else, which "
    "our regular support handles."
)
SMS_LIMIT = 306  # two SMS segments at most


@dataclass(frozen=True)
class Line:
    """The facts every text needs: who we are and where the customer can go."""

    company: str
    critical_line: str  # the phone number of the critical line ("" if none)
    forward_to: str  # the regular support queue's address
    triage: timedelta  # sla.triage, or the case's own (its plan's) target
    first_status: timedelta  # sla.first_status, or the case's own target
    business_hours: bool = False  # the case's targets count only in its support hours

    def call_us(self) -> str:
        return self.critical_line or "see your support contract"


def human(delta: timedelta) -> str:
    """A target as a customer reads it: "the hour", "15 minutes"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes and minutes % 60 == 0:
        hours = minutes // 60
        return "the hour" if hours == 1 else f"{hours} hours"
    if minutes:
        return f"{minutes} minutes"
    return f"{int(delta.total_seconds())} seconds"


def who_has_it(reached: str, triage: timedelta) -> str:
    """What happens next, as it happened: "the on-call engineer has been paged" only when a
    page to a person was queued (``reached`` is ``engineer``, ``managers`` or ``nobody``)."""
    if reached == "engineer":
        return (
            f"the on-call engineer has been paged and will take charge of the case within "
            f"{human(triage)}."
        )
    # Nobody could be paged (no rota for the team, or nobody on call right now): the managers
    # were alerted at once instead, and that is what the customer is told.
    if reached == "managers":
        return (
            "your case is open and our support managers have been alerted; they will see that "
            "an engineer takes charge of it as soon as possible."
        )
    return (
        "your case is open, but we could not reach an engineer or a manager just now. It has "
        "been passed to our support team by email; please also contact us through the "
        "regular support channels."
    )


def opened_text(
    line: Line, number: int, severity: int, status_by: str, how: str = "", reached: str = ""
) -> str:
    """A critical case opened: its number and what happens next (who was reached: see
    :func:`who_has_it`). ``how`` says why now, for a case that was asked first ("You answered
    1 at 03:04.")."""
    by = f" (by {status_by})" if status_by else ""
    first = f"{how} " if how else ""
    return (
        f"{first}Your message opened critical case {number} (severity {severity}) with "
        f"{line.company}.\n\n"
        f"What happens next: {who_has_it(reached, line.triage)} You will receive a status "
        f"update with an estimated time to resolution within {human(line.first_status)}"
        f"{' counted in business hours' if line.business_hours else ''}{by}, "
        f"then regular updates until it is resolved.\n\n"
        f"To add information, reply to this email and keep [Case {number}] in the subject. If "
        f"things get worse, call the critical line: {line.call_us()}."
    )


def question_email(line: Line, number: int, until: str, pages_anyway: bool, sms: bool) -> str:
    """The severity menu by email, with what happens if no answer comes by ``until``."""
    text_it = f", or text it to {line.critical_line}" if sms and line.critical_line else ""
    if pages_anyway:
        silence = (
            "we will page the on-call engineer anyway, as your message suggests an urgent problem"
        )
    else:
        silence = (
            f"your message will go to our regular support queue ({line.forward_to}), which "
            "will contact you during business hours"
        )
    return (
        f"Thank you. Your message to the {line.company} critical support line is case "
        f"{number}.\n\n"
        f"The critical line wakes an on-call engineer for Severity 1 and 2 issues, and we could "
        f"not tell from your message which this is. {MENU}\n\n"
        f"Put the number on the first line of your reply{text_it}. 1 or 2 pages the on-call "
        f"engineer at once; choosing 1 or 2 for an issue that is neither may incur the critical "
        f"line's fee.\n\n"
        f"If we have no answer by {until}, {silence}. To talk to someone now, call the critical "
        f"line: {line.call_us()}."
    )


def question_sms(line: Line, number: int, until: str, pages_anyway: bool) -> str:
    then = "we page the on-call engineer" if pages_anyway else "regular support takes it"
    text = (
        f"{line.company} case {number}: how severe is it? Reply 1 production down for all "
        f"users, no workaround; 2 important function unavailable, no workaround; 3 anything "
        f"else (regular support). No reply by {until}: {then}."
    )
    return truncate_words(to_gsm7(text), SMS_LIMIT)


def forwarded_text(line: Line, number: int, answer: int, when: str) -> str:
    """The customer answered 3 (or 4): the regular queue takes it, no fee."""
    return (
        f"Thank you. You answered {answer} at {when}: case {number} is not for the critical "
        f"line, so no engineer is woken and no fee applies. It has been forwarded to our "
        f"regular support queue ({line.forward_to}), which will contact you during business "
        f"hours. You do not need to write again."
    )


def unanswered_forwarded_text(line: Line, number: int, until: str, sms: bool) -> str:
    """No answer by ``until``, and nothing in the mail leaned critical."""
    text_it = f" (or text it to {line.critical_line})" if sms and line.critical_line else ""
    return (
        f"We did not hear back about case {number} by {until}. As your message did not "
        f"describe a production system down or an important function unavailable, it has gone "
        f"to our regular support queue ({line.forward_to}), which will contact you during "
        f"business hours. No fee applies.\n\n"
        f"If it is critical after all, reply 1 or 2 to this email{text_it}, or call the critical "
        f"line: {line.call_us()}."
    )


def unanswered_paged_how(until: str) -> str:
    """Why a case nobody confirmed was paged (the start of its opened text)."""
    return (
        f"We did not hear back by {until}. Because your message suggests a critical problem, "
        f"we did not wait any longer; as we chose the severity, no fee applies if it turns out "
        f"not to be critical."
    )


def sms_reply(number: int, severity: int | None, paged: bool, line: Line) -> str:
    """What an SMS answer gets back."""
    if severity is None:
        text = f"Please reply 1, 2 or 3 for case {number}. {MENU}"
    elif paged:
        text = (
            f"Thank you. Case {number} is critical (S{severity}): the on-call engineer has "
            f"been paged and will take charge within {human(line.triage)}."
        )
    else:
        text = (
            f"Thank you. Case {number} goes to our regular support queue: no engineer is woken "
            f"and no fee applies."
        )
    return truncate_words(to_gsm7(text), SMS_LIMIT)
