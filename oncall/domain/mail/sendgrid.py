"""SendGrid Inbound Parse posts: the parsed variant (one form field per part, each in the
charset ``charsets`` names) and the raw variant (the whole MIME message in ``email``), with the
envelope, SPF and DKIM verdicts and the attachments' metadata; and the raw bytes of each form
field, recovered before werkzeug decodes them as UTF-8."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import collapse_rfc2231_value
from typing import Any

from oncall.domain.mail.addresses import normalise_address
from oncall.domain.mail.decoding import (
    clean,
    decode_field,
    decode_words,
    decodes_as_utf8,
    guard,
    header_text,
    newlines,
)
from oncall.domain.mail.inbound import (
    AttachmentInfo,
    EmailParseError,
    FileLike,
    Headers,
    InboundEmail,
)
from oncall.domain.mail.mime import build_email, from_message, parse_bytes
from oncall.domain.mail.text import html_to_text


def _form_value(form: Mapping[str, Any], *names: str) -> str | bytes | None:
    for name in names:
        value = form.get(name)
        if value is None:
            continue
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if isinstance(value, str | bytes | bytearray):
            return bytes(value) if isinstance(value, bytearray) else value
        if value is not None:
            return str(value)
    return None


def _form_text(form: Mapping[str, Any], *names: str) -> str | None:
    value = _form_value(form, *names)
    return None if value is None else decode_field(value, "utf-8")


def _json(value: str | None) -> Any:
    """Parse JSON; raise ``ValueError`` when it is not."""
    if value is None:
        raise ValueError("missing")
    try:
        return json.loads(value)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def _lenient_json_object(value: str | None) -> dict[str, Any]:
    if not value or not value.strip():
        return {}
    try:
        parsed = _json(value)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _envelope(value: str | None) -> tuple[str | None, tuple[str, ...]]:
    if value is None or not value.strip():
        return None, ()
    try:
        parsed = _json(value)
    except ValueError as exc:
        raise EmailParseError(f"envelope is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise EmailParseError("envelope must be a JSON object with 'to' and 'from'")
    sender: str | None = None
    if "from" in parsed:
        raw = parsed["from"]
        # the null reverse-path <> of bounces arrives as "" (or null): the sender is empty
        sender = "" if raw is None else clean(str(raw)).strip().strip("<>").strip().casefold()
    to = parsed.get("to") or ()
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list | tuple):
        raise EmailParseError("envelope 'to' must be a list of addresses")
    normalised = (normalise_address(clean(str(item))) for item in to)
    return sender, tuple(dict.fromkeys(n for n in normalised if n))


def _file_size(upload: object) -> int | None:
    if upload is None:
        return None
    if isinstance(upload, bytes | bytearray):
        return len(upload)
    length = getattr(upload, "content_length", None)
    if isinstance(length, int) and not isinstance(length, bool) and length > 0:
        return length
    stream = getattr(upload, "stream", upload)
    try:
        here = stream.tell()
        end = stream.seek(0, 2)
        stream.seek(here)
    except (AttributeError, OSError, ValueError, TypeError):
        return None
    return end if isinstance(end, int) else None


def _attachment_key(name: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", name)[:9]
    return (int(digits) if digits else 0, name)


_MAX_PLACEHOLDERS = 100


def _sendgrid_attachments(
    form: Mapping[str, Any], files: Mapping[str, Any] | None
) -> tuple[AttachmentInfo, ...]:
    info = _lenient_json_object(_form_text(form, "attachment-info"))
    uploads = {k: v for k, v in (files or {}).items() if re.fullmatch(r"attachment\d+", str(k))}
    keys = sorted({str(k) for k in info} | set(uploads), key=_attachment_key)
    if not keys:
        count_text = (_form_text(form, "attachments") or "").strip()
        count = (
            int(count_text)
            if count_text.isascii() and count_text.isdigit() and len(count_text) <= 6
            else 0
        )
        keys = [f"attachment{n}" for n in range(1, min(count, _MAX_PLACEHOLDERS) + 1)]
    out = []
    for key in keys:
        meta = info.get(key)
        meta = meta if isinstance(meta, dict) else {}
        upload = uploads.get(key)
        filename = meta.get("filename") or meta.get("name") or getattr(upload, "filename", None)
        content_type = (
            meta.get("type")
            or getattr(upload, "content_type", None)
            or getattr(upload, "mimetype", None)
            or "application/octet-stream"
        )
        out.append(
            AttachmentInfo(
                filename=decode_words(str(filename)) if filename else None,
                content_type=clean(str(content_type)).strip().lower(),
                size=_file_size(upload),
            )
        )
    return tuple(out)


def raw_form_fields(body: bytes, content_type: str) -> dict[str, bytes]:
    """The undecoded bytes of each non-file field of a ``multipart/form-data`` body.

    werkzeug decodes form fields as UTF-8, which turns an ISO-8859-1 body into U+FFFD; the web
    layer can read ``request.get_data(cache=True)`` before touching ``request.form`` and pass
    ``{**request.form, **raw_form_fields(data, request.content_type)}`` to
    :func:`parse_sendgrid`, which then decodes each field with its real charset. Uploaded files
    are left out (``request.files`` has them); a repeated name keeps its first value. Never
    raises: anything that is not ``multipart/form-data`` gives ``{}``.
    """
    content_type = " ".join(str(content_type or "").split())
    if not content_type.casefold().startswith("multipart/form-data") or not body:
        return {}
    head = f"Content-Type: {content_type}\r\n\r\n".encode("utf-8", "replace")
    message = guard(lambda: BytesParser(policy=policy.default).parsebytes(head + bytes(body)), None)
    if message is None or not guard(message.is_multipart, False):
        return {}
    fields: dict[str, bytes] = {}
    for part in guard(message.get_payload, []) or []:
        if not isinstance(part, Message) or guard(part.get_filename, None) is not None:
            continue
        name = guard(lambda p=part: p.get_param("name", header="content-disposition"), None)
        value = guard(lambda p=part: p.get_payload(decode=True), None)
        if isinstance(name, tuple):  # RFC 2231 encoded: (charset, language, value)
            name = guard(lambda n=name: collapse_rfc2231_value(n), None)
        if isinstance(name, str) and isinstance(value, bytes) and name not in fields:
            fields[name] = value
    return fields


# In a part's headers, what makes werkzeug's value differ from the part's bytes: a transfer
# encoding (only the email parser decodes it), a charset (werkzeug decodes with it), an RFC 2231
# name (``name*=``) or a quoted-pair in a name (the two parsers may read the name differently).
_PART_HEADER_SIGNS = re.compile(rb"transfer-encoding|charset\s*=|\*|\\", re.IGNORECASE)
# The end of a part's header block as werkzeug finds it; the email parser's (the first empty
# line, \n\r counting) is never later than the end of this match.
_EMPTY_LINE = re.compile(rb"\r\n\r\n|\r\r|\n\n")


def _part_headers(body: bytes, delimiter: bytes) -> Iterator[bytes]:
    """What follows every occurrence of ``delimiter`` up to the next empty line: at least the
    header block of each part either parser sees, maybe more (never less)."""
    at = body.find(delimiter)
    while at != -1:
        start = at + len(delimiter)
        empty = _EMPTY_LINE.search(body, start)
        yield body[start : empty.end() if empty else len(body)]
        at = body.find(delimiter, start)


def form_is_exact(
    body: bytes,
    boundary: str | None,
    form: Mapping[str, str],
    values: Iterable[str],
    parts: int,
) -> bool:
    """Whether werkzeug's form (``form``: first values; ``values``: all of them; ``parts``: how
    many fields and files it read) already holds what :func:`parse_sendgrid` would make of
    :func:`raw_form_fields`, which re-parses the whole body (a third of an intake's cost).

    So it is for the parsed variant of a plain multipart body whose fields are all ASCII, or
    valid UTF-8 with only UTF-8 family charsets (see :func:`decodes_as_utf8`), where both
    parsers see the same parts. When unsure, False: the caller recovers the bytes as before.
    """
    if not boundary or not body or "email" in form:
        return False  # not multipart, or the raw variant: its MIME message is read from bytes
    delimiter = b"--" + boundary.encode("utf-8", "replace")
    headers = list(_part_headers(body, delimiter))
    # Every delimiter a part that werkzeug read (the last one closes the body): else a value
    # holds the delimiter's text, or a part werkzeug dropped; the bytes would tell otherwise.
    if len(headers) != parts + 1:
        return False
    if any(_PART_HEADER_SIGNS.search(block) for block in headers):
        return False
    # With no charset in the parts' headers werkzeug decoded every field as UTF-8: an ASCII
    # value was ASCII bytes (the files' bytes do not matter).
    values = list(values)
    ascii_only = all(v.isascii() for v in values)
    if not ascii_only and any("\ufffd" in v or v.startswith("\ufeff") for v in values):
        return False  # bytes that were not UTF-8 (or a BOM utf-8-sig would drop)
    charsets = _lenient_json_object(_form_text(form, "charsets"))
    return all(decodes_as_utf8(c, ascii_only=ascii_only) for c in charsets.values())


def parse_sendgrid(
    form: Mapping[str, Any], files: Mapping[str, FileLike] | None = None
) -> InboundEmail:
    """Read a SendGrid Inbound Parse post (``request.form``, ``request.files``).

    The raw variant (an ``email`` field holding the whole MIME message) is parsed with
    :func:`parse_mime`; the form adds the envelope, SPF and DKIM verdicts. In the parsed
    variant each field is decoded with the charset SendGrid named in ``charsets`` (see
    :func:`decode_field`; values may be ``bytes``), message ids and loop-guard headers come
    from the ``headers`` block, and the sender from ``from`` (else the block's ``From``).

    Raises :class:`EmailParseError` when there is no sender, or ``envelope`` is not a JSON
    object. Malformed ``charsets`` or ``attachment-info`` are ignored (UTF-8 and the uploaded
    files stand in): they lose nothing a person needs.
    """
    envelope_from, envelope_to = _envelope(_form_text(form, "envelope"))
    spf = _form_text(form, "SPF", "spf")
    dkim = _form_text(form, "dkim", "DKIM")
    extra = {
        "spf": spf.strip() if spf is not None else None,
        "dkim": dkim.strip() if dkim is not None else None,
        "envelope_from": envelope_from,
        "envelope_to": envelope_to,
    }
    raw = _form_value(form, "email")
    if raw is not None and raw.strip():
        fallback_from = _form_text(form, "from")
        return from_message(parse_bytes(raw), "raw", fallback_from, extra)

    charsets = _lenient_json_object(_form_text(form, "charsets"))

    def field_text(name: str) -> str | None:
        value = _form_value(form, name)
        if value is None:
            return None
        charset = charsets.get(name)
        return decode_field(value, charset if isinstance(charset, str) else "utf-8")

    header_block = _form_text(form, "headers") or ""
    parsed = guard(lambda: HeaderParser(policy=policy.default).parsestr(header_block), None)
    headers = Headers(
        (name, header_text(value)) for name, value in (parsed.raw_items() if parsed else ())
    )
    from_raw = field_text("from")
    if from_raw is None or not from_raw.strip():
        from_raw = headers.get("From")
    subject = field_text("subject")
    if subject is None:
        subject = headers.get("Subject")
    to_value = field_text("to")
    cc_value = field_text("cc")
    text = newlines(field_text("text") or "")
    markup = field_text("html") or ""
    if not text.strip() and markup.strip():
        text = html_to_text(markup)
    return build_email(
        headers=headers,
        from_raw=from_raw,
        subject=decode_words(subject),
        to_value=to_value if to_value is not None else headers.get("To"),
        cc_value=cc_value if cc_value is not None else headers.get("Cc"),
        text=text,
        markup=markup,
        attachments=_sendgrid_attachments(form, files),
        variant="parsed",
        extra=extra,
    )
