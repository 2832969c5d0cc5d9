"""The engineers' SMS conversation: one inbound SMS in, at most one reply out.

:func:`handle_sms` is idempotent on ``MessageSid``, silent to unknown numbers, authorises the
sender per case, parses the body (:mod:`oncall.domain.commands`) and dispatches the command
to a case action (:mod:`oncall.services.case_actions`), in one transaction it owns.

Rules decided here:

* **Who may act on a case**: whoever was paged for it (an outbox page, voice page, manager
  page or reminder to that number), or a member of its team's rota (live, or as snapshotted
  on the case). A bare command (no case number) acts on the sender's only open case; with
  several, the reply lists them (and offers ``ACK ALL``: :mod:`oncall.services.ack_all`).
* **WHO and TAKE** (:mod:`oncall.services.rota_sms`) are for members of a loaded team's rota;
  anyone else who is known (paged once) is told so, strangers learn nothing as always.
* **Error replies** (bad syntax, unknown or foreign case, ambiguous bare command) are capped
  at :data:`ERROR_REPLIES_PER_HOUR` per number per hour; after that the service stays silent
  (and logs), so a misbehaving phone or an auto-responder cannot start a loop.
* **Opt-out words** (``STOP``, ``START``, ...) get no reply from us: Twilio answers them.
* **A customer's words** by SMS (``REOPEN <case>``, the answer to an engineer's WAIT question)
  go to :mod:`oncall.services.customer_replies` first, from a contact's phone only.
* **A customer's answer** to the severity question of an email case, from the contact's phone
  the case was opened with, goes to :mod:`oncall.services.email_answers` and nowhere else: a
  customer gets no engineer command. An engineer whose phone is also such a contact's answers
  only with a bare menu answer (``1``, ``S2``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.cases.lookup import case_by_number
from oncall.cases.outbox import has_work_due
from oncall.db.models import Case, OutboundMessage, WebhookReceipt
from oncall.domain.commands import HELP_TEXT, Command, CommandError, Verb, parse_command
from oncall.domain.enums import OPEN_STATES, PAGING_PURPOSES
from oncall.domain.phones import parse_phone
from oncall.domain.severity_markers import parse_sms_answer
from oncall.domain.sms_text import to_gsm7, truncate_words
from oncall.runtime import Runtime
from oncall.services.ack_all import acknowledge_all
from oncall.services.case_actions import acknowledge, post_status, resolve, set_severity
from oncall.services.customer_replies import on_customer_sms
from oncall.services.email_answers import answer_by_sms, waiting_for_answer
from oncall.services.escalate_case import escalate_case
from oncall.services.receipts import Repeat, act_once
from oncall.services.rota_sms import take_shift, who_reply
from oncall.services.waiting import wait_for_customer

log = logging.getLogger("oncall.commands")

ERROR_REPLIES_PER_HOUR = 3
# Twilio answers these itself (Advanced Opt-Out); a reply from us would only fail with 21610.
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
    | {"START", "YES", "UNSTOP"}  # opting back in: Twilio answers those too
)


@dataclass
class _Sender:
    """Who an SMS comes from, as far as the rotas and the outbox know."""

    phone: str
    teams: dict[str, str] = field(default_factory=dict)  # team key -> member key (live rotas)
    paged: dict[int, str] = field(default_factory=dict)  # case id -> member key (outbox)

    @property
    def known(self) -> bool:
        return bool(self.teams or self.paged)

    def snapshot_key(self, case: Case) -> str | None:
        for key, member in ((case.escalation or {}).get("members") or {}).items():
            if isinstance(member, dict) and member.get("phone") == self.phone:
                return key
        return None

    def member_key(self, case: Case) -> str | None:
        return self.paged.get(case.id) or self.teams.get(case.team) or self.snapshot_key(case)

    def may_act(self, case: Case) -> bool:
        return self.member_key(case) is not None


def _identify(session: Session, runtime: Runtime, phone: str) -> _Sender:
    sender = _Sender(phone)
    for team in runtime.rotas.teams().values():
        for member in team.members.values():
            if member.phone == phone:
                sender.teams[team.key] = member.key
    rows = session.execute(
        select(OutboundMessage.case_id, OutboundMessage.recipient)
        .where(
            OutboundMessage.to_address == phone,
            OutboundMessage.purpose.in_(PAGING_PURPOSES),
            OutboundMessage.case_id.is_not(None),
            OutboundMessage.recipient != "",
            OutboundMessage.recipient != "customer",
        )
        .order_by(OutboundMessage.id)
    ).all()
    for case_id, recipient in rows:
        sender.paged.setdefault(case_id, recipient)
    return sender


def _open_cases(session: Session, sender: _Sender) -> list[Case]:
    cases = session.scalars(
        select(Case).where(Case.state.in_(OPEN_STATES)).order_by(Case.opened_at, Case.id)
    )
    return [case for case in cases if sender.may_act(case)]


def handle_sms(
    runtime: Runtime, *, from_number: str, body: str, message_sid: str, now: datetime
) -> str | None:
    """Handle one inbound SMS; returns the reply text, or None for no reply.

    Acts once per ``MessageSid``: a retried webhook gets the first reply again and changes
    nothing. Unknown numbers (in no loaded rota, never paged) get nothing and are only logged.
    """

    def converse(session: Session) -> tuple[str | None, bool]:
        reply = _conversation(session, runtime, from_number, body, message_sid, now)
        return reply, has_work_due(session)

    result = act_once(runtime, f"sms:{message_sid}", now, converse, lambda done: done[0] or "")
    if isinstance(result, Repeat):
        log.info("SMS %s already handled; repeating its reply", message_sid)
        return result.response or None
    reply, queued = result
    if queued:
        runtime.wake_sender()
    return reply


def _conversation(
    session: Session, runtime: Runtime, from_number: str, body: str, sid: str, now: datetime
) -> str | None:
    try:
        phone = parse_phone(from_number, runtime.settings.phone_region)
    except ValueError:
        log.info("SMS from %r (not a phone number) ignored", from_number)
        return None
    sender = _identify(session, runtime, phone)
    waiting = waiting_for_answer(session, phone, now)
    if body.strip().upper().rstrip(".!") not in OPT_OUT_WORDS:
        # A customer's REOPEN or answer to a WAIT question: oncall.services.customer_replies.
        said = on_customer_sms(
            session,
            runtime,
            phone,
            body,
            f"sms:{sid}",
            now,
            engineer=sender.known,
            asked=bool(waiting),
        )
        if said is not None:
            return said
    if not sender.known and not waiting:
        log.info("SMS from unknown number %s ignored", phone)
        return None
    if body.strip().upper().rstrip(".!") in OPT_OUT_WORDS:
        log.warning(
            "%s sent %r: Twilio handles opt-outs; while opted out their pages fall back to "
            "voice calls",
            phone,
            body.strip(),
        )
        return None
    if waiting and (not sender.known or parse_sms_answer(body) is not None):
        reply, is_error = answer_by_sms(session, runtime, waiting, body, now)
    else:
        reply, is_error = _command_reply(session, runtime, sender, body, now)
    if not is_error or reply is None:
        return reply
    return _capped_error_reply(session, phone, sid, reply, now)


def _capped_error_reply(
    session: Session, phone: str, sid: str, reply: str, now: datetime
) -> str | None:
    """The error reply, unless ``phone`` already had its share of them this past hour."""
    since = now - timedelta(hours=1)
    recent = session.scalar(
        select(func.count())
        .select_from(WebhookReceipt)
        .where(WebhookReceipt.key.like(f"sms-error:{phone}:%"), WebhookReceipt.received_at > since)
    )
    if (recent or 0) >= ERROR_REPLIES_PER_HOUR:
        log.warning("error reply to %s suppressed (cap reached): %s", phone, reply)
        return None
    session.add(WebhookReceipt(key=f"sms-error:{phone}:{sid}", received_at=now, response=reply))
    return reply


def _command_reply(
    session: Session, runtime: Runtime, sender: _Sender, body: str, now: datetime
) -> tuple[str | None, bool]:
    """``(reply, is_error)``."""
    command = parse_command(body)
    if isinstance(command, CommandError):
        return command.message, True
    if command.verb is Verb.HELP:
        return HELP_TEXT, False
    if command.verb in (Verb.WHO, Verb.TAKE):
        return _rota_reply(session, runtime, sender, command, now)
    if command.all_cases:
        return acknowledge_all(session, runtime, sender.phone, now), False
    if command.case_number is not None:
        case = case_by_number(session, command.case_number)
        if case is None:
            return f"No case {command.case_number}. Check the number in the page.", True
        if not sender.may_act(case):
            log.warning(
                "%s tried %s on case %s: not paged for it and not on team %s",
                sender.phone,
                command.verb,
                case.number,
                case.team,
            )
            return f"Case {case.number} is not yours: you were not paged for it.", True
    else:
        cases = _open_cases(session, sender)
        if not cases:
            return "You have no open cases. Add the case number, e.g. ACK 1042.", True
        if len(cases) > 1:
            listed = ", ".join(
                f"{c.number} {truncate_words(to_gsm7(c.customer_name), 12)} S{c.severity}"
                for c in cases[:5]
            )
            more = f" +{len(cases) - 5} more" if len(cases) > 5 else ""
            either = " or ACK ALL" if command.verb is Verb.ACK else ""
            return (
                f"Which case? Open: {listed}{more}. Reply e.g. {command.verb} {cases[0].number}"
                f"{either}",
                True,
            )
        case = cases[0]
    member_key = sender.member_key(case)
    assert member_key is not None
    return _dispatch(session, runtime, case, member_key, command, now), False


def _dispatch(
    session: Session, runtime: Runtime, case: Case, member_key: str, command: Command, now: datetime
) -> str:
    if command.verb is Verb.ACK:
        return acknowledge(session, runtime, case, member_key, now, via="sms", note=command.text)
    if command.verb is Verb.STATUS:
        return post_status(session, runtime, case, member_key, command.text, now)
    if command.verb is Verb.RESOLVE:
        return resolve(session, runtime, case, member_key, command.text, now)
    if command.verb is Verb.SEV:
        assert command.severity is not None
        return set_severity(
            session, runtime, case, member_key, command.severity, now, note=command.text
        )
    if command.verb is Verb.ESC:
        return escalate_case(session, runtime, case, member_key, now, note=command.text)
    if command.verb is Verb.WAIT:
        return wait_for_customer(session, runtime, case, member_key, command.text, now)
    return HELP_TEXT


def _rota_reply(
    session: Session, runtime: Runtime, sender: _Sender, command: Command, now: datetime
) -> tuple[str | None, bool]:
    """WHO and TAKE: rota members only."""
    if not sender.teams:
        log.info("%s sent %s but is on no loaded rota", sender.phone, command.verb)
        return f"{command.verb} is for members of a team's rota.", True
    if command.verb is Verb.WHO:
        return who_reply(session, runtime, sender.teams, command.team, now), False
    assert command.take is not None
    return take_shift(session, runtime, sender.teams, command.take, now), False
