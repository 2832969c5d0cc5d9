"""Mail-loop guards: whether a message is automatic (out-of-office, bounce, list mail, a
robot sender), so we never auto-reply to it (RFC 3834 and common practice)."""

from __future__ import annotations

import re

from oncall.domain.mail.inbound import InboundEmail

_ROBOT_SENDER = re.compile(
    r"^(?:mailer-daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?)(?:[-_.].*)?$"
)
_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply")


def is_auto_generated(mail: InboundEmail) -> str | None:
    """Why we must not auto-reply to ``mail`` (RFC 3834 and common practice), or ``None``.

    This only guards *auto-replies*; whether such a message opens a case is the caller's
    decision. In order, the first that applies:

    1. ``Auto-Submitted`` with any value but ``no`` (auto-replied, auto-generated, …);
    2. ``Precedence: bulk``, ``list``, ``junk`` or ``auto_reply``;
    3. a ``List-Id`` header (mailing list);
    4. a ``List-Unsubscribe`` header: newsletters and bulk senders carry it, a person writing
       to a critical support line does not, and an auto-reply to a list is the loop we fear;
    5. ``X-Auto-Response-Suppress`` naming ``All`` or ``AutoReply`` (Microsoft's request; its
       ``OOF``/``DR``/``RN`` values are about other kinds of responses and do not count);
    6. ``X-Autoreply``, ``X-Autorespond``, ``X-Autoresponder`` or ``X-Auto-Reply`` (any value
       but ``no``/``false``/``0``);
    7. a robot sender: ``MAILER-DAEMON``, ``postmaster``, ``noreply``/``no-reply``,
       ``donotreply``/``do-not-reply``, ``bounce(s)`` local parts;
    8. the null sender: envelope ``from`` empty or ``Return-Path: <>`` (bounces);
    9. ``Content-Type: multipart/report`` (delivery and read reports).
    """
    auto = mail.auto_submitted if mail.auto_submitted is not None else mail.header("Auto-Submitted")
    if auto is not None:
        token = auto.split(";", 1)[0].strip().casefold()
        if token != "no":
            return f"Auto-Submitted: {auto.strip() or '(empty)'}"
    precedence = mail.precedence if mail.precedence is not None else mail.header("Precedence")
    if precedence is not None and precedence.strip().casefold() in {
        "bulk",
        "list",
        "junk",
        "auto_reply",
    }:
        return f"Precedence: {precedence.strip()}"
    list_id = mail.list_id if mail.list_id is not None else mail.header("List-Id")
    if list_id is not None:
        return f"mailing list (List-Id: {list_id.strip()})"
    if mail.header("List-Unsubscribe") is not None:
        return "bulk mail (List-Unsubscribe header)"
    suppress = mail.header("X-Auto-Response-Suppress")
    if suppress is not None:
        values = {v.strip().casefold() for v in re.split(r"[,;\s]+", suppress) if v.strip()}
        if values & {"all", "autoreply"}:
            return f"X-Auto-Response-Suppress: {suppress.strip()}"
    for name in _AUTOREPLY_HEADERS:
        value = mail.header(name)
        if value is not None and value.strip().casefold() not in {"no", "false", "0"}:
            return f"{name}: {value.strip() or '(empty)'}"
    local = mail.from_address.rpartition("@")[0] or mail.from_address
    if _ROBOT_SENDER.match(local.casefold()):
        return f"robot sender {mail.from_address}"
    if mail.envelope_from == "":
        return "null envelope sender (bounce)"
    return_path = mail.header("Return-Path")
    if return_path is not None and return_path.replace(" ", "") in {"<>", ""}:
        return "null Return-Path (bounce)"
    content_type = mail.header("Content-Type")
    if content_type is not None and content_type.strip().casefold().startswith("multipart/report"):
        return "delivery report (multipart/report)"
    return None
