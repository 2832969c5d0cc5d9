"""The records that are the truth: cases, their timelines, deadlines, the outbox.

Everything that must happen later is a row with a due time (:class:`Deadline`, or an
:class:`OutboundMessage` with ``next_attempt_at``); the engine claims due rows and applies them
in one transaction with the state change and the messages it causes. Columns are plain strings
and integers (no native enums) so the schema is identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from oncall.domain.enums import (
    OPEN_STATES,
    CaseState,
    DeadlineState,
    FeeState,
    OutboxState,
    SeveritySource,
)

# The largest value an Integer column holds on PostgreSQL (a signed 32-bit integer); larger
# numbers arriving from outside (a case number in a subject, an id in a URL) name nothing and
# are answered as such before they reach a query, where they would overflow.
INTEGER_MAX = 2**31 - 1


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones and hands back naive values.
    Values are converted to UTC on the way in and come back aware (UTC) on the way out, so
    domain code never meets a naive datetime. Naive input is a bug and is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware values")
        value = value.astimezone(UTC)
        # SQLite compares datetimes as text: store them uniformly without an offset suffix.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Counter(Base):
    """Named counters (the human case-number sequence starts at 1001)."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    team: Mapped[str] = mapped_column(String(64), index=True)
    customer_key: Mapped[str] = mapped_column(String(64), index=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(64), default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    channel: Mapped[str] = mapped_column(String(10))
    severity_claimed: Mapped[int] = mapped_column(Integer)
    severity: Mapped[int] = mapped_column(Integer)
    # How the severity was set (SeveritySource), and for an email whose severity was unclear,
    # when the customer was asked and when they answered (the triage clock starts then).
    severity_source: Mapped[str] = mapped_column(
        String(20), default=SeveritySource.STATED.value, server_default=SeveritySource.STATED.value
    )
    severity_asked_at: Mapped[datetime | None]
    severity_answered_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(20), index=True, default=CaseState.OPEN.value)
    summary: Mapped[str] = mapped_column(Text, default="")
    after_hours: Mapped[bool] = mapped_column(Boolean, default=True)
    # Idempotency of intake: "call:<CallSid>" or "email:<Message-ID>" opens one case only.
    intake_key: Mapped[str | None] = mapped_column(String(400), unique=True)

    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))  # rota member key
    acknowledged_by_name: Mapped[str | None] = mapped_column(String(200))
    triage_due_at: Mapped[datetime | None]
    first_status_at: Mapped[datetime | None]
    last_status_at: Mapped[datetime | None]
    status_due_at: Mapped[datetime | None]
    # The contract the case is held to, frozen when its clocks started (the plan's targets per
    # severity, their clock, the support hours, the after-hours multiplier: see
    # oncall.domain.contract), so an edit of customers.yaml never moves an open case's clocks.
    # None for cases opened before contracts: they follow config.yaml's sla.
    targets: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    first_status_due_at: Mapped[datetime | None]  # status_due_at moves on to each update
    resolution_due_at: Mapped[datetime | None]
    eta_at: Mapped[datetime | None]
    eta_text: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None]
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # Waiting for the customer (WAIT): since when, and the seconds of every wait that ended
    # (the status clocks were paused that long; a wait in progress is not counted yet).
    waiting_since: Mapped[datetime | None]
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Closure: when a resolved case closed for good (no REOPEN within closure.reopen_within),
    # how often the customer reopened it and when last (its escalation runs from then), and
    # the case a REOPEN after closure followed (this case names it).
    closed_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopened_at: Mapped[datetime | None]
    follows_number: Mapped[int | None] = mapped_column(Integer)

    # The escalation policy and the people it resolved to, frozen when the case opened.
    escalation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    escalation_round: Mapped[int] = mapped_column(Integer, default=0)

    recording_url: Mapped[str | None] = mapped_column(String(500))
    recording_duration: Mapped[int | None] = mapped_column(Integer)
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    # Opened from an email whose sender failed SPF and DKIM, for a customer that trusts
    # unauthenticated email: shown as such, and never charged a misuse fee.
    sender_unverified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The customer's case page (/c/<token>): the token is derived from this random nonce and
    # the secret key, so every later message can carry the link; only its hash is stored, so
    # the database alone never yields a working link.
    page_nonce: Mapped[str | None] = mapped_column(String(64))
    page_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class CaseEvent(Base):
    """One line of a case's timeline: what happened, when, and who did it."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200), default="system")
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class Deadline(Base):
    """A timer: something the engine must do at ``due_at`` unless cancelled first.

    ``(case_id, kind, seq)`` is unique, so scheduling the same timer twice is a no-op and a
    retried transaction can never arm a second copy. A timer of a team rather than a case (a
    shift notice) has no case: it names its ``team``, and its unique ``key`` makes arming it
    idempotent however many engines try.
    """

    __tablename__ = "deadlines"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", "seq", name="uq_deadlines_case_kind_seq"),
        Index("ix_deadlines_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    team: Mapped[str | None] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20), default=DeadlineState.PENDING.value)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(100))  # engine instance that applied it


class LiveOverride(Base):
    """Somebody on call for a level of a team's rota, from the database rather than the file:
    an engineer's ``TAKE``. Layered over the file's overrides wherever the rota is resolved
    (:mod:`oncall.cases.live_rota`); a manager removes it (``removed_at``), nothing deletes it.
    """

    __tablename__ = "live_overrides"
    __table_args__ = (Index("ix_live_overrides_team_ends", "team", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(64))
    rotation: Mapped[str] = mapped_column(String(64))  # the level's rotation it is written for
    member: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))  # who made it (a name)
    created_via: Mapped[str] = mapped_column(String(20), default="sms")  # sms | dashboard | cli
    replaced: Mapped[str] = mapped_column(String(400), default="")  # who was on call instead
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(200))


class OutboundMessage(Base):
    """An SMS, voice call or email to send: the outbox.

    pending → sending → sent → delivered | failed. ``sending`` is written and committed before
    the provider is called, so a crash mid-send leaves evidence, and the row is reconciled
    with the provider instead of blindly resent.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))  # sms | voice | email
    purpose: Mapped[str] = mapped_column(String(40))  # page, ack_notice, customer_update, ...
    recipient: Mapped[str] = mapped_column(String(100), default="")  # member key or "customer"
    to_address: Mapped[str] = mapped_column(String(320), index=True)
    from_address: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message_id: Mapped[str | None] = mapped_column(String(400), index=True)  # email Message-ID
    state: Mapped[str] = mapped_column(String(20), default=OutboxState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sending_since: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(30))
    status_sequence: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[int | None] = mapped_column(Integer)
    # A key that makes enqueuing idempotent: the same page for the same step is one row.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    fallback_of: Mapped[int | None] = mapped_column(Integer)
    bundled_into: Mapped[int | None] = mapped_column(Integer)


