"""The customer's link to their case page, ``{public_url}/c/<token>``.

The token is an HMAC of a random per-case nonce (128 bits from :mod:`secrets`) under the
service's secret key: 256 bits nobody can guess, that any later message (a status, the
resolution) can carry again without the token itself being stored. Only the token's SHA-256
is kept on the case, which is how a request finds its case; a copy of the database alone
yields no working link. Rotating ``secret_key`` retires every link: the next message about a
case carries its new one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import Case, CaseEvent
from oncall.domain.enums import CaseState
from oncall.runtime import Runtime

PAGE_PATH = "/c/"
# A token is 43 URL-safe characters; anything much longer is not one of ours.
MAX_TOKEN = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _derive(secret_key: str, case: Case) -> str:
    mac = hmac.new(
        secret_key.encode(), f"case-page:{case.number}:{case.page_nonce}".encode(), "sha256"
    )
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def page_token(runtime: Runtime, case: Case) -> str:
    """The case's token, given one now if it has none (inside the caller's transaction)."""
    if not case.page_nonce:
        case.page_nonce = secrets.token_urlsafe(16)
    token = _derive(runtime.settings.secret_key, case)
    digest = token_hash(token)
    if case.page_token_hash != digest:  # new, or the secret key was rotated
        case.page_token_hash = digest
    return token


def page_url(runtime: Runtime, case: Case) -> str:
    return f"{runtime.settings.public_url}{PAGE_PATH}{page_token(runtime, case)}"


def existing_page_url(runtime: Runtime, case: Case) -> str | None:
    """The link the customer was sent, for staff to open; None before any was (reading only:
    a page view never mints a token)."""
    if not case.page_nonce:
        return None
    token = _derive(runtime.settings.secret_key, case)
    if case.page_token_hash != token_hash(token):
        return None  # minted under another secret key: the customer's link no longer works
    return f"{runtime.settings.public_url}{PAGE_PATH}{token}"


def closed_at(session: Session, case: Case) -> datetime | None:
    """When the case left the critical line: closed (after its reopen window), resolved, or
    downgraded (its last event then)."""
    if case.is_open or case.state == CaseState.ASKED.value:
        return None
    if case.closed_at is not None:
        return case.closed_at
    if case.resolved_at is not None:
        return case.resolved_at
    return (
        session.scalar(
            select(CaseEvent.at)
            .where(CaseEvent.case_id == case.id)
            .order_by(CaseEvent.at.desc())
            .limit(1)
        )
        or case.opened_at
    )


def case_for_token(
    session: Session, runtime: Runtime, token: str, now: datetime, for_update: bool = False
) -> Case | None:
    """The case ``token`` opens, or None: unknown, or closed longer than
    ``retention.case_page`` ago (the link then stops working)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    query = select(Case).where(Case.page_token_hash == token_hash(token))
    if for_update:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        return None
    keep: timedelta | None = runtime.settings.retention.case_page
    ended = closed_at(session, case)
    if keep is not None and ended is not None and now - ended > keep:
        return None
    return case
