"""The critical line's IVR as data: ``voice_flows/critical_line.yaml`` → :class:`VoiceFlow`.

A manager rewords a prompt or changes a timeout without touching code. The file is validated
strictly, because a typo in a prompt is heard by a customer at 3 a.m.: unknown keys, missing
prompts, durations Twilio cannot take, and placeholders a prompt cannot be given are all
errors naming file, line and key (``critical_line.yaml:40: prompts.menu: unknown placeholder
{custmer} (this prompt may use: company, hours, regular_channels)``). The runtime hot-reloads
the file and keeps the last good version live; ``oncall check`` lists every problem.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from oncall.config.yamlsource import Node, SourceErrors, load_yaml
from oncall.domain.severity import CRITICAL_SEVERITIES
from oncall.sources.voice_flow_defaults import DEFAULT_MESSAGES, DEFAULT_PROMPTS

# Placeholders every prompt and message may use (filled from settings and the flow itself).
COMMON_PLACEHOLDERS = frozenset({"company", "regular_channels", "hours"})

# Each prompt and the extra placeholders it may use. The service always supplies all of them.
PROMPTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "greeting": frozenset(),
        "identified": frozenset({"contact", "customer"}),
        "ask_pin": frozenset(),
        "pin_accepted": frozenset({"customer"}),
        "bad_pin": frozenset(),
        "pin_goodbye": frozenset(),
        "pin_locked": frozenset({"email"}),
        "not_entitled": frozenset({"reason", "customer"}),
        "menu": frozenset({"customer"}),
        "menu_invalid": frozenset(),
        "menu_goodbye": frozenset(),
        "non_critical": frozenset({"fee", "customer"}),
        "record": frozenset(),
        "case_opened": frozenset({"case_digits", "severity"}),
        "connecting": frozenset({"case_digits"}),
        "next_engineer": frozenset({"case_digits"}),
        "whisper": frozenset({"customer", "contact", "severity", "case_digits", "accept_digit"}),
        "paged": frozenset({"case_digits"}),
        "connected_goodbye": frozenset({"case_digits"}),
        "joining": frozenset({"case_digits", "severity"}),
        "join_not_connected": frozenset({"case_digits"}),
        "unavailable": frozenset(),
        "managers_alerted": frozenset({"case_digits"}),
        "nobody_alerted": frozenset({"case_digits"}),
        # The returning caller: a verified caller whose customer has an open case.
        "returning_working": frozenset({"case_digits", "engineer"}),
        "returning_paged": frozenset({"case_digits"}),
        "returning_managers": frozenset({"case_digits"}),
        "returning_status": frozenset({"case_digits", "engineer", "status", "status_time"}),
        "returning_eta": frozenset({"case_digits", "eta"}),
        "returning_no_status": frozenset({"case_digits"}),
        "returning_next_update": frozenset({"case_digits", "next_update"}),
        "returning_menu": frozenset({"case_digits"}),
        "returning_goodbye": frozenset({"case_digits"}),
        "note_record": frozenset({"case_digits"}),
        "note_relayed": frozenset({"case_digits", "engineer"}),
        "note_missing": frozenset({"case_digits"}),
        "escalated": frozenset({"case_digits", "manager"}),
        "escalated_already": frozenset({"case_digits", "manager", "escalated_at"}),
    }
)
# Prompts that may be empty: the step then says nothing there.
OPTIONAL_PROMPTS = frozenset({"identified", "pin_accepted"})
MESSAGES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "case_opened_sms": frozenset({"case_number", "severity", "customer"}),
        "case_opened_email": frozenset({"case_number", "severity", "customer"}),
        "case_opened_managers_sms": frozenset({"case_number", "severity", "customer"}),
        "case_opened_managers_email": frozenset({"case_number", "severity", "customer"}),
        "case_opened_unreached_sms": frozenset({"case_number", "severity", "customer"}),
        "case_opened_unreached_email": frozenset({"case_number", "severity", "customer"}),
    }
)
# Menu choices: a digit opens an S1 or S2 case, or refuses politely (non_critical).
MENU_CHOICES = {"S1": 1, "S2": 2, "non_critical": None}
# The returning caller's menu: what each digit does (any other key, or none: goodbye).
RETURNING_CHOICES = ("note", "connect", "escalate")
DEFAULT_RETURNING: Mapping[str, str] = MappingProxyType(
    {"1": "note", "2": "connect", "9": "escalate"}
)

TOP_KEYS = {
    "say",
    "regular_channels",
    "pin",
    "menu",
    "record",
    "connect",
    "returning",
    "prompts",
    "messages",
}
DIGIT = re.compile(r"^[0-9*#]$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class VoiceFlow:
    """One validated IVR. Durations are whole seconds, as TwiML takes them."""

    source: str
    voice: str
    language: str
    regular_channels: str
    pin_tries: int
    pin_timeout: int
    pin_max_digits: int
    menu: Mapping[str, int | None]  # digit -> severity (1, 2) or None for "not critical"
    menu_tries: int
    menu_timeout: int
    record_max_length: int
    record_silence_timeout: int
    connect_levels: int
    connect_max_calls: int
    ring_timeout: int
    whisper_timeout: int
    accept_digit: str
    prompts: Mapping[str, str]
    messages: Mapping[str, str]
    # digit -> note | connect | escalate
    returning: Mapping[str, str] = field(default_factory=lambda: DEFAULT_RETURNING)
    returning_timeout: int = 8

    def prompt(self, name: str, values: Mapping[str, Any]) -> str:
        """The prompt ``name`` with its placeholders filled from ``values``.

        Validation guarantees every placeholder is one the caller supplies; a KeyError here is
        a bug in the service, not in the file.
        """
        # Spoken text: folded YAML lines and doubled spaces make no difference to a listener.
        return " ".join(self.prompts[name].format_map(values).split())

    def message(self, name: str, values: Mapping[str, Any]) -> str:
        """A written message (SMS, email body): line breaks are kept."""
        return self.messages[name].format_map(values).strip()


def load_flow_file(path: Path | str) -> VoiceFlow:
    """Load and validate a flow file; raises :class:`SourceErrors` listing every problem."""
    raw = load_yaml(path)
    root = Node(raw, str(path))
    flow = _build(root)
    root.raise_if_errors()
    if flow is None:  # only when errors were recorded, so raise_if_errors raised
        raise SourceErrors(root.errors)  # pragma: no cover
    return flow


# -- building ---------------------------------------------------------------------------------
def _build(root: Node) -> VoiceFlow | None:
    if not root.is_mapping("a mapping with say, pin, menu, record, connect and prompts"):
        return None
    root.check_keys(TOP_KEYS, required={"prompts"})
    fields: dict[str, Any] = {"source": root.file, **_say(root)}
    regular = root.child("regular_channels").string("") or ""
    _check_template(root.child("regular_channels"), regular, frozenset({"company"}))
    fields["regular_channels"] = " ".join(regular.split())
    fields.update(_pin(root))
    fields.update(_menu_section(root))
    fields.update(_record(root))
    fields.update(_connect(root))
    fields.update(_returning(root))
    prompts = _templates(
        root.child("prompts"), PROMPTS, OPTIONAL_PROMPTS, "prompt", defaults=DEFAULT_PROMPTS
    )
    messages = _templates(
        root.child("messages"), MESSAGES, frozenset(), "message", True, DEFAULT_MESSAGES
    )
    return VoiceFlow(
        **fields, prompts=MappingProxyType(prompts), messages=MappingProxyType(messages)
    )


def _say(root: Node) -> dict[str, Any]:
    say = root.child("say")
    if say.present() and say.is_mapping():
        say.check_keys({"voice", "language"})
    voice = say.child("voice").string("Polly.Joanna") or ""
    if not voice.strip():
        say.child("voice").error("must name a Twilio voice, like Polly.Joanna or alice")
    language = say.child("language").string("en-US") or "en-US"
    if not LANGUAGE.match(language):
        say.child("language").error(f"{language!r} is not a language tag like en-US")
    return {"voice": voice.strip(), "language": language}


def _pin(root: Node) -> dict[str, Any]:
    pin = _section(root, "pin", {"tries", "timeout", "max_digits"})
    tries = pin.child("tries").integer(3, minimum=1)
    timeout = _seconds(pin.child("timeout"), 10, 1, 60)
    max_digits = pin.child("max_digits").integer(8, minimum=4)
    if max_digits > 20:
        pin.child("max_digits").error("must be at most 20")
    return {"pin_tries": tries, "pin_timeout": timeout, "pin_max_digits": max_digits}


def _menu_section(root: Node) -> dict[str, Any]:
    menu_node = _section(root, "menu", {"choices", "tries", "timeout"}, required={"choices"})
    return {
        "menu": MappingProxyType(_menu(menu_node.child("choices"))),
        "menu_tries": menu_node.child("tries").integer(3, minimum=1),
        "menu_timeout": _seconds(menu_node.child("timeout"), 8, 1, 60),
    }


def _record(root: Node) -> dict[str, Any]:
    record = _section(root, "record", {"max_length", "silence_timeout"})
    return {
        "record_max_length": _seconds(record.child("max_length"), 120, 5, 14400),
        "record_silence_timeout": _seconds(record.child("silence_timeout"), 5, 1, 60),
    }


def _connect(root: Node) -> dict[str, Any]:
    connect = _section(
        root,
        "connect",
        {"levels", "max_calls", "ring_timeout", "whisper_timeout", "accept_digit"},
    )
    levels = connect.child("levels").integer(2, minimum=0)
    max_calls = connect.child("max_calls").integer(3, minimum=0)
    # Twilio's <Dial timeout> takes 5 to 600 seconds.
    ring = _seconds(connect.child("ring_timeout"), 20, 5, 600)
    whisper = _seconds(connect.child("whisper_timeout"), 8, 1, 60)
    accept = connect.child("accept_digit").string("1") or "1"
    if not DIGIT.match(accept):
        connect.child("accept_digit").error(f"{accept!r} is not one key (0-9, * or #)")
        accept = "1"
    return {
        "connect_levels": levels,
        "connect_max_calls": max_calls,
        "ring_timeout": ring,
        "whisper_timeout": whisper,
        "accept_digit": accept,
    }


def _returning(root: Node) -> dict[str, Any]:
    """``returning: {choices: {"1": note, "2": connect, "9": escalate}, timeout: 8s}``."""
    node = _section(root, "returning", {"choices", "timeout"})
    choices_node = node.child("choices")
    choices: dict[str, str] = dict(DEFAULT_RETURNING)
    if choices_node.present() and choices_node.is_mapping(
        "a mapping of digit: note | connect | escalate"
    ):
        choices = {}
        for key, child in choices_node.items():
            digit = str(key)
            if not DIGIT.match(digit):
                child.error(f"{digit!r} is not one key (0-9, * or #)")
                continue
            choice = child.choice(list(RETURNING_CHOICES))
            if choice is None:
                continue
            if choice in choices.values():
                child.error(f"{choice} is on two digits")
                continue
            choices[digit] = choice
    return {
        "returning": MappingProxyType(choices),
        "returning_timeout": _seconds(node.child("timeout"), 8, 1, 60),
    }


def _section(root: Node, key: str, allowed: set[str], required: set[str] = frozenset()) -> Node:
    node = root.child(key)
    if (node.present() or required) and node.is_mapping():
        node.check_keys(allowed, required=required)
    return node


def _seconds(node: Node, default: int, low: int, high: int) -> int:
    """A duration in whole seconds within what Twilio accepts for this attribute."""
    value = node.duration()
    if value is None:
        return default
    seconds = value.total_seconds()
    if seconds != int(seconds):
        node.error(f'"{node.value}" must be whole seconds (Twilio counts seconds)')
        return default
    if not low <= seconds <= high:
        node.error(f'"{node.value}" must be between {low}s and {high}s')
        return default
    return int(seconds)


def _menu(node: Node) -> dict[str, int | None]:
    menu: dict[str, int | None] = {}
    if not node.present() or not node.is_mapping("a mapping of digit: S1 | S2 | non_critical"):
        return menu
    for key, child in node.items():
        digit = str(key)
        if not DIGIT.match(digit):
            child.error(f"{digit!r} is not one key (0-9, * or #)")
            continue
        if digit in menu:
            child.error(f"digit {digit} is listed twice")
            continue
        choice = child.choice(list(MENU_CHOICES))
        if choice is not None:
            menu[digit] = MENU_CHOICES[choice]
    severities = set(menu.values())
    for severity in CRITICAL_SEVERITIES:
        if menu and severity not in severities:
            node.error(f"no digit opens an S{severity} case (add one: S{severity})")
    return menu


def _templates(
    node: Node,
    spec: Mapping[str, frozenset[str]],
    optional: frozenset[str],
    what: str,
    section_optional: bool = False,
    defaults: Mapping[str, str] = MappingProxyType({}),
) -> dict[str, str]:
    templates = {name: defaults.get(name, "") for name in spec}
    if not node.present() and section_optional:
        for name in [n for n in spec if n not in defaults]:
            node.error(f"missing {what} {name!r}")
        return templates
    if not node.is_mapping(f"a mapping of {what}s"):
        return templates
    node.check_keys(set(spec), required=set(spec) - optional - set(defaults))
    for name, allowed in spec.items():
        child = node.child(name)
        if not child.present():
            continue
        text = child.string("") or ""
        if not text.strip() and name not in optional:
            child.error(f"the {what} is empty")
            continue
        _check_template(child, text, allowed | COMMON_PLACEHOLDERS)
        templates[name] = text.strip()
    return templates


def _check_template(node: Node, text: str, allowed: frozenset[str]) -> None:
    """Every ``{placeholder}`` must be one this text can be given; braces must balance."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        node.error(f"{exc} (write {{{{ and }}}} for literal braces)")
        return
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            node.error(f"{{{name}}} is not a placeholder like {{company}}")
            continue
        if name not in allowed:
            node.error(
                f"unknown placeholder {{{name}}} (this text may use: {', '.join(sorted(allowed))})"
            )
