"""One request of a call, as every step of the phone line sees it: which webhook it is
(:class:`VoiceStep`), and the call's parameters with the live files and the session
(:class:`CallContext`), plus the small readers the steps share."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from oncall.cases.outbox import Reached, who_was_reached
from oncall.db.models import Case, VoiceCall
from oncall.domain.phones import parse_phone
from oncall.runtime import Runtime
from oncall.services import ivr
from oncall.services.ivr import Redirect, Reply, Speech, VoiceUrls
from oncall.sources.customers import Customer
from oncall.sources.voice_flows import VoiceFlow

log = logging.getLogger("oncall.intake")


@dataclass(frozen=True)
class VoiceStep:
    """Which webhook of the call this is: ``pin`` attempt 2, ``dial_result`` leg 1, ..."""

    name: str
    number: int | None = None  # PIN / menu attempt (from 1), or the dial leg (from 0)
    case_number: int | None = None  # whisper steps
    member: str | None = None  # whisper steps

    @property
    def key(self) -> str:
        parts = [self.name, self.number, self.case_number, self.member]
        return "/".join(str(p) for p in parts if p is not None)


@dataclass
class CallContext:
    """One request's view of the world: the call's parameters and the live files."""

    runtime: Runtime
    session: Session
    flow: VoiceFlow
    params: Mapping[str, str]
    call_sid: str
    now: datetime
    wake: bool = False
    urls: VoiceUrls = field(init=False)
    speech: Speech = field(init=False)

    def __post_init__(self) -> None:
        settings = self.runtime.settings
        self.urls = VoiceUrls(settings.public_url)
        values = {
            "company": settings.company,
            "regular_channels": self.flow.regular_channels.format(company=settings.company),
            "hours": ivr.describe_hours(settings.business_hours, settings.zone),
            "accept_digit": self.flow.accept_digit,
            # Given a value here so no prompt can ever meet a missing placeholder.
            "customer": "",
            "contact": "",
            "severity": "",
            "case_digits": "",
            "reason": "",
            "fee": "",
            "engineer": "",
            "status": "",
            "status_time": "",
            "eta": "",
            "next_update": "",
            "manager": "",
            "escalated_at": "",
            "email": spoken_address(settings.email.critical_address),
        }
        self.speech = Speech(values)

    @property
    def digits(self) -> str:
        return (self.params.get("Digits") or "").strip()

    @property
    def caller(self) -> str:
        """The caller's number as Twilio gave it (may be "anonymous" or empty)."""
        return (self.params.get("From") or self.params.get("Caller") or "").strip()

    def prompt(self, name: str, speech: Speech | None = None) -> str:
        return self.flow.prompt(name, (speech or self.speech).values)

    def customer(self, call: VoiceCall) -> Customer | None:
        if not call.customer_key:
            return None
        return self.runtime.directory().customers.get(call.customer_key)

    def goodbye_for_case(self, case: Case, usual: str = "paged") -> str:
        """The last words about ``case``: ``usual`` ("paged", or "join_not_connected" for a
        caller who joined it) only once an engineer was paged for it; until then the truth,
        "managers_alerted" (or "nobody_alerted" when not even a manager could be)."""
        told = {
            Reached.ENGINEER: usual,
            Reached.MANAGERS: "managers_alerted",
            Reached.NOBODY: "nobody_alerted",
        }[who_was_reached(self.session, case)]
        return self.prompt(told, self.for_case(case))

    def for_case(self, case: Case) -> Speech:
        return self.speech.with_(
            customer=case.customer_name,
            contact=case.contact_name or "",
            severity=case.severity,
            case_digits=ivr.spoken_digits(case.number),
        )


def load_call(ctx: CallContext, states: set[str] | None = None) -> VoiceCall | None:
    """The call's IVR state, locked for this request; None when it is not at ``states``."""
    call = ctx.session.get(VoiceCall, ctx.call_sid, with_for_update=True)
    if call is None or (states is not None and call.state not in states):
        log.warning(
            "voice request for a call in state %s (expected %s)",
            call.state if call else "unknown",
            ", ".join(sorted(states or ["any"])),
            extra={"call": ctx.call_sid},
        )
        return None
    call.updated_at = ctx.now
    return call


def start_over(ctx: CallContext) -> Reply:
    # A step arrived for a call we have no state for (or in another state): greet the caller
    # again rather than fail; the entry step knows what to do with a call that has a case.
    return (Redirect(ctx.urls.entry()),)


def spoken_address(address: str) -> str:
    """``critical@vendor.example`` as a voice reads it out: "critical at vendor dot example"."""
    local, _, domain = address.partition("@")
    if not domain:
        return address
    return f"{local.replace('.', ' dot ')} at {domain.replace('.', ' dot ')}"


def as_int(value: str | None) -> int | None:
    """A whole number Twilio sent (a duration), or None when it is missing or not one."""
    text = (value or "").strip()
    return int(text) if text.isdigit() else None


def phone_or_none(value: str | None, region: str) -> str | None:
    """The caller's number normalised, or None when it is withheld or not a number."""
    try:
        return parse_phone(value, region) if value else None
    except ValueError:  # "anonymous", "+266696687" (withheld) and other non-numbers
        return None
