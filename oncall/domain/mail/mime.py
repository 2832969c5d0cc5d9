"""MIME messages (SendGrid's raw variant, or a ``.eml``): the body found among the parts,
each part decoded with its own charset, attachments listed but never read; and the one place
an :class:`~oncall.domain.mail.inbound.InboundEmail` is built from headers and body."""

from __future__ import annotations

from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import Any

from oncall.domain.mail.addresses import address_list, first_address, normalise_spec
from oncall.domain.mail.decoding import (
    clean,
    decode_field,
    decode_words,
    guard,
    header_text,
    newlines,
)
from oncall.domain.mail.inbound import AttachmentInfo, EmailParseError, Headers, InboundEmail
from oncall.domain.mail.text import html_to_text
from oncall.domain.mail.threads import ids_in

_MAX_DEPTH = 40
_MAX_PARTS = 500


def parse_bytes(raw: str | bytes) -> Message:
    if isinstance(raw, str):
        try:
            data = raw.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            data = raw.encode("utf-8", "replace")
    else:
        data = bytes(raw)
    if not data.strip():
        raise EmailParseError("the MIME message is empty")
    try:
        return BytesParser(policy=policy.default).parsebytes(data)
    except RecursionError as exc:
        raise EmailParseError("the MIME message is nested too deeply") from exc


def parse_mime(raw: bytes | str) -> InboundEmail:
    """Read a whole MIME message (SendGrid's raw variant, or a ``.eml``).

    The body is the ``text/plain`` part (several inline ones are joined); without one, the
    ``text/html`` part converted by :func:`html_to_text`. ``multipart/alternative`` picks its
    plain alternative; nested multiparts are walked; each part is decoded with its own charset.
    Parts with a filename or ``Content-Disposition: attachment``, non-text parts and attached
    messages are listed in ``attachments`` (metadata only) and never read as the body.

    Raises :class:`EmailParseError` for an empty message or one without a ``From``.
    """
    return from_message(parse_bytes(raw), "mime", None, {})


def _part_text(part: Message) -> str:
    payload = guard(lambda: part.get_payload(decode=True), b"")
    if not isinstance(payload, bytes):
        return ""
    charset = guard(part.get_content_charset, None)
    return newlines(decode_field(payload, charset))


def _part_size(part: Message) -> int | None:
    if guard(part.is_multipart, False):
        data = guard(part.as_bytes, None)
        return len(data) if isinstance(data, bytes) else None
    payload = guard(lambda: part.get_payload(decode=True), None)
    return len(payload) if isinstance(payload, bytes) else None


class _Body:
    def __init__(self) -> None:
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[AttachmentInfo] = []
        self.parts = 0


def _walk(part: Message, body: _Body, depth: int) -> None:
    body.parts += 1
    if depth > _MAX_DEPTH or body.parts > _MAX_PARTS:
        return
    ctype = guard(part.get_content_type, "text/plain")
    maintype = ctype.split("/", 1)[0]
    disposition = guard(part.get_content_disposition, None)
    filename = guard(part.get_filename, None)
    if maintype == "multipart" and guard(part.is_multipart, False):
        children = guard(part.get_payload, [])
        children = (
            [c for c in children if isinstance(c, Message)] if isinstance(children, list) else []
        )
        if ctype == "multipart/alternative":
            _walk_alternative(children, body, depth)
        else:
            for child in children:
                _walk(child, body, depth + 1)
        return
    if maintype == "multipart":
        ctype = "text/plain"  # a multipart without a boundary: its content is all there is
    is_body = ctype in {"text/plain", "text/html"} and disposition != "attachment" and not filename
    if is_body:
        (body.plain if ctype == "text/plain" else body.html).append(_part_text(part))
        return
    body.attachments.append(
        AttachmentInfo(
            filename=clean(str(filename)) if filename else None,
            content_type=ctype,
            size=_part_size(part),
        )
    )


def _walk_alternative(children: list[Message], body: _Body, depth: int) -> None:
    """One of the alternatives is the body: plain text preferred, HTML kept beside it."""
    found: list[_Body] = []
    for child in children:
        sub = _Body()
        sub.parts = body.parts
        _walk(child, sub, depth + 1)
        body.parts = sub.parts
        found.append(sub)
    plain = next((b for b in found if any(t.strip() for t in b.plain)), None)
    rich = next((b for b in found if any(t.strip() for t in b.html)), None)
    if plain is not None:
        body.plain.extend(plain.plain)
    if rich is not None:
        body.html.extend(rich.html)
    for sub in found:
        body.attachments.extend(sub.attachments)


def from_message(
    msg: Message, variant: str, fallback_from: str | None, extra: dict[str, Any]
) -> InboundEmail:
    headers = Headers(
        (str(name), header_text(str(value))) for name, value in guard(msg.raw_items, [])
    )
    body = _Body()
    _walk(msg, body, 0)
    text = "\n".join(t.strip("\n") for t in body.plain if t.strip())
    markup = "\n".join(body.html)
    if not text.strip() and markup.strip():
        text = html_to_text(markup)
    from_raw = headers.get("From")
    if (from_raw is None or not from_raw.strip()) and fallback_from:
        from_raw = fallback_from
    return build_email(
        headers=headers,
        from_raw=from_raw,
        subject=decode_words(headers.get("Subject")),
        to_value=headers.get("To"),
        cc_value=headers.get("Cc"),
        text=text,
        markup=clean(markup),
        attachments=tuple(body.attachments),
        variant=variant,
        extra=extra,
    )


def _optional(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip()


def build_email(
    *,
    headers: Headers,
    from_raw: str | None,
    subject: str,
    to_value: str | None,
    cc_value: str | None,
    text: str,
    markup: str,
    attachments: tuple[AttachmentInfo, ...],
    variant: str,
    extra: dict[str, Any],
) -> InboundEmail:
    if from_raw is None or not from_raw.strip():
        raise EmailParseError("the message has no sender ('from')")
    from_raw = header_text(from_raw)
    first = first_address(from_raw)
    if first is None:
        raise EmailParseError(f"no sender address in 'from': {from_raw[:200]!r}")
    from_name, from_spec = first
    reply = first_address(headers.get("Reply-To"))
    message_id = ids_in(headers.get("Message-ID"))
    in_reply_to = ids_in(headers.get("In-Reply-To"))
    return InboundEmail(
        from_address=normalise_spec(from_spec),
        from_raw=from_raw,
        from_name=from_name.strip(),
        reply_to=(reply[1] if reply else from_spec).strip(),
        to=address_list(to_value),
        cc=address_list(cc_value),
        subject=" ".join(clean(subject).split()),
        text=clean(text),
        html=clean(markup),
        message_id=message_id[0] if message_id else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=ids_in(headers.get("References")),
        headers=headers,
        auto_submitted=_optional(headers.get("Auto-Submitted")),
        precedence=_optional(headers.get("Precedence")),
        list_id=_optional(headers.get("List-Id")),
        attachments=attachments,
        variant=variant,
        **extra,
    )
