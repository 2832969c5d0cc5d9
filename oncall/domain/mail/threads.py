"""What ties a mail to a conversation: Message-IDs (read from ``Message-ID``, ``In-Reply-To``
and ``References``, and made for the mail we send) and the ``[Case N]`` a subject names."""

from __future__ import annotations

import re
import secrets

from oncall.domain.mail.inbound import InboundEmail

_MSGID = re.compile(r"<([^<>\s]+)>")
_MAX_IDS = 500


def ids_in(value: str | None) -> tuple[str, ...]:
    """The message ids of one header value, ``<...>`` each (a bare ``id@host`` gets brackets)."""
    if not value:
        return ()
    found = [f"<{m}>" for m in _MSGID.findall(value)]
    if not found:
        bare = value.strip()
        if bare and "@" in bare and not re.search(r"\s", bare):
            found = [f"<{bare.strip('<>')}>"]
    return tuple(dict.fromkeys(found))[:_MAX_IDS]


def message_ids(mail: InboundEmail) -> set[str]:
    """Every message id this mail answers (``In-Reply-To`` and ``References``), for threading."""
    ids = set(ids_in(mail.header("In-Reply-To"))) | set(mail.references)
    if mail.in_reply_to:
        ids.add(mail.in_reply_to)
    return ids


def make_message_id(row_id: int, from_address: str) -> str:
    """The Message-ID of an email we send: ``<oncall.<outbox row id>.<16 hex>@<our domain>>``.

    The row id keeps it unique per outbox row, the random part makes it unguessable (a reply
    naming it threads to a case), and our own domain keeps it ours.
    """
    domain = from_address.rpartition("@")[2] or "oncall.invalid"
    return f"<oncall.{row_id}.{secrets.token_hex(8)}@{domain}>"


_CASE_BRACKET = re.compile(r"\[\s*case\s*(?:#|no\.?|number|:)?\s*(\d+)\s*\]", re.IGNORECASE)
_CASE_LOOSE = re.compile(
    r"(?<![\w])(?<!in )case\s*(?:#|no\.|number|:)?\s*(\d+)(?![\d])", re.IGNORECASE
)
MIN_CASE_NUMBER = 1000
_MAX_CASE_DIGITS = 12


def case_number_from_subject(subject: str | None) -> int | None:
    """The case a subject names: ``[Case 1042]``, ``Re: [Case #1042] …``, ``Case #1042``,
    ``Case No. 1042``, ``case 1042`` (any case). A bracketed reference wins over a loose one;
    numbers below 1000 are not case numbers (and "in case 1000 …" is not a reference).
    """
    if not subject:
        return None
    for pattern in (_CASE_BRACKET, _CASE_LOOSE):
        for match in pattern.finditer(subject):
            digits = match.group(1)
            if len(digits) > _MAX_CASE_DIGITS:
                continue
            number = int(digits)
            if number >= MIN_CASE_NUMBER:
                return number
    return None
