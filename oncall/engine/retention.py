"""Bounded storage: the retention policy (``retention`` in ``config.yaml``), applied by the engine.

What goes, once older than its age (``never`` keeps it for ever):

- ``receipts``: webhook receipts (SendGrid's and Twilio's retries are over long before) and
  the IVR's per-call state of calls that hold no recording of their own;
- ``refused_attempts``: refused attempts (wrong PINs included) and the messages that belong to
  no case (refusal auto-replies, forwards to the support queue, security alerts) once they
  are sent or given up;
- ``recordings``: callers' recordings, deleted at Twilio (``DELETE …/Recordings/{sid}.json``
  through the voice transport) and then their links on the case, with a line on its timeline;
- ``closed_cases``: resolved, closed and downgraded cases with their timelines, timers and
  messages (a case flagged for a misuse fee stays: it is a billing record); their recordings
  first.

Each pass does a small batch of each kind, oldest first, in short transactions, so it never
holds the database for long; what is left waits for the next pass. It is safe with several
engines: rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (one engine runs on
SQLite), and a recording is cleared under its case's lock only if it is still there, while
deleting it twice at Twilio is harmless (a 404 counts as deleted). The provider is never
called inside a transaction. When it fails, the pass stops deleting recordings and the next
pass tries again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, update

from oncall.cases.events import add_event
from oncall.db.models import (
    Attempt,
    Case,
    MisuseFlag,
    OutboundMessage,
    VoiceCall,
    WebhookReceipt,
)
from oncall.db.session import transaction
from oncall.domain.enums import CaseState, OutboxState
from oncall.domain.transport import TransportError
from oncall.runtime import Runtime

log = logging.getLogger("oncall.engine.retention")

#: How often the engine runs a pass (:class:`oncall.bootstrap.background.BackgroundServices`).
RETENTION_EVERY = timedelta(minutes=1)
ROWS_PER_PASS = 500  # of each kind of row
RECORDINGS_PER_PASS = 10  # each is a call to Twilio
CASES_PER_PASS = 50

_FINISHED = (OutboxState.SENT, OutboxState.DELIVERED, OutboxState.FAILED, OutboxState.CANCELLED)
# A closed case is a resolved one past its reopen window: retention treats both alike.
_CLOSED = (CaseState.RESOLVED, CaseState.CLOSED, CaseState.DOWNGRADED)
_RECORDING_SID = re.compile(r"/Recordings/(RE[0-9a-fA-F]{32})")


@dataclass
class RetentionResult:
    receipts: int = 0
    voice_calls: int = 0
    attempts: int = 0
    messages: int = 0
    recordings: int = 0
    recordings_failed: int = 0
    cases: int = 0

    @property
    def deleted(self) -> int:
        return (
            self.receipts
            + self.voice_calls
            + self.attempts
            + self.messages
            + self.recordings
            + self.cases
        )


def apply_retention(runtime: Runtime, now: datetime | None = None) -> RetentionResult:
    """One pass of the retention policy: a batch of each kind (see the module doc)."""
    now = now or runtime.clock.now()
    policy = runtime.settings.retention
    result = RetentionResult()
    if policy.receipts is not None:
        cutoff = now - policy.receipts
        result.receipts = _purge(runtime, WebhookReceipt.key, WebhookReceipt.received_at < cutoff)
        result.voice_calls = _purge(
            runtime,
            VoiceCall.call_sid,
            VoiceCall.updated_at < cutoff,
            # a recording nobody's case holds is only known here: it goes first (below)
            or_(VoiceCall.recording_sid.is_(None), VoiceCall.case_id.is_not(None)),
        )
    if policy.refused_attempts is not None:
        cutoff = now - policy.refused_attempts
        result.attempts = _purge(runtime, Attempt.id, Attempt.at < cutoff)
        result.messages = _purge(
            runtime,
            OutboundMessage.id,
            OutboundMessage.case_id.is_(None),
            OutboundMessage.created_at < cutoff,
            OutboundMessage.state.in_(_FINISHED),
        )
    recordings = _Recordings(runtime, now)
    if policy.recordings is not None:
        recordings.of_cases(Case.opened_at < now - policy.recordings, "older than the retention")
        recordings.of_calls_without_case(now - policy.recordings)
    if policy.closed_cases is not None:
        result.cases = _purge_closed_cases(runtime, recordings, now - policy.closed_cases)
    result.recordings, result.recordings_failed = recordings.deleted, recordings.failed
    if result.deleted or result.recordings_failed:
        log.info("retention pass: %s", result)
    return result


def _purge(runtime: Runtime, key: Any, *where: ColumnElement[bool]) -> int:
    """Delete up to :data:`ROWS_PER_PASS` rows matching ``where``, claimed so two engines
    never take the same ones; how many went."""
    with transaction(runtime.sessions) as session:
        keys = list(
            session.scalars(
                select(key).where(*where).limit(ROWS_PER_PASS).with_for_update(skip_locked=True)
            )
        )
        if keys:
            session.execute(delete(key.class_).where(key.in_(keys)))
    return len(keys)


def recording_sid(case_sid: str | None, url: str | None) -> str | None:
    """The RecordingSid a case knows, from the status callback or else from its URL."""
    if case_sid:
        return case_sid
    found = _RECORDING_SID.search(url or "")
    return found.group(1) if found else None


class _Recordings:
    """Deletes recordings at the provider, then here; stops at the provider's first failure."""

    def __init__(self, runtime: Runtime, now: datetime) -> None:
        self.runtime = runtime
        self.now = now
        self.store = getattr(runtime.transports.get("voice"), "delete_recording", None)
        self.deleted = 0
        self.failed = 0

    def of_cases(self, where: ColumnElement[bool], why: str) -> None:
        has_recording = or_(Case.recording_url.is_not(None), Case.recording_sid.is_not(None))
        with self.runtime.sessions() as session:
            found = session.execute(
                select(Case.id, Case.recording_sid, Case.recording_url)
                .where(has_recording, where)
                .order_by(Case.opened_at)
                .limit(RECORDINGS_PER_PASS)
            ).all()
        for case_id, sid, url in found:
            if not self._at_provider(recording_sid(sid, url)):
                return
            self._clear_case(case_id, sid, url, why)

    def of_calls_without_case(self, cutoff: datetime) -> None:
        """Recordings of calls that never opened a case (the caller hung up after the beep)."""
        with self.runtime.sessions() as session:
            found = session.execute(
                select(VoiceCall.call_sid, VoiceCall.recording_sid)
                .where(
                    VoiceCall.recording_sid.is_not(None),
                    VoiceCall.case_id.is_(None),
                    VoiceCall.created_at < cutoff,
                )
                .limit(RECORDINGS_PER_PASS)
            ).all()
        for call_sid, sid in found:
            if not self._at_provider(sid):
                return
            with transaction(self.runtime.sessions) as session:
                session.execute(
                    update(VoiceCall)
                    .where(VoiceCall.call_sid == call_sid, VoiceCall.recording_sid == sid)
                    .values(recording_sid=None)
                )
            self.deleted += 1

    def _at_provider(self, sid: str | None) -> bool:
        """Delete ``sid`` at the provider; False (and the pass stops) when that failed."""
        if self.failed:
            return False
        if sid is None or self.store is None:
            return True  # nothing the provider could hold (no SID, or a transport without one)
        try:
            self.store(sid)
        except TransportError as exc:
            self.failed += 1
            log.warning("could not delete recording %s at the provider: %s", sid, exc)
            return False
        return True

    def _clear_case(self, case_id: int, sid: str | None, url: str | None, why: str) -> None:
        """The recording's link and SID leave the case, if they are still the ones deleted."""
        with transaction(self.runtime.sessions) as session:
            case = session.get(Case, case_id, with_for_update=True)
            if case is None or (case.recording_sid, case.recording_url) != (sid, url):
                return  # another engine cleared it, or a new recording arrived: leave it
            case.recording_url = case.recording_sid = case.recording_duration = None
            session.execute(
                update(VoiceCall).where(VoiceCall.case_id == case_id).values(recording_sid=None)
            )
            add_event(
                session,
                case,
                self.now,
                "recording_deleted",
                f"The caller's recording was deleted ({why}); it is gone here and at Twilio",
                recording_sid=sid,
            )
        self.deleted += 1


def _purge_closed_cases(runtime: Runtime, recordings: _Recordings, cutoff: datetime) -> int:
    """Closed cases older than ``cutoff`` (see the module doc): recordings first, then the case
    with its timeline, timers and messages."""
    closed = (
        Case.state.in_(_CLOSED),
        Case.opened_at < cutoff,
        or_(Case.resolved_at.is_(None), Case.resolved_at < cutoff),
        ~exists().where(MisuseFlag.case_id == Case.id, MisuseFlag.kind == "fee"),
    )
    recordings.of_cases(and_(*closed), "the case was closed")
    with transaction(runtime.sessions) as session:
        ids = list(
            session.scalars(
                select(Case.id)
                .where(*closed, Case.recording_url.is_(None), Case.recording_sid.is_(None))
                .limit(CASES_PER_PASS)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            session.execute(delete(OutboundMessage).where(OutboundMessage.case_id.in_(ids)))
            session.execute(delete(Case).where(Case.id.in_(ids)))  # events, timers: cascade
    return len(ids)