class Attempt(Base):
    """An inbound contact that did not open a case: who, when, why, and what they were told.

    Each wrong PIN is one too (reason ``wrong_pin``): the PIN guard counts them per caller
    number and line-wide, hence the indexes.
    """

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_contact_at", "contact", "at"),
        Index("ix_attempts_reason_at", "reason", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(40))  # unknown_caller, bad_pin, not_entitled, ...
    customer_key: Mapped[str | None] = mapped_column(String(64), index=True)
    contact: Mapped[str] = mapped_column(String(320), default="")  # phone number or address
    told: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False)
    intake_key: Mapped[str | None] = mapped_column(String(400), unique=True)


class MisuseFlag(Base):
    """A case downgraded out of the critical line (fee), or a customer flagged for review."""

    __tablename__ = "misuse_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="fee")  # fee | review
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), unique=True
    )
    customer_key: Mapped[str] = mapped_column(String(64), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, for the billing export
    flagged_at: Mapped[datetime]
    flagged_by: Mapped[str] = mapped_column(String(200), default="system")
    severity_claimed: Mapped[int | None] = mapped_column(Integer)
    severity_set: Mapped[int | None] = mapped_column(Integer)
    fee: Mapped[float] = mapped_column(Float, default=0.0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    reason: Mapped[str] = mapped_column(Text, default="")
    waived_at: Mapped[datetime | None]
    waived_by: Mapped[str | None] = mapped_column(String(200))
    waive_reason: Mapped[str | None] = mapped_column(Text)
    review_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    # FeeState: flagged -> disputed (by the customer, in time) -> confirmed | waived.
    state: Mapped[str] = mapped_column(
        String(20), default=FeeState.FLAGGED.value, server_default=FeeState.FLAGGED.value
    )
    # What the fee rests on, frozen when it was flagged: the engineer's reason, how the
    # severity was chosen (the menu digit, or the email's words), the definitions the caller
    # was read. The recording is linked from the case while retention keeps it.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    disputed_at: Mapped[datetime | None]
    dispute_text: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(200))
    confirm_reason: Mapped[str | None] = mapped_column(Text)


class WebhookReceipt(Base):
    """An inbound webhook already handled: Twilio and SendGrid retry, we act once.

    ``key`` is e.g. ``sms:<MessageSid>``, ``voice:<CallSid>:<step>``, ``email:<Message-ID>``.
    The stored response lets a retried voice step get the very same TwiML back.
    """

    __tablename__ = "webhook_receipts"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)  # the retention pass reads it
    response: Mapped[str] = mapped_column(Text, default="")
    status_code: Mapped[int] = mapped_column(Integer, default=200)


