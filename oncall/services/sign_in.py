"""Dashboard sign-in: the password check, the limiter, and sessions held on the server.

**The limiter** counts failed sign-ins in the database (``sign_in_failures``), so every gunicorn
worker and a restarted ``oncall serve`` see the same count, and time is the runtime's clock:

* per **client address**: :data:`ADDRESS_LIMIT` failures in :data:`WINDOW`, then that address
  waits, whatever name it tries (guessing one password across every user counts too);
* per **user name**, more loosely: :data:`USER_LIMIT` failures in the window from anywhere, then
  that name is refused *only from browsers that have not signed in as it before* (the web layer
  tells, with a signed cookie). Many addresses guessing Dana's password are stopped, and Dana
  on her own browser is never locked out by them.

A refused attempt checks no password and records nothing: hammering while blocked neither
probes the password nor stretches the block. A success clears nothing either, or one valid
account would reset the address's count between guesses at another.

**Sessions** are rows (``web_sessions``): the cookie carries a random token, the table its
SHA-256. Signing out deletes the row, so a copied cookie stops working at once; a session also
ends after :data:`SESSION_MAX_AGE`, and when the user's password changes in ``config.yaml``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from oncall.config.settings import User
from oncall.db.models import SignInFailure, WebSession
from oncall.db.session import transaction
from oncall.runtime import Runtime

log = logging.getLogger("oncall.services.sign_in")

ADDRESS_LIMIT = 5  # failed sign-ins from one address ...
USER_LIMIT = 30  # ... or for one user name, from browsers that never signed in as it ...
WINDOW = timedelta(minutes=15)  # ... inside this window; then wait until the oldest ages out
SESSION_MAX_AGE = timedelta(hours=12)  # a signed cookie never expires by itself; we make it
MAX_USERNAME = 100
MAX_ADDRESS = 64

# Checked against when the user name is unknown, so an unknown name costs as much time as a
# wrong password and response times don't reveal which user names exist.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignInResult:
    """``user`` and ``token`` (for the session cookie) on success; ``retry_after`` seconds when
    the limiter refused; all empty for a wrong user name or password."""

    user: User | None = None
    token: str | None = None
    retry_after: int = 0


def sign_in(
    runtime: Runtime,
    username: str,
    password: str,
    address: str,
    known_device: bool,
    now: datetime,
) -> SignInResult:
    """Check a sign-in; on success open a session and return its token."""
    name = username.strip()[:MAX_USERNAME]
    key = name.casefold()
    address = (address or "-")[:MAX_ADDRESS]
    with runtime.sessions() as session:
        wait = _wait(session, SignInFailure.address, address, ADDRESS_LIMIT, now)
        if not known_device:
            wait = max(wait, _wait(session, SignInFailure.username, key, USER_LIMIT, now))
    if wait:
        log.warning("sign-in refused for %r from %s: %ds to wait", name, address, wait)
        return SignInResult(retry_after=wait)

    user = runtime.settings.users.get(name)
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    valid = check_password_hash(stored, password) and stored is not _DUMMY_HASH
    with transaction(runtime.sessions) as session:
        if user is None or not valid:
            session.execute(delete(SignInFailure).where(SignInFailure.at <= now - WINDOW))
            session.add(SignInFailure(at=now, address=address, username=key))
            log.warning("failed sign-in for %r from %s", name, address)
            return SignInResult()
        token = secrets.token_urlsafe(32)
        session.execute(delete(WebSession).where(WebSession.signed_in_at <= now - SESSION_MAX_AGE))
        session.add(
            WebSession(
                token_hash=_digest(token),
                username=user.username,
                signed_in_at=now,
                password_fingerprint=_fingerprint(user),
            )
        )
    log.info("signed in: %s (%s) from %s", user.username, user.role, address)
    return SignInResult(user=user, token=token)


def signed_in_user(runtime: Runtime, token: str | None, now: datetime) -> User | None:
    """The user of the session ``token`` names, while it is live; None otherwise."""
    if not token or not isinstance(token, str):
        return None
    with runtime.sessions() as session:
        row = session.get(WebSession, _digest(token))
    if row is None or now - row.signed_in_at > SESSION_MAX_AGE:
        return None
    user = runtime.settings.users.get(row.username)
    if user is None or _fingerprint(user) != row.password_fingerprint:
        return None  # removed from config.yaml, or the password changed since
    return user


def sign_out(runtime: Runtime, token: str | None) -> None:
    """End the session ``token`` names, on the server: its cookie is worthless from now on."""
    if not token or not isinstance(token, str):
        return
    with transaction(runtime.sessions) as session:
        session.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))


def _wait(session: Session, column, value: str, limit: int, now: datetime) -> int:
    """Seconds until ``value`` (an address or a user name) may try again; 0: now."""
    recent = session.scalars(
        select(SignInFailure.at)
        .where(column == value, SignInFailure.at > now - WINDOW)
        .order_by(SignInFailure.at.desc())
        .limit(limit)
    ).all()
    if len(recent) < limit:
        return 0
    # The count drops below the limit when the limit-th most recent failure leaves the window.
    return max(int((recent[-1] + WINDOW - now).total_seconds()) + 1, 1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()
