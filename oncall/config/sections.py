"""The readers of each section of ``config.yaml`` (business hours, SLA, penalties, paths, engine,
Twilio, email, users, API tokens, the metrics token), and the email address check the other
files share.

Each reader takes the section's :class:`~oncall.config.yamlsource.Node`, reports every problem on
it, and returns the section's settings with defaults for what is missing.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

from oncall.config.settings import (
    ApiToken,
    EmailSettings,
    EngineSettings,
    InboundAuth,
    NotifySettings,
    Paths,
    PenaltySettings,
    RetentionSettings,
    SmtpSettings,
    TwilioSettings,
    User,
)
from oncall.config.yamlsource import Node
from oncall.domain.eligibility import BusinessHours
from oncall.domain.phones import parse_phone
from oncall.domain.severity_rules import (
    CONFIG_KEYS,
    DEFAULT_SEVERITY_RULES,
    SeverityRules,
    contradictions,
    phrase_key,
    phrase_problem,
)
from oncall.domain.sla import SlaSettings
from oncall.domain.timetext import DAY_NAMES, parse_time_of_day

EMAIL_PATTERN = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def normalise_email(value: Any) -> str:
    text = str(value).strip().casefold()
    if not EMAIL_PATTERN.match(text):
        raise ValueError(f"{value!r} is not an email address")
    return text


def _optional_email(value: Any) -> str:
    """An address, or nothing (an empty string turns the feature off)."""
    return normalise_email(value) if str(value or "").strip() else ""


def _parse_date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f'"{value}" is not a date like 2026-12-25') from None


def read_business_hours(node: Node) -> BusinessHours:
    default = BusinessHours((0, 1, 2, 3, 4), time(9), time(17), ())
    if not node.present():
        return default
    if not node.is_mapping():
        return default
    node.check_keys({"days", "start", "end", "holidays"})
    days = []
    for element in node.child("days").elements():
        name = (element.string("") or "").lower()[:3]
        if name not in DAY_NAMES:
            element.error(f"{element.value!r} is not a day (mon … sun)")
        else:
            days.append(DAY_NAMES.index(name))
    start = node.child("start").validate(parse_time_of_day, default.start)
    end = node.child("end").validate(parse_time_of_day, default.end)
    if start >= end:
        node.child("end").error("business hours must end after they start")
    holidays = tuple(
        h for h in (e.validate(_parse_date) for e in node.child("holidays").elements()) if h
    )
    return BusinessHours(
        tuple(days) if node.child("days").present() else default.days, start, end, holidays
    )


def read_sla(node: Node) -> SlaSettings:
    if node.present():
        node.is_mapping()
    node.check_keys(
        {"triage", "first_status", "status_every", "warn_before", "after_hours_multiplier"}
    )
    triage = node.child("triage").duration(timedelta(minutes=15), positive=True)
    first_status = node.child("first_status").duration(timedelta(hours=1), positive=True)
    warn_before = node.child("warn_before").duration(timedelta(minutes=5))
    every_node = node.child("status_every")
    status_every = {1: timedelta(hours=4), 2: timedelta(hours=8)}
    if every_node.present() and every_node.is_mapping():
        every_node.check_keys({"S1", "S2"})
        for key, sev in (("S1", 1), ("S2", 2)):
            value = every_node.child(key).duration(status_every[sev], positive=True)
            status_every[sev] = value or status_every[sev]
    multiplier = node.child("after_hours_multiplier").number(1.0)
    if multiplier < 1:
        node.child("after_hours_multiplier").error("must be 1 or more (targets never shrink)")
        multiplier = 1.0
    assert triage and first_status and warn_before is not None
    if warn_before >= triage:
        node.child("warn_before").error(
            f"must be shorter than sla.triage ({node.child('triage').value})"
        )
    return SlaSettings(triage, first_status, status_every, warn_before, multiplier)


def read_penalties(node: Node) -> PenaltySettings:
    node.check_keys(
        {"misuse_fee", "currency", "per_plan", "refused_attempts_review", "dispute_within"}
    )
    per_plan: dict[str, float] = {}
    plans = node.child("per_plan")
    if plans.present() and plans.is_mapping():
        for key, child in plans.items():
            per_plan[str(key)] = child.number(0.0, minimum=0)
    currency = node.child("currency").string("USD") or "USD"
    if not re.fullmatch(r"[A-Z]{3}", currency):
        node.child("currency").error(f"{currency!r} is not an ISO 4217 code like USD")
    return PenaltySettings(
        misuse_fee=node.child("misuse_fee").number(250.0, minimum=0),
        currency=currency,
        per_plan=per_plan,
        refused_attempts_review=node.child("refused_attempts_review").integer(3, minimum=1),
        dispute_within=node.child("dispute_within").duration(timedelta(days=14), positive=True)
        or timedelta(days=14),
    )


def read_paths(node: Node, base: Path) -> Paths:
    node.check_keys({"rotations", "customers", "voice_flows"})

    def resolve(key: str, default: str) -> Path:
        value = Path(node.child(key).string(default) or default)
        return value if value.is_absolute() else base / value

    return Paths(
        rotations=resolve("rotations", "rotations"),
        customers=resolve("customers", "customers.yaml"),
        voice_flows=resolve("voice_flows", "voice_flows"),
    )


def read_engine(node: Node) -> EngineSettings:
    node.check_keys(
        {
            "tick",
            "reload_poll",
            "batch_size",
            "sms_rate_window",
            "retry_base",
            "retry_max",
            "max_attempts",
            "sending_timeout",
            "send_concurrency",
            "bundle_max_cases",
        }
    )
    return EngineSettings(
        tick=node.child("tick").duration(timedelta(seconds=1), positive=True),
        reload_poll=node.child("reload_poll").duration(timedelta(seconds=5), positive=True),
        batch_size=node.child("batch_size").integer(200, minimum=1),
        sms_rate_window=node.child("sms_rate_window").duration(timedelta(seconds=60)),
        retry_base=node.child("retry_base").duration(timedelta(seconds=2), positive=True),
        retry_max=node.child("retry_max").duration(timedelta(minutes=2), positive=True),
        max_attempts=node.child("max_attempts").integer(12, minimum=1),
        sending_timeout=node.child("sending_timeout").duration(
            timedelta(seconds=60), positive=True
        ),
        send_concurrency=node.child("send_concurrency").integer(8, minimum=1),
        bundle_max_cases=node.child("bundle_max_cases").integer(10, minimum=1),
    )  # type: ignore[arg-type]


def read_notify(node: Node) -> NotifySettings:
    if node.present():
        node.is_mapping()
    node.check_keys({"shift_start", "shift_reminder"})
    reminder_node = node.child("shift_reminder")
    reminder = None
    if reminder_node.present() and reminder_node.value not in (False, "off", "no"):
        reminder = reminder_node.duration(None, positive=True)
    return NotifySettings(
        shift_start=node.child("shift_start").boolean(True),
        shift_reminder=reminder,
    )


def read_twilio(
    node: Node, env: dict[str, str], transport: str, phone_region: str
) -> TwilioSettings:
    node.check_keys(
        {
            "account_sid",
            "auth_token",
            "api_base",
            "critical_line",
            "messaging_service_sid",
            "timeout",
        }
    )
    sid = env.get("TWILIO_ACCOUNT_SID") or node.child("account_sid").string("") or ""
    token = env.get("TWILIO_AUTH_TOKEN") or node.child("auth_token").string("") or ""
    api_base = (node.child("api_base").string("https://api.twilio.com") or "").rstrip("/")
    if not re.match(r"^https?://", api_base):
        node.child("api_base").error(f"{api_base!r} is not an http(s) URL")
    line = node.child("critical_line").validate(lambda value: parse_phone(value, phone_region), "")
    if transport == "twilio":
        if not sid:
            node.child("account_sid").error("is required when transport is twilio")
        if not token:
            node.child("auth_token").error("is required when transport is twilio")
        if not line:
            node.child("critical_line").error("is required when transport is twilio")
    return TwilioSettings(
        account_sid=sid,
        auth_token=token,
        api_base=api_base,
        critical_line=line or "",
        messaging_service_sid=node.child("messaging_service_sid").string("") or "",
        timeout=node.child("timeout").duration(timedelta(seconds=10), positive=True),
    )  # type: ignore[arg-type]


def read_email(node: Node, env: dict[str, str]) -> EmailSettings:
    node.check_keys(
        {
            "transport",
            "from",
            "critical_address",
            "forward_to",
            "smtp",
            "inbound",
            "max_bytes",
            "severity_phrases",
            "severity_question_timeout",
            "authserv_ids",
            "escalation_address",
        }
    )
    smtp_node = node.child("smtp")
    smtp_node.check_keys({"host", "port", "starttls", "username", "password", "timeout"})
    port = smtp_node.child("port").integer(25, minimum=1)
    if port > 65535:
        smtp_node.child("port").error(f"{port} is not a TCP port")
    smtp = SmtpSettings(
        host=smtp_node.child("host").string("localhost") or "localhost",
        port=port,
        starttls=smtp_node.child("starttls").boolean(False),
        username=smtp_node.child("username").string("") or "",
        password=env.get("SMTP_PASSWORD") or smtp_node.child("password").string("") or "",
        timeout=smtp_node.child("timeout").duration(timedelta(seconds=10), positive=True),
    )  # type: ignore[arg-type]
    inbound_node = node.child("inbound")
    inbound_node.check_keys({"username", "password"})
    inbound = InboundAuth(
        username=inbound_node.child("username").string("sendgrid") or "sendgrid",
        password=env.get("ONCALL_INBOUND_PASSWORD")
        or inbound_node.child("password").string("")
        or "",
    )
    timeout_node = node.child("severity_question_timeout")
    timeout = timeout_node.duration(timedelta(minutes=10), positive=True) or timedelta(minutes=10)
    if timeout > timedelta(hours=1):
        timeout_node.error(
            "must be 1h or less: an emergency nobody confirmed waits this long for its page"
        )

    def address(key: str, default: str) -> str:
        return node.child(key).validate(normalise_email, default) or default

    return EmailSettings(
        transport=node.child("transport").choice(["console", "smtp"], "console") or "console",
        from_address=address("from", "support@vendor.example"),
        critical_address=address("critical_address", "critical@vendor.example"),
        forward_to=address("forward_to", "support-queue@vendor.example"),
        smtp=smtp,
        inbound=inbound,
        max_bytes=node.child("max_bytes").integer(10_000_000, minimum=1024),
        severity_rules=read_severity_phrases(node.child("severity_phrases")),
        severity_question_timeout=timeout,
        authserv_ids=tuple(
            name.strip().casefold()
            for name in node.child("authserv_ids").string_list()
            if name.strip()
        ),
        escalation_address=node.child("escalation_address").validate(_optional_email, "") or "",
    )


def read_severity_phrases(node: Node) -> SeverityRules:
    """``email.severity_phrases``: phrases and cues added to the built-in rules (keys as in
    :data:`oncall.domain.severity_rules.CONFIG_KEYS`), built-in ones dropped with ``ignore``,
    and the two distances. Every phrase is checked: empty, too short to mean anything, too long
    to be written exactly, a built-in to ignore that does not exist, or one phrase under two
    keys that mean opposite things."""
    if not node.present() or not node.is_mapping():
        return DEFAULT_SEVERITY_RULES
    node.check_keys({*CONFIG_KEYS, "ignore", "negation_window", "cue_window"})
    extra = {key: _phrases(node.child(key)) for key in CONFIG_KEYS if node.child(key).present()}
    built_in = DEFAULT_SEVERITY_RULES.all_phrases()
    ignore = []
    for element in _elements(node.child("ignore")):
        text = element.string("") or ""
        if phrase_key(text) not in built_in:
            element.error(f"{text!r} is not a built-in phrase or cue: nothing to ignore")
        else:
            ignore.append(text)
    windows = {}
    for key in ("negation_window", "cue_window"):
        value = node.child(key).integer(getattr(DEFAULT_SEVERITY_RULES, key), minimum=0)
        if value > 20:
            node.child(key).error(f"must be 20 words or fewer, got {value}")
        windows[key] = min(value, 20)
    rules = DEFAULT_SEVERITY_RULES.extended(extra, ignore, **windows)
    for phrase, first, second in contradictions(rules):
        where = node.child(first) if first in extra else node.child(second)
        where.error(f"{phrase!r} is listed under both {first} and {second}, which contradict")
    return rules


def _elements(node: Node) -> list[Node]:
    if not node.present() or not node.is_list("a list of phrases"):
        return []
    return list(node.elements())


def _phrases(node: Node) -> list[str]:
    phrases = []
    for element in _elements(node):
        text = element.string("") or ""
        problem = phrase_problem(text)
        if problem is not None:
            element.error(problem)
        else:
            phrases.append(text)
    return phrases


RETENTION_KEYS = ("receipts", "refused_attempts", "recordings", "closed_cases", "case_page")
# SendGrid retries a post for up to 72 hours: a receipt kept for less could let a late retry
# act a second time.
RETENTION_MINIMUM = {"receipts": timedelta(days=3)}


def read_retention(node: Node) -> RetentionSettings:
    """``retention: {receipts: 30d, refused_attempts: 365d, recordings: 90d, closed_cases:
    never}``: each a duration or ``never``; what is missing keeps its default."""
    defaults = RetentionSettings()
    if not node.present() or not node.is_mapping("a mapping of record kinds to ages"):
        return defaults
    node.check_keys(set(RETENTION_KEYS))
    ages: dict[str, timedelta | None] = {}
    for key in RETENTION_KEYS:
        child = node.child(key)
        if not child.present():
            ages[key] = getattr(defaults, key)
        elif isinstance(child.value, str) and child.value.strip().casefold() == "never":
            ages[key] = None
        else:
            ages[key] = child.duration(getattr(defaults, key), positive=True)
            shortest = RETENTION_MINIMUM.get(key, timedelta(days=1))
            if ages[key] is not None and ages[key] < shortest:
                child.error(f'"{child.value}" is too short: keep them {shortest.days}d or more')
                ages[key] = getattr(defaults, key)
    return RetentionSettings(**ages)


def read_users(node: Node) -> dict[str, User]:
    users: dict[str, User] = {}
    if not node.present() or not node.is_mapping("a mapping of user names"):
        return users
    for name, child in node.items():
        if not child.is_mapping():
            continue
        child.check_keys({"role", "password_hash", "member"}, required={"password_hash"})
        role = child.child("role").choice(["manager", "engineer"], "manager") or "manager"
        member = child.child("member").string() or None
        password_hash = child.child("password_hash").string("") or ""
        if password_hash and ":" not in password_hash:
            child.child("password_hash").error(
                "is not a werkzeug password hash (make one with `oncall user add NAME`)"
            )
        users[str(name)] = User(str(name), role, password_hash, member)
    return users


def read_api_tokens(node: Node) -> tuple[ApiToken, ...]:
    if not node.present() or not node.is_mapping():
        return ()
    node.check_keys({"tokens"})
    tokens = []
    for element in node.child("tokens").elements():
        if not element.is_mapping():
            continue
        element.check_keys({"name", "token", "scope", "member"}, required={"name", "token"})
        token = element.child("token").string("") or ""
        scope = element.child("scope").choice(["read", "act"], "read") or "read"
        member = element.child("member").string() or None
        if token and len(token) < 16:
            element.child("token").error("API tokens must be at least 16 characters")
        elif token:
            name = element.child("name").string("") or ""
            tokens.append(ApiToken(name, token, scope, member))
    return tuple(tokens)


def read_metrics_token(node: Node) -> str:
    """``metrics.token``: the bearer token ``/metrics`` requires (empty: /metrics is open)."""
    if not node.present() or not node.is_mapping():
        return ""
    node.check_keys({"token"})
    token = node.child("token").string("") or ""
    if token and len(token) < 16:
        node.child("token").error("the metrics token must be at least 16 characters")
    return token


def read_escalation_contacts(node: Node, phone_region: str) -> tuple[str, ...]:
    """Phones (read in ``phone_region``, stored E.164) and email addresses, each once.

    They are alerted when a case has nobody to page, so a typo here must stop the service
    rather than leave a case with nobody told.
    """
    if not node.present() or not node.is_list("a list of phone numbers and email addresses"):
        return ()
    contacts: list[str] = []
    for element in node.elements():
        value = element.value
        if isinstance(value, (dict, list, bool)) or not str(value or "").strip():
            element.error("expected a phone number or an email address")
            continue
        text = str(value)
        check = normalise_email if "@" in text else (lambda v: parse_phone(v, phone_region))
        contact = element.validate(check)
        if contact and contact not in contacts:
            contacts.append(contact)
    return tuple(contacts)
