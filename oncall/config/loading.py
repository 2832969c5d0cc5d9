"""Load and validate ``config.yaml`` into :class:`~oncall.config.settings.Settings`.

The file path comes from ``ONCALL_CONFIG`` (default ``./config.yaml``). ``${VAR}`` and
``${VAR:-default}`` are interpolated from the environment, and a few environment variables
override the file outright (``DATABASE_URL``, ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``,
``SMTP_PASSWORD``, ``ONCALL_INBOUND_PASSWORD``, ``ONCALL_SECRET_KEY``) so secrets never need to
be written in the file.

Validation rejects unknown keys, wrong types and impossible values, naming file, line and key
path. A misspelt SLA key is an error, never silently ignored: a paging service that quietly
falls back to a default target is worse than one that refuses to start. The top level is read
here; each section by its reader in :mod:`oncall.config.sections`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from oncall.config import sections
from oncall.config.closure import read_closure
from oncall.config.settings import IntakeSettings, Settings
from oncall.config.yamlsource import Node, load_yaml
from oncall.domain.phones import DEFAULT_REGION, check_region

DEFAULT_DATABASE_URL = "sqlite:///oncall.db"
DEV_SECRET_KEY = "dev-only-secret-change-me"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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
    "phone_region",
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
    "notify",
    "retention",
    "closure",
    "metrics",
    "escalation_contacts",
    "intake",
}


def _build(root: Node, base: Path, env: dict[str, str]) -> Settings | None:
    if not root.is_mapping("the config to be a mapping of settings"):
        return None
    root.check_keys(TOP_KEYS, required={"timezone", "public_url"})

    timezone = root.child("timezone").validate(_check_zone, "UTC")
    phone_region = root.child("phone_region").validate(check_region, DEFAULT_REGION)
    public_url = (root.child("public_url").string("http://127.0.0.1:5000") or "").rstrip("/")
    if not re.match(r"^https?://[^/\s]+", public_url):
        root.child("public_url").error(f"{public_url!r} is not an http(s) URL")

    secret_key = env.get("ONCALL_SECRET_KEY") or root.child("secret_key").string(DEV_SECRET_KEY)
    database_url = database_url_from(root.child("database_url"), env, base)

    transport_node = root.child("transport")
    transport = transport_node.choice(["console", "twilio"], "console") or "console"
    twilio = sections.read_twilio(root.child("twilio"), env, transport, phone_region)
    email = sections.read_email(root.child("email"), env)
    users = sections.read_users(root.child("users"))
    tokens = sections.read_api_tokens(root.child("api"))

    logging_node = root.child("logging")
    logging_node.is_mapping() if logging_node.present() else None
    logging_node.check_keys({"format", "level"})
    web = root.child("web")
    web.check_keys({"max_request_bytes", "trusted_proxies"})

    return Settings(
        source=root.file,
        company=root.child("company").string("Vendor Support") or "Vendor Support",
        timezone=timezone,
        phone_region=phone_region,
        public_url=public_url,
        secret_key=secret_key or DEV_SECRET_KEY,
        database_url=database_url,
        business_hours=sections.read_business_hours(root.child("business_hours")),
        sla=sections.read_sla(root.child("sla")),
        penalties=sections.read_penalties(root.child("penalties")),
        paths=sections.read_paths(root.child("paths"), base),
        engine=sections.read_engine(root.child("engine")),
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
        notify=sections.read_notify(root.child("notify")),
        retention=sections.read_retention(root.child("retention")),
        closure=read_closure(root.child("closure")),
        trusted_proxies=web.child("trusted_proxies").integer(0, minimum=0),
        metrics_token=sections.read_metrics_token(root.child("metrics")),
        escalation_contacts=sections.read_escalation_contacts(
            root.child("escalation_contacts"), phone_region
        ),
        intake=read_intake(root.child("intake")),
        environ=env,
    )


def read_intake(node: Node) -> IntakeSettings:
    """``intake: {join_open_case: true}``: how a new contact meets an open case."""
    if not node.present() or not node.is_mapping("a mapping like {join_open_case: true}"):
        return IntakeSettings()
    node.check_keys({"join_open_case"})
    return IntakeSettings(join_open_case=node.child("join_open_case").boolean(True))


def _check_zone(value: Any) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone (like America/Toronto)") from None
    return str(value)


def database_url_from(node: Node, env: dict[str, str], base: Path) -> str:
    """``DATABASE_URL`` from the environment, else ``database_url`` from the file.

    A relative SQLite path in the file is relative to the file's folder, like ``paths.*``: an
    operator who runs ``cd /tmp && oncall --config /srv/oncall/config.yaml report sla`` means
    the service's database, not a new empty one in /tmp. A relative path in ``DATABASE_URL``
    is the shell's, relative to the current directory, as every path typed in a shell is.
    """
    from_env = env.get("DATABASE_URL")
    if from_env:
        return _normalise_database_url(from_env)
    text = node.string(DEFAULT_DATABASE_URL) or DEFAULT_DATABASE_URL
    try:
        url = make_url(text)
    except ArgumentError:
        node.error(f"{text!r} is not a database URL (like sqlite:///oncall.db)")
        return DEFAULT_DATABASE_URL
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and _is_relative_file(database):
        text = url.set(database=str(base / database)).render_as_string(hide_password=False)
    return _normalise_database_url(text)


def _is_relative_file(database: str) -> bool:
    # ":memory:" and "" are in-memory databases; "file:..." is an SQLite URI with its own rules.
    if database in ("", ":memory:") or database.startswith("file:"):
        return False
    return not Path(database).is_absolute()


def _normalise_database_url(url: str) -> str:
    # Heroku-style URLs say postgres:// or postgresql://; we always drive psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
