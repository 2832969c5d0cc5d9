"""The settings ``config.yaml`` is read into: frozen, typed, one dataclass per section.

:mod:`oncall.config.loading` reads and validates the file into a :class:`Settings`; everything
else only reads the fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from oncall.domain.eligibility import BusinessHours
from oncall.domain.severity_rules import SeverityRules
from oncall.domain.sla import SlaSettings


@dataclass(frozen=True)
class PenaltySettings:
    misuse_fee: float
    currency: str
    per_plan: dict[str, float]
    refused_attempts_review: int  # refused attempts per customer per month that raise a review
    # How long after a fee is flagged the customer may DISPUTE it (by replying to its notice).
    dispute_within: timedelta = timedelta(days=14)


@dataclass(frozen=True)
class ClosureSettings:
    """``closure``: a resolved case may be reopened by the customer (a REOPEN reply) for
    ``reopen_within``; then it closes for good, after one reminder at half that time."""

    reopen_within: timedelta = timedelta(days=7)


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
    bundle_max_cases: int = 10  # case numbers listed in one bundled page; beyond: count and link


@dataclass(frozen=True)
class NotifySettings:
    shift_start: bool = True  # SMS each member when their shift on a level starts
    shift_reminder: timedelta | None = None  # and this long before it starts (None: no)


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
    severity_rules: SeverityRules  # the built-in rules extended by email.severity_phrases
    severity_question_timeout: timedelta  # an unanswered severity question is decided then
    # Authserv-ids of the receiving MTA whose Authentication-Results headers are believed.
    authserv_ids: tuple[str, ...] = ()
    # Mail to this address escalates the case named by [Case N] to the duty manager ("" off).
    escalation_address: str = ""


@dataclass(frozen=True)
class RetentionSettings:
    """How long records are kept; None means for ever (``never``)."""

    receipts: timedelta | None = timedelta(days=30)  # webhook receipts and IVR call states
    refused_attempts: timedelta | None = timedelta(days=365)  # attempts and their messages
    recordings: timedelta | None = timedelta(days=90)  # callers' recordings, here and at Twilio
    closed_cases: timedelta | None = None  # resolved and downgraded cases
    case_page: timedelta | None = timedelta(days=30)  # a closed case's page link keeps working


@dataclass(frozen=True)
class IntakeSettings:
    # A critical email from a customer with an open case joins it instead of opening another.
    join_open_case: bool = True


@dataclass(frozen=True)
class User:
    username: str
    role: str  # "manager" | "engineer"
    password_hash: str
    member: str | None = None  # the rota member this user is (acts on their team's cases)


@dataclass(frozen=True)
class ApiToken:
    name: str
    token: str
    scope: str = "read"  # "read" | "act": act may acknowledge, post statuses, escalate, resolve
    member: str | None = None  # the rota member its actions are made as (else the token name)


@dataclass(frozen=True)
class Settings:
    source: str
    company: str
    timezone: str
    phone_region: str  # phone numbers written without a country code are read in this region
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
    notify: NotifySettings = field(default_factory=NotifySettings)
    # web.trusted_proxies: reverse-proxy hops whose X-Forwarded-For/-Proto are believed
    trusted_proxies: int = 0
    metrics_token: str = ""  # metrics.token: /metrics wants it as a bearer token when set
    # Who is alerted when a case has nobody to page (phones and email addresses); empty means
    # every loaded team's manager (see oncall.engine.unroutable).
    escalation_contacts: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    closure: ClosureSettings = field(default_factory=ClosureSettings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    # The environment the file was read with (its ${VAR}s and overrides): a reload reads the
    # file again with the same one. Never shown: it holds secrets.
    environ: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
