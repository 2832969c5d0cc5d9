"""The IVR's decisions, pure: what the caller hears next and what the keys they pressed mean.

Nothing here touches Flask, the database or a clock. The phone intake
(:mod:`oncall.services.phone_intake` and the step modules it dispatches to) gathers the facts
(who is calling, whether their plan covers this hour, whether they already have an open case),
asks the functions below what they mean, applies the effects in one transaction, and renders
the reply with :func:`to_twiml`.

A reply is a tuple of verbs (:class:`Say`, :class:`Gather`, :class:`Record`, :class:`Dial`,
:class:`Redirect`, :class:`Hangup`), mirroring TwiML one to one, so tests can assert on
decisions without parsing XML and the rendering stays in one place.

Why every ``<Gather>`` is followed by a ``<Redirect>`` to its own action URL: when the caller
presses nothing, Twilio does not call the action but carries on with the next verb; the
redirect turns silence into an explicit "no input" request at the same step, so silence is
counted like a wrong key and the retries stay bounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from twilio.twiml.voice_response import Dial as TwimlDial
from twilio.twiml.voice_response import Gather as TwimlGather
from twilio.twiml.voice_response import VoiceResponse

from oncall.domain.eligibility import BusinessHours
from oncall.sources.voice_flows import VoiceFlow

# -- verbs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Gather:
    action: str
    timeout: int
    say: tuple[str, ...]
    num_digits: int | None = None  # None: the caller ends with finish_on_key
    finish_on_key: str = "#"


@dataclass(frozen=True)
class Record:
    action: str
    max_length: int
    timeout: int
    status_callback: str


@dataclass(frozen=True)
class Dial:
    action: str
    number: str
    whisper_url: str
    caller_id: str
    timeout: int


@dataclass(frozen=True)
class Redirect:
    url: str


@dataclass(frozen=True)
class Hangup:
    pass


Verb = Say | Gather | Record | Dial | Redirect | Hangup
Reply = tuple[Verb, ...]


def to_twiml(reply: Sequence[Verb], flow: VoiceFlow | None) -> str:
    """Render a reply with the twilio SDK (an empty reply bridges a whispered call)."""
    voice = flow.voice if flow is not None else None
    language = flow.language if flow is not None else None
    response = VoiceResponse()
    for verb in reply:
        if isinstance(verb, Say):
            if verb.text:
                response.say(verb.text, voice=voice, language=language)
        elif isinstance(verb, Gather):
            gather = TwimlGather(
                action=verb.action,
                method="POST",
                timeout=verb.timeout,
                num_digits=verb.num_digits,
                finish_on_key=verb.finish_on_key if verb.num_digits is None else None,
                input="dtmf",
            )
            for text in verb.say:
                if text:
                    gather.say(text, voice=voice, language=language)
            response.append(gather)
        elif isinstance(verb, Record):
            response.record(
                action=verb.action,
                method="POST",
                timeout=verb.timeout,
                max_length=verb.max_length,
                finish_on_key="#",
                play_beep=True,
                trim="trim-silence",
                recording_status_callback=verb.status_callback,
                recording_status_callback_method="POST",
            )
        elif isinstance(verb, Dial):
            dial = TwimlDial(
                action=verb.action,
                method="POST",
                timeout=verb.timeout,
                caller_id=verb.caller_id or None,
            )
            dial.number(verb.number, url=verb.whisper_url, method="POST")
            response.append(dial)
        elif isinstance(verb, Redirect):
            response.redirect(verb.url, method="POST")
        elif isinstance(verb, Hangup):
            response.hangup()
    return str(response)


# -- where Twilio comes back to ---------------------------------------------------------------

ENTRY_PATH = "/twilio/voice"


@dataclass(frozen=True)
class VoiceUrls:
    """Absolute callback URLs under the configured public URL (signatures are checked
    against it). The attempt or leg number is part of the path, so a retried request is
    recognisably the same step while the next attempt is a new one."""

    base: str  # settings.public_url

    def entry(self) -> str:
        return self.base + ENTRY_PATH

    def pin(self, attempt: int) -> str:
        return f"{self.base}{ENTRY_PATH}/pin/{attempt}"

    def menu(self, attempt: int) -> str:
        return f"{self.base}{ENTRY_PATH}/menu/{attempt}"

    def recorded(self) -> str:
        return f"{self.base}{ENTRY_PATH}/recorded"

    def recording_status(self) -> str:
        return f"{self.base}{ENTRY_PATH}/recording-status"

    def dial_result(self, leg: int) -> str:
        return f"{self.base}{ENTRY_PATH}/dial-result/{leg}"

    def whisper(self, case_number: int, member: str) -> str:
        return f"{self.base}{ENTRY_PATH}/whisper/{case_number}/{quote(member, safe='')}"

    def whisper_result(self, case_number: int, member: str) -> str:
        return f"{self.base}{ENTRY_PATH}/whisper-result/{case_number}/{quote(member, safe='')}"


# -- what callers hear about numbers, hours and fees -----------------------------------------

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CURRENCY_WORDS = {
    "USD": "US dollars",
    "CAD": "Canadian dollars",
    "EUR": "euros",
    "GBP": "pounds sterling",
    "AUD": "Australian dollars",
}


def spoken_digits(number: int | str) -> str:
    """``1042`` → ``"1 0 4 2"``: text-to-speech reads it digit by digit, as a case number
    must be heard (and written down) by someone on a bad line."""
    return " ".join(str(number))


def describe_hours(hours: BusinessHours, zone: ZoneInfo) -> str:
    """``Monday to Friday, 9 AM to 5 PM Toronto time``."""
    days = sorted(set(hours.days))
    if not days:
        return "by appointment"
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        day_text = f"{DAY_NAMES[days[0]]} to {DAY_NAMES[days[-1]]}"
    elif len(days) == 1:
        day_text = DAY_NAMES[days[0]]
    else:
        names = [DAY_NAMES[d] for d in days]
        day_text = ", ".join(names[:-1]) + " and " + names[-1]
    place = str(zone.key).rsplit("/", 1)[-1].replace("_", " ")
    return f"{day_text}, {_clock(hours.start)} to {_clock(hours.end)} {place} time"


def _clock(value: Any) -> str:
    if value.hour == 23 and value.minute == 59:
        return "midnight"
    hour = value.hour % 12 or 12
    suffix = "AM" if value.hour < 12 else "PM"
    return f"{hour} {suffix}" if value.minute == 0 else f"{hour}:{value.minute:02d} {suffix}"


def describe_fee(amount: float, currency: str) -> str:
    number = f"{amount:.0f}" if amount == int(amount) else f"{amount:.2f}"
    return f"{number} {CURRENCY_WORDS.get(currency, currency)}"


# -- decisions ---------------------------------------------------------------------------------


class PinOutcome(StrEnum):
    VERIFIED = "verified"
    RETRY = "retry"
    GIVE_UP = "give_up"


def pin_outcome(attempt: int, tries: int, matched: bool) -> PinOutcome:
    """``attempt`` counts from 1; after ``tries`` wrong or silent attempts the caller hears a
    goodbye (and the refusal is recorded)."""
    if matched:
        return PinOutcome.VERIFIED
    return PinOutcome.GIVE_UP if attempt >= tries else PinOutcome.RETRY


def pin_refusal_reason(wrong_pins_keyed: int) -> str:
    """A caller who keyed PINs that were wrong differs from one who never keyed anything."""
    return "bad_pin" if wrong_pins_keyed else "unknown_caller"


class MenuOutcome(StrEnum):
    CRITICAL = "critical"  # S1 or S2: record a description, open a case
    NON_CRITICAL = "non_critical"  # refused politely with the regular channels and the fee
    RETRY = "retry"
    GIVE_UP = "give_up"


@dataclass(frozen=True)
class MenuDecision:
    outcome: MenuOutcome
    severity: int | None = None
    invalid_key: bool = False  # a key was pressed that is not a choice (vs. silence)


def menu_decision(flow: VoiceFlow, attempt: int, digits: str) -> MenuDecision:
    if digits in flow.menu:
        severity = flow.menu[digits]
        if severity is None:
            return MenuDecision(MenuOutcome.NON_CRITICAL)
        return MenuDecision(MenuOutcome.CRITICAL, severity)
    outcome = MenuOutcome.GIVE_UP if attempt >= flow.menu_tries else MenuOutcome.RETRY
    return MenuDecision(outcome, invalid_key=bool(digits))


ANSWERED_STATUSES = frozenset({"completed", "answered"})


def dial_answered(status: str, bridged: str | None, accepted: bool) -> bool:
    """Whether the engineer took the call.

    Twilio reports ``completed`` even when the callee's voicemail picked up and our whisper
    hung up on it, so the status alone proves nothing: the call counts as answered only when
    it was bridged (``DialBridged=true``). Without ``DialBridged`` (older accounts) the
    whisper's own record decides: the engineer pressed the accept key on this leg.
    """
    if status.strip().lower() not in ANSWERED_STATUSES:
        return False
    if bridged is not None and bridged.strip() != "":
        return bridged.strip().lower() == "true"
    return accepted


# -- who to ring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    phone: str
    level: int

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "phone": self.phone, "level": self.level}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Person:
        return cls(
            str(data["key"]),
            str(data.get("name", "")),
            str(data["phone"]),
            int(data.get("level", 0)),
        )


def dial_plan(levels: Sequence[Sequence[Any]], max_calls: int) -> list[Person]:
    """People to ring in order: each level's members (anything with ``key``, ``name`` and
    ``phone``), nobody twice, nobody without a phone, at most ``max_calls``."""
    plan: list[Person] = []
    seen: set[str] = set()
    for level, members in enumerate(levels):
        for member in members:
            phone = getattr(member, "phone", None)
            if not phone or member.key in seen:
                continue
            seen.add(member.key)
            plan.append(Person(member.key, member.name, phone, level))
            if len(plan) >= max_calls:
                return plan
    return plan


# -- replies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Speech:
    """Everything a prompt may be given; the flow file decides which of it is said."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def with_(self, **more: Any) -> Speech:
        return Speech({**self.values, **more})