class VoiceCall(Base):
    """The state of one inbound call as it moves through the IVR."""

    __tablename__ = "voice_calls"

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    from_number: Mapped[str] = mapped_column(String(32), default="")
    customer_key: Mapped[str | None] = mapped_column(String(64))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    pin_attempts: Mapped[int] = mapped_column(Integer, default=0)
    menu_attempts: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[int | None] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    dial_index: Mapped[int] = mapped_column(Integer, default=0)
    # Whom the caller is put through to ({key, name, phone, level} each), frozen at the first
    # ring so retried Dial callbacks walk the same list; recording_sid may come before the case.
    dial_plan: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(30), default="greeting")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EngineHeartbeat(Base):
    """The last tick of each engine process, for tick lag on /metrics and /healthz."""

    __tablename__ = "engine_heartbeats"

    instance: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_tick_at: Mapped[datetime]
    last_lag_ms: Mapped[float] = mapped_column(Float, default=0.0)
    last_duration_ms: Mapped[float] = mapped_column(Float, default=0.0)


class WebSession(Base):
    """A signed-in dashboard session, held on the server so signing out ends it everywhere.

    The browser's signed cookie carries a random token; only its SHA-256 is stored, so reading
    this table gives nobody a usable cookie. Signing out deletes the row: a copied cookie then
    names nothing. Rows older than the session lifetime are deleted at the next sign-in.
    """

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    signed_in_at: Mapped[datetime] = mapped_column(index=True)
    # A digest of the password hash at sign-in: a changed password ends older sessions.
    password_fingerprint: Mapped[str] = mapped_column(String(64))


class SignInFailure(Base):
    """A failed dashboard sign-in, counted per client address and per user name by the
    sign-in limiter (in the database, so every worker and restart sees the same count)."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    username: Mapped[str] = mapped_column(String(100), index=True)


class RetiredRota(Base):
    """A team a manager retired (``oncall rota retire TEAM``) after its rota file went away.

    A rota file that disappears keeps its team paging with the last good version (a rename is
    an accident far more often than a wish to stop paging); this row is how every process
    learns, at its next file poll, to let the team go. It is deleted when a rota file for the
    team is back, so a later disappearance is kept live again.
    """

    __tablename__ = "retired_rotas"

    team: Mapped[str] = mapped_column(String(64), primary_key=True)
    retired_at: Mapped[datetime]
    retired_by: Mapped[str] = mapped_column(String(200), default="")
