"""Load and validate ``config.yaml`` into frozen, typed settings.

The file path comes from ``ONCALL_CONFIG`` (default ``./config.yaml``). ``${VAR}`` and
``${VAR:-default}`` are interpolated from the environment, and a few environment variables
override the file outright (``DATABASE_URL``, ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``,
``SMTP_PASSWORD``, ``ONCALL_INBOUND_PASSWORD``, ``ONCALL_SECRET_KEY``) so secrets never need to
be written in the file.

Validation rejects unknown keys, wrong types and impossible values, naming file, line and key
path. A misspelt SLA key is an error, never silently ignored: a paging service that quietly
falls back to a default target is worse than one that refuses to start.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from oncall.config.yamlsource import Node, SourceError, SourceErrors, load_yaml
from oncall.domain.eligibility import BusinessHours
from oncall.domain.sla import SlaSettings

DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DEFAULT_DATABASE_URL = "sqlite:///oncall.db"
DEV_SECRET_KEY = "dev-only-secret-change-me"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class PenaltySettings:
    misuse_fee: float
    currency: str
    per_plan: dict[str, float]
    refused_attempts_review: int  # refused attempts per customer per month that raise a review


@dataclass(frozen=True)
class Paths:
    rotations: Path
    customers: Path
    voice_flows: Path


@dataclass(frozen=True)
class EngineSettings:
    tick: timedelta
    reload_poll: timedelta
    batch_size: int
    sms_rate_window: timedelta  # per-person bundling window for follow-up pages
    retry_base: timedelta
    retry_max: timedelta
    max_attempts: int
    sending_timeout: timedelta  # a row stuck in "sending" longer than this is reconciled
    send_concurrency: int  # provider calls a sender makes side by side


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    api_base: str
    critical_line: str
    messaging_service_sid: str
    timeout: timedelta


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    starttls: bool
    username: str
    password: str
    timeout: timedelta


@dataclass(frozen=True)
class InboundAuth:
    username: str
    password: str


@dataclass(frozen=True)
class EmailSettings:
    transport: str
    from_address: str
    critical_address: str
    forward_to: str
    smtp: SmtpSettings
    inbound: InboundAuth
    max_bytes: int
    severity_phrases: dict[int, tuple[str, ...]]


@dataclass(frozen=True)
class User:
    username: str
    role: str  # "manager" | "engineer"
    password_hash: str


@dataclass(frozen=True)
class ApiToken:
    name: str
    token: str


@dataclass(frozen=True)
class Settings:
    source: str
    company: str
    timezone: str
    public_url: str
    secret_key: str
    database_url: str
    business_hours: BusinessHours
    sla: SlaSettings
    penalties: PenaltySettings
    paths: Paths
    engine: EngineSettings
    transport: str
    twilio: TwilioSettings
    email: EmailSettings
    users: dict[str, User]
    api_tokens: tuple[ApiToken, ...]
    log_format: str
    log_level: str
    max_request_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def config_path() -> Path:
    return Path(os.environ.get("ONCALL_CONFIG", "config.yaml"))


def load_settings(
    path: Path | str | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Read, interpolate, validate. Raises :class:`SourceErrors` listing every problem."""
    path = Path(path) if path is not None else config_path()
    env = dict(os.environ if environ is None else environ)
    raw = load_yaml(path)
    if raw is None:
        raw = {}
    root = Node(_interpolate(raw, env), str(path))
    settings = _build(root, path.resolve().parent, env)
    root.raise_if_errors()
    assert settings is not None
    return settings


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in strings, keeping the line-aware containers."""
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: env.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _interpolate(value[key], env)
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _interpolate(item, env)
        return value
    return value


TOP_KEYS = {
    "company",
    "timezone",
    "public_url",
    "secret_key",
    "database_url",
    "business_hours",
    "sla",
    "penalties",
    "paths",
    "engine",
    "transport",
    "twilio",
    "email",
    "users",
    "api",
    "logging",
    "web",
}


def _build(root: Node, base: Path, env: dict[str, str]) -> Settings | None:
    if not root.is_mapping("the config to be a mapping of settings"):
        return None
    root.check_keys(TOP_KEYS, required={"timezone", "public_url"})

    timezone = root.child("timezone").validate(_check_zone, "UTC")
    public_url = (root.child("public_url").string("http://127.0.0.1:5000") or "").rstrip("/")
    if not re.match(r"^https?://[^/\s]+", public_url):
        root.child("public_url").error(f"{public_url!r} is not an http(s) URL")

    secret_key = env.get("ONCALL_SECRET_KEY") or root.child("secret_key").string(DEV_SECRET_KEY)
    database_url = env.get("DATABASE_URL") or root.child("database_url").string(
        DEFAULT_DATABASE_URL
    )
    database_url = _normalise_database_url(database_url or DEFAULT_DATABASE_URL, base)

    transport_node = root.child("transport")
    transport = transport_node.choice(["console", "twilio"], "console") or "console"
    twilio = _twilio(root.child("twilio"), env, transport)
    email = _email(root.child("email"), env)
    users, tokens = _users(root.child("users")), _api_tokens(root.child("api"))

    logging_node = root.child("logging")
    logging_node.is_mapping() if logging_node.present() else None
    logging_node.check_keys({"format", "level"})
    web = root.child("web")
    web.check_keys({"max_request_bytes"})

    return Settings(
        source=root.file,
        company=root.child("company").string("Vendor Support") or "Vendor Support",
        timezone=timezone,
        public_url=public_url,
        secret_key=secret_key or DEV_SECRET_KEY,
        database_url=database_url,
        business_hours=_business_hours(root.child("business_hours")),
        sla=_sla(root.child("sla")),
        penalties=_penalties(root.child("penalties")),
        paths=_paths(root.child("paths"), base),
        engine=_engine(root.child("engine")),
        transport=transport,
        twilio=twilio,
        email=email,
        users=users,
        api_tokens=tokens,
        log_format=logging_node.child("format").choice(["text", "json"], "text") or "text",
        log_level=(
            logging_node.child("level").choice(["DEBUG", "INFO", "WARNING", "ERROR"], "INFO")
            or "INFO"
        ),
        max_request_bytes=web.child("max_request_bytes").integer(1_000_000, minimum=1024),
    )


def _check_zone(value: Any) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone (like America/Toronto)") from None
    return str(value)


def _normalise_database_url(url: str, base: Path) -> str:
    # Heroku-style URLs say postgres:// or postgresql://; we always drive psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _parse_clock(value: Any) -> time:
    text = str(value)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        raise ValueError(f'"{text}" is not a time of day like "09:00"')
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        if minute:
            raise ValueError(f'"{text}" is not a time of day like "09:00"')
        return time(23, 59, 59, 999999)
    return time(hour, minute)


def _parse_date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f'"{value}" is not a date like 2026-12-25') from None


def _business_hours(node: Node) -> BusinessHours:
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
    start = node.child("start").validate(_parse_clock, default.start)
    end = node.child("end").validate(_parse_clock, default.end)
    if start >= end:
        node.child("end").error("business hours must end after they start")
    holidays = tuple(
        h for h in (e.validate(_parse_date) for e in node.child("holidays").elements()) if h
    )
    return BusinessHours(
        tuple(days) if node.child("days").present() else default.days, start, end, holidays
    )


def _sla(node: Node) -> SlaSettings:
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


def _penalties(node: Node) -> PenaltySettings:
    node.check_keys({"misuse_fee", "currency", "per_plan", "refused_attempts_review"})
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
    )


def _paths(node: Node, base: Path) -> Paths:
    node.check_keys({"rotations", "customers", "voice_flows"})

    def resolve(key: str, default: str) -> Path:
        value = Path(node.child(key).string(default) or default)
        return value if value.is_absolute() else base / value

    return Paths(
        rotations=resolve("rotations", "rotations"),
        customers=resolve("customers", "customers.yaml"),
        voice_flows=resolve("voice_flows", "voice_flows"),
    )


def _engine(node: Node) -> EngineSettings:
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
        }
    )
    return EngineSettings(
        tick=node.child("tick").duration(timedelta(seconds=1), positive=True),
        reload_poll=node.child("reload_poll").duration(timedelta(seconds=5), positive=True),
        batch_size=node.child("batch_size").integer(100, minimum=1),
        sms_rate_window=node.child("sms_rate_window").duration(timedelta(seconds=60)),
        retry_base=node.child("retry_base").duration(timedelta(seconds=2), positive=True),
        retry_max=node.child("retry_max").duration(timedelta(minutes=2), positive=True),
        max_attempts=node.child("max_attempts").integer(12, minimum=1),
        sending_timeout=node.child("sending_timeout").duration(
            timedelta(seconds=60), positive=True
        ),
        send_concurrency=node.child("send_concurrency").integer(8, minimum=1),
    )  # type: ignore[arg-type]


def _twilio(node: Node, env: dict[str, str], transport: str) -> TwilioSettings:
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
    line = node.child("critical_line").validate(normalise_phone, "")
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


EMAIL_PATTERN = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def normalise_email(value: Any) -> str:
    text = str(value).strip().casefold()
    if not EMAIL_PATTERN.match(text):
        raise ValueError(f"{value!r} is not an email address")
    return text


def normalise_phone(value: Any) -> str:
    """Normalise a phone number to E.164 (``+15551230001``).

    Spaces, dots, dashes and brackets are dropped. A bare 10-digit number is taken as North
    American (``+1``): that is where the example data lives; anything else must carry ``+``.
    """
    text = str(value).strip()
    digits = re.sub(r"[\s().\-]", "", text)
    if re.fullmatch(r"\d{10}", digits):
        digits = "+1" + digits
    elif re.fullmatch(r"1\d{10}", digits):
        digits = "+" + digits
    if not re.fullmatch(r"\+[1-9]\d{7,14}", digits):
        raise ValueError(f"{value!r} is not a phone number in E.164 form like +15551230001")
    return digits


def _email(node: Node, env: dict[str, str]) -> EmailSettings:
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
    phrases: dict[int, tuple[str, ...]] = {}
    phrase_node = node.child("severity_phrases")
    if phrase_node.present() and phrase_node.is_mapping():
        phrase_node.check_keys({"S1", "S2"})
        for key, sev in (("S1", 1), ("S2", 2)):
            if phrase_node.child(key).present():
                phrases[sev] = tuple(p.lower() for p in phrase_node.child(key).string_list())

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
        severity_phrases=phrases,
    )


def _users(node: Node) -> dict[str, User]:
    users: dict[str, User] = {}
    if not node.present() or not node.is_mapping("a mapping of user names"):
        return users
    for name, child in node.items():
        if not child.is_mapping():
            continue
        child.check_keys({"role", "password_hash"}, required={"password_hash"})
        role = child.child("role").choice(["manager", "engineer"], "manager") or "manager"
        password_hash = child.child("password_hash").string("") or ""
        if password_hash and ":" not in password_hash:
            child.child("password_hash").error(
                "is not a werkzeug password hash (make one with `oncall user add NAME`)"
            )
        users[str(name)] = User(str(name), role, password_hash)
    return users


def _api_tokens(node: Node) -> tuple[ApiToken, ...]:
    if not node.present() or not node.is_mapping():
        return ()
    node.check_keys({"tokens"})
    tokens = []
    for element in node.child("tokens").elements():
        if not element.is_mapping():
            continue
        element.check_keys({"name", "token"}, required={"name", "token"})
        token = element.child("token").string("") or ""
        if token and len(token) < 16:
            element.child("token").error("API tokens must be at least 16 characters")
        elif token:
            tokens.append(ApiToken(element.child("name").string("") or "", token))
    return tuple(tokens)


def settings_errors(path: Path | str) -> list[SourceError]:
    """Every problem in a config file, or [] (for ``oncall check``)."""
    try:
        load_settings(path)
    except SourceErrors as exc:
        return exc.errors
    return []