def ask_pin(flow: VoiceFlow, urls: VoiceUrls, speech: Speech, attempt: int) -> Reply:
    return (
        Gather(
            action=urls.pin(attempt),
            timeout=flow.pin_timeout,
            say=(flow.prompt("ask_pin", speech.values),),
            num_digits=None,
            finish_on_key="#",
        ),
        Redirect(urls.pin(attempt)),
    )


def ask_menu(flow: VoiceFlow, urls: VoiceUrls, speech: Speech, attempt: int) -> Reply:
    return (
        Gather(
            action=urls.menu(attempt),
            timeout=flow.menu_timeout,
            say=(flow.prompt("menu", speech.values),),
            num_digits=1,
        ),
        Redirect(urls.menu(attempt)),
    )


def record_description(flow: VoiceFlow, urls: VoiceUrls, speech: Speech) -> Reply:
    # A silent caller makes Twilio skip the action and carry on: the redirect still reaches
    # the "recorded" step, so the case opens without a recording rather than not at all.
    return (
        Say(flow.prompt("record", speech.values)),
        Record(
            action=urls.recorded(),
            max_length=flow.record_max_length,
            timeout=flow.record_silence_timeout,
            status_callback=urls.recording_status(),
        ),
        Redirect(urls.recorded()),
    )


def goodbye(text: str) -> Reply:
    return (Say(text), Hangup())


def connect(
    flow: VoiceFlow,
    urls: VoiceUrls,
    speech: Speech,
    plan: Sequence[Person],
    leg: int,
    case_number: int,
    caller_id: str,
) -> Reply:
    """Ring ``plan[leg]``; the whisper asks them to accept. Nothing may follow a ``<Dial
    action>`` (Twilio goes to the action), so the prompt comes first."""
    person = plan[leg]
    prompt = "connecting" if leg == 0 else "next_engineer"
    return (
        Say(flow.prompt(prompt, speech.values)),
        Dial(
            action=urls.dial_result(leg),
            number=person.phone,
            whisper_url=urls.whisper(case_number, person.key),
            caller_id=caller_id,
            timeout=flow.ring_timeout,
        ),
    )


def whisper(
    flow: VoiceFlow, urls: VoiceUrls, speech: Speech, case_number: int, member: str
) -> Reply:
    """What the engineer hears on answering. No key (their voicemail answered, or they let
    it run out) ends their leg: the caller is never put through to a voicemail box."""
    return (
        Gather(
            action=urls.whisper_result(case_number, member),
            timeout=flow.whisper_timeout,
            say=(flow.prompt("whisper", speech.values),),
            num_digits=1,
        ),
        Hangup(),
    )


BRIDGE: Reply = ()  # an empty response to the whisper: Twilio bridges the two calls
