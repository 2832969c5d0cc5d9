"""Inbound email, pure: SendGrid Inbound Parse posts and MIME messages in, one shape out.

Nothing here touches Flask, the database or the network. The web layer hands over the form (and
files) SendGrid posted; it gets back an :class:`InboundEmail` or an :class:`EmailParseError`
(a ``ValueError``, answered with ``400``), and asks the readers below the questions the intake
needs answered:

- :func:`is_auto_generated`: may we auto-reply at all (mail-loop guards)?
- :func:`case_number_from_subject` and :func:`message_ids`: is this a reply to an existing case?
- :func:`classify_severity`: which severity does the customer claim (explicit markers, then
  phrase rules that are data: :class:`SeverityRules`)?
- :func:`strip_quoted_reply`: the new part of a reply, to relay to the engineer.

Decoding never raises on odd input: unknown charsets fall back to UTF-8, then windows-1252, with
replacement characters; results never hold NUL characters or lone surrogates (so they store in
PostgreSQL text columns as they are).
"""

from __future__ import annotations

import codecs
import html
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import collapse_rfc2231_value, getaddresses
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any, Protocol, TypeVar

__all__ = [
    "DEFAULT_SEVERITY_RULES",
    "LOW_PHRASE_SEVERITY",
    "AttachmentInfo",
    "EmailParseError",
    "FileLike",
    "Headers",
    "InboundEmail",
    "SeverityRules",
    "SeverityVerdict",
    "case_number_from_subject",
    "classify_severity",
    "decode_field",
    "display_name",
    "html_to_text",
    "is_auto_generated",
    "message_ids",
    "normalise_address",
    "parse_mime",
    "parse_sendgrid",
    "raw_form_fields",
    "strip_quoted_reply",
]


class EmailParseError(ValueError):
    """The post or message is malformed beyond reading; the web layer answers ``400``."""


# --------------------------------------------------------------------------------------------
# shapes


class Headers(Mapping[str, str]):
    """The original header fields, in order, looked up case-insensitively.

    Values are as received, unfolded (the line breaks of folded headers removed), RFC 2047
    encoded words left as they are; ``get`` and ``[]`` give the first field of a name,
    :meth:`get_all` every one. Iterating gives each name once, spelt as first seen.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: tuple[tuple[str, str], ...] = tuple((str(n), str(v)) for n, v in items)

    def get_all(self, name: str) -> tuple[str, ...]:
        key = name.casefold()
        return tuple(v for n, v in self._items if n.casefold() == key)

    def raw_items(self) -> tuple[tuple[str, str], ...]:
        return self._items

    def __getitem__(self, name: str) -> str:
        if isinstance(name, str):
            key = name.casefold()
            for n, v in self._items:
                if n.casefold() == key:
                    return v
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for n, _ in self._items:
            if n.casefold() not in seen:
                seen.add(n.casefold())
                yield n

    def __len__(self) -> int:
        return len({n.casefold() for n, _ in self._items})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(
            n.casefold() == name.casefold() for n, _ in self._items
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._items == other._items
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"


@dataclass(frozen=True)
class AttachmentInfo:
    """What was attached; the content itself is never kept."""

    filename: str | None
    content_type: str
    size: int | None  # bytes; None when the poster did not tell and we could not measure


@dataclass(frozen=True)
class InboundEmail:
    """One inbound message, whichever way it arrived.

    Addresses in ``from_address``, ``to``, ``cc`` and ``envelope_to`` are normalised with
    :func:`normalise_address` (for matching contacts and our own addresses); ``reply_to`` keeps
    the address as written (``+tag`` included) for answering. ``envelope_from`` is the SMTP
    ``MAIL FROM`` when known: ``""`` is the null sender of bounces, ``None`` means not told.
    Message ids keep their angle brackets, the way ``email.utils.make_msgid`` writes them.
    """

    from_address: str
    from_raw: str = ""
    from_name: str = ""
    reply_to: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    subject: str = ""
    text: str = ""
    html: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    headers: Headers = field(default_factory=Headers)
    auto_submitted: str | None = None
    precedence: str | None = None
    list_id: str | None = None
    attachments: tuple[AttachmentInfo, ...] = ()
    spf: str | None = None
    dkim: str | None = None
    envelope_from: str | None = None
    envelope_to: tuple[str, ...] = ()
    variant: str = "mime"  # "parsed" / "raw" (SendGrid Inbound Parse), "mime" (parse_mime)

    def header(self, name: str) -> str | None:
        """The first header field called ``name`` (any case), unfolded; ``None`` if absent."""
        return self.headers.get(name)


class FileLike(Protocol):
    """An uploaded attachment as the web framework hands it over (werkzeug ``FileStorage``).

    Only ``filename`` is required; ``content_type``/``mimetype``, ``content_length`` and a
    seekable ``stream`` are used when present to fill in :class:`AttachmentInfo`.
    """

    filename: str | None


# --------------------------------------------------------------------------------------------
# text decoding

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LATIN1_CODECS = {"iso8859-1", "latin-1", "latin_1"}
_T = TypeVar("_T")


def _guard(fn: Callable[[], _T], default: _T) -> _T:
    """Run one stdlib email accessor; its parser still has exceptions on some broken input."""
    try:
        return fn()
    except Exception:  # the stdlib email/html parsers raise assorted errors on malformed input
        return default


# C1 control characters come from windows-1252 text read as ISO-8859-1 (even inside RFC 2047
# words labelled iso-8859-1): show them as windows-1252 does (0x96 is an en dash)
_C1_AS_CP1252 = {
    code: bytes([code]).decode("cp1252", "replace").replace("\ufffd", "")
    for code in range(0x80, 0xA0)
}


def _clean(text: str) -> str:
    """No NULs, no C1 controls, no lone surrogates: safe to store, encode and show."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if re.search("[\x80-\x9f]", text):
        text = text.translate(_C1_AS_CP1252)
    return _SURROGATE.sub("\ufffd", text)


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _codec_name(charset: object) -> str | None:
    if not charset or not isinstance(charset, str | bytes):
        return None
    label = charset.decode("ascii", "replace") if isinstance(charset, bytes) else charset
    label = label.strip().strip("\"'").strip()
    if not label or len(label) > 64:
        return None
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError, TypeError):
        return None


def _decode_bytes(raw: bytes, charset: object) -> str:
    name = _codec_name(charset)
    if name is None or name == "ascii":
        # unlabelled or "us-ascii" with 8-bit bytes: UTF-8 if it is valid, else windows-1252
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return raw.decode("cp1252", "replace")
    if name in _LATIN1_CODECS:
        # as browsers do (WHATWG): "iso-8859-1" mail is windows-1252 in practice (smart quotes)
        return raw.decode("cp1252", "replace")
    if name == "utf-8":
        name = "utf-8-sig"
    try:
        return raw.decode(name, "replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        # not a text codec ("base64", "rot13") or one without "replace" ("idna")
        return raw.decode("utf-8", "replace")


def _is_seven_bit_codec(name: str) -> bool:
    return name.startswith("iso2022") or name in {"utf-7", "hz"}


def decode_field(value: str | bytes | bytearray | None, charset: object = None) -> str:
    """Decode one SendGrid form field using the charset SendGrid named for it in ``charsets``.

    - ``bytes`` (what the web layer passes when it can): decoded with ``charset``; ISO-8859-1
      and US-ASCII labels are read as windows-1252, unknown or missing labels as UTF-8 falling
      back to windows-1252; undecodable bytes become U+FFFD.
    - ``str`` holding ``surrogateescape`` characters (bytes a UTF-8 decode kept aside): those
      bytes are recovered and decoded as above.
    - plain ``str`` in a 7-bit charset (ISO-2022-JP, UTF-7, HZ): its escape sequences survived
      the UTF-8 form decode, so it is decoded again with the real charset.
    - any other ``str`` is already text and returned as it is.

    Never raises. The result has no NUL characters, C1 controls or lone surrogates.
    """
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return _clean(_decode_bytes(bytes(value), charset))
    text = str(value)
    if _SURROGATE.search(text):
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return _clean(text)
        return _clean(_decode_bytes(raw, charset))
    name = _codec_name(charset)
    if name and _is_seven_bit_codec(name) and text.isascii():
        try:
            return _clean(text.encode("ascii").decode(name, "replace"))
        except (UnicodeError, LookupError, ValueError):
            return _clean(text)
    return _clean(text)


def _header_text(value: str) -> str:
    """A raw header value: unfolded, raw 8-bit bytes (RFC 6532) decoded, cleaned."""
    value = re.sub(r"\r?\n(?=[ \t])", "", value).strip("\r\n")
    if _SURROGATE.search(value):
        value = decode_field(value, None)
    return _clean(value)


def _decode_words(value: str | None) -> str:
    """Decode RFC 2047 encoded words (``=?iso-2022-jp?B?...?=``); never raises."""
    if not value:
        return ""
    value = _header_text(value)
    if "=?" not in value:
        return value
    decoded = _guard(lambda: str(policy.default.header_factory("subject", value)), None)
    if decoded is None:
        decoded = _guard(lambda: str(make_header(decode_header(value))), value)
    return _clean(decoded)


# --------------------------------------------------------------------------------------------
# addresses


def _address_pairs(value: str | None) -> list[tuple[str, str]]:
    """``(display name, addr-spec)`` pairs of an address header value; never raises.

    ``email.utils.getaddresses`` reads the list (it is forgiving: comments become names, a
    trailing dot in a domain is kept); the stricter ``email.headerregistry`` parser is asked
    only when that finds nothing. Display names have their RFC 2047 words decoded.
    """
    if not value:
        return []
    value = _header_text(value)
    if not value.strip():
        return []
    pairs = [
        (_decode_words(name).strip(), spec.strip())
        for name, spec in _guard(lambda: getaddresses([value]), [])
        if spec.strip() and spec.strip() != "<>"
    ]
    if pairs:
        return pairs
    header = _guard(lambda: policy.default.header_factory("to", value), None)
    if header is None:
        return []
    return [
        (_clean(a.display_name or "").strip(), _clean(a.addr_spec))
        for a in _guard(lambda: header.addresses, ())
        if a.addr_spec and a.addr_spec != "<>"
    ]


_NAME_ANGLE_ADDR = re.compile(r'^\s*(?P<name>"[^"]*"|[^<>"]*?)\s*<(?P<spec>[^<>\s]+)>\s*$')


def _first_address(value: str | None) -> tuple[str, str] | None:
    """The one address of a ``From``-like value: ``Name <addr>`` means addr even when the
    name is unquoted and holds commas or an address of its own (a spoofing favourite)."""
    if not value:
        return None
    text = _header_text(value)
    match = _NAME_ANGLE_ADDR.match(text)
    if match and "@" in match.group("spec"):
        name = match.group("name").strip()
        if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
        return _decode_words(name).strip(), match.group("spec")
    pairs = _address_pairs(text)
    with_domain = [pair for pair in pairs if "@" in pair[1]]
    return (with_domain or pairs or [None])[0]


def _normalise_spec(spec: str) -> str:
    spec = spec.strip().strip("<>").strip().casefold()
    local, at, domain = spec.rpartition("@")
    if not at:
        return spec
    base = local.split("+", 1)[0]
    if base:
        local = base
    return f"{local}@{domain.rstrip('.')}"


def normalise_address(addr: str | None) -> str:
    """``'"Wile E." <Wile+Critical@ACME.example>'`` → ``'wile@acme.example'``.

    Display name, comments and angle brackets go; the address is case-folded and a ``+tag`` in
    the local part is removed. The first address counts when there are several; ``""`` when
    there is none.
    """
    first = _first_address(addr)
    return _normalise_spec(first[1]) if first else ""


def display_name(addr: str | None) -> str:
    """The decoded display name of the first address (``"Wile E. Coyote"``), or ``""``."""
    first = _first_address(addr)
    return first[0] if first else ""


def _address_list(value: str | None) -> tuple[str, ...]:
    normalised = (_normalise_spec(spec) for _, spec in _address_pairs(value))
    return tuple(dict.fromkeys(n for n in normalised if n))


# --------------------------------------------------------------------------------------------
# message ids

_MSGID = re.compile(r"<([^<>\s]+)>")
_MAX_IDS = 500


def _ids(value: str | None) -> tuple[str, ...]:
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
    ids = set(_ids(mail.header("In-Reply-To"))) | set(mail.references)
    if mail.in_reply_to:
        ids.add(mail.in_reply_to)
    return ids


# --------------------------------------------------------------------------------------------
# HTML to text

_SKIP_TAGS = {"script", "style", "head", "title", "template", "noscript", "object", "svg"}
_LINE_TAGS = {"div", "li", "tr", "dt", "dd", "address", "center", "form", "caption"}
_PARAGRAPH_TAGS = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "dl",
    "table",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "fieldset",
    "figure",
}


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip = 0
        self.pre = 0
        self.quote = 0

    def _prefix(self) -> str:
        return "> " * self.quote

    def _flush(self, force: bool = False) -> None:
        line = "".join(self.current)
        line = line.rstrip() if self.pre else re.sub(r"[ \t\u00a0]+", " ", line).strip()
        if line or force:
            self.lines.append((self._prefix() + line).rstrip())
        self.current = []

    def _blank(self) -> None:
        self._flush()
        blank = self._prefix().rstrip()
        if self.lines and self.lines[-1] != blank:
            self.lines.append(blank)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif self.skip:
            return
        elif tag == "br":
            self._flush(force=True)
        elif tag == "blockquote":
            self._blank()
            self.quote += 1
        elif tag in _PARAGRAPH_TAGS:
            self._blank()
            if tag == "pre":
                self.pre += 1
        elif tag in _LINE_TAGS:
            self._flush()
            if tag == "li":
                self.current.append("- ")
        elif tag in {"td", "th"} and "".join(self.current).strip():
            self.current.append(" | ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP_TAGS:  # <br/>, <hr/>: the start tag alone
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif self.skip:
            return
        elif tag == "blockquote":
            self._flush()
            self.quote = max(0, self.quote - 1)
            self._blank()
        elif tag in _PARAGRAPH_TAGS:
            if tag == "pre":
                self._flush()
                self.pre = max(0, self.pre - 1)
            self._blank()
        elif tag in _LINE_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            parts = _newlines(data).split("\n")
            for part in parts[:-1]:
                self.current.append(part)
                self._flush(force=True)
            self.current.append(parts[-1])
        else:
            self.current.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        self._flush()
        out: list[str] = []
        for line in self.lines:
            if not line.strip(" >") and out and not out[-1].strip(" >"):
                continue  # one blank line at most
            out.append(line)
        while out and not out[-1].strip(" >"):
            out.pop()
        return "\n".join(out).strip("\n")


def html_to_text(markup: str | None) -> str:
    """Readable plain text from an HTML body.

    ``script``/``style``/``head`` are dropped; ``<br>``, ``<div>``, ``<li>`` (as ``- item``)
    end lines; ``<p>``, headings, lists and tables are separated by blank lines; entities are
    decoded; ``<blockquote>`` content is prefixed ``> `` so quoted history reads as quoted.
    """
    if not markup:
        return ""
    parser = _HtmlText()
    try:
        parser.feed(markup)
        parser.close()
        text = parser.text()
    except Exception:  # html.parser on hostile markup; degrade to stripping tags
        text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
    text = text.replace("\u00a0", " ")
    return _clean("\n".join(line.rstrip() for line in text.split("\n")).strip())


# --------------------------------------------------------------------------------------------
# quoted replies

_ATTRIBUTION = re.compile(
    r"^\s*(?:on\b.{0,400}\bwrote|le\b.{0,400}\ba\s+écrit|am\b.{0,400}\bschrieb"
    r"|el\b.{0,400}\bescribió|op\b.{0,400}\bschreef)\s*:\s*$",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*(?:-{2,}\s*original message\s*-{2,}|_{10,}|-{2,}\s*reply above this line\s*-{2,})\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?from:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(r"^\s*\*?(?:sent|date):\*?\s+\S", re.IGNORECASE)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def strip_quoted_reply(text: str | None) -> str:
    """The new part of a reply, without the quoted history.

    - lines starting with ``>`` are dropped wherever they are (inline answers between quoted
      lines stay);
    - an attribution line (``On Mon, 2 Nov 2026, Wile E. Coyote <…> wrote:``, also wrapped over
      two lines, and its French/German/Spanish/Dutch forms) is dropped; when what follows it is
      not ``>``-quoted (top-posting clients), everything from it on is dropped;
    - Outlook's ``-----Original Message-----``, an underscore rule, or a ``From:`` line followed
      by ``Sent:``/``Date:`` within three lines start the history: dropped from there on.
    """
    if not text:
        return ""
    lines = _newlines(text).split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_quoted(line):
            i += 1
            continue
        if _ORIGINAL_MESSAGE.match(line):
            break
        if _OUTLOOK_FROM.match(line) and any(
            _OUTLOOK_SENT.match(nxt) for nxt in lines[i + 1 : i + 4]
        ):
            break
        width = 0
        if _ATTRIBUTION.match(line):
            width = 1
        elif (
            i + 1 < len(lines)
            and re.match(r"^\s*(?:on|le|am|el|op)\b", line, re.IGNORECASE)
            and _ATTRIBUTION.match(f"{line} {lines[i + 1]}")
        ):
            width = 2
        if width:
            following = next((nxt for nxt in lines[i + width :] if nxt.strip()), None)
            if following is not None and not _is_quoted(following):
                break
            i += width
            continue
        kept.append(line.rstrip())
        i += 1
    out: list[str] = []
    for line in kept:
        if not line.strip() and out and not out[-1].strip():
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


# --------------------------------------------------------------------------------------------
# SendGrid Inbound Parse


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
        sender = "" if raw is None else _clean(str(raw)).strip().strip("<>").strip().casefold()
    to = parsed.get("to") or ()
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list | tuple):
        raise EmailParseError("envelope 'to' must be a list of addresses")
    normalised = (normalise_address(_clean(str(item))) for item in to)
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
                filename=_decode_words(str(filename)) if filename else None,
                content_type=_clean(str(content_type)).strip().lower(),
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
    message = _guard(
        lambda: BytesParser(policy=policy.default).parsebytes(head + bytes(body)), None
    )
    if message is None or not _guard(message.is_multipart, False):
        return {}
    fields: dict[str, bytes] = {}
    for part in _guard(message.get_payload, []) or []:
        if not isinstance(part, Message) or _guard(part.get_filename, None) is not None:
            continue
        name = _guard(lambda p=part: p.get_param("name", header="content-disposition"), None)
        value = _guard(lambda p=part: p.get_payload(decode=True), None)
        if isinstance(name, tuple):  # RFC 2231 encoded: (charset, language, value)
            name = _guard(lambda n=name: collapse_rfc2231_value(n), None)
        if isinstance(name, str) and isinstance(value, bytes) and name not in fields:
            fields[name] = value
    return fields


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
        return _from_message(_parse_bytes(raw), "raw", fallback_from, extra)

    charsets = _lenient_json_object(_form_text(form, "charsets"))

    def field_text(name: str) -> str | None:
        value = _form_value(form, name)
        if value is None:
            return None
        charset = charsets.get(name)
        return decode_field(value, charset if isinstance(charset, str) else "utf-8")

    header_block = _form_text(form, "headers") or ""
    parsed = _guard(lambda: HeaderParser(policy=policy.default).parsestr(header_block), None)
    headers = Headers(
        (name, _header_text(value)) for name, value in (parsed.raw_items() if parsed else ())
    )
    from_raw = field_text("from")
    if from_raw is None or not from_raw.strip():
        from_raw = headers.get("From")
    subject = field_text("subject")
    if subject is None:
        subject = headers.get("Subject")
    to_value = field_text("to")
    cc_value = field_text("cc")
    text = _newlines(field_text("text") or "")
    markup = field_text("html") or ""
    if not text.strip() and markup.strip():
        text = html_to_text(markup)
    return _build(
        headers=headers,
        from_raw=from_raw,
        subject=_decode_words(subject),
        to_value=to_value if to_value is not None else headers.get("To"),
        cc_value=cc_value if cc_value is not None else headers.get("Cc"),
        text=text,
        markup=markup,
        attachments=_sendgrid_attachments(form, files),
        variant="parsed",
        extra=extra,
    )


# --------------------------------------------------------------------------------------------
# MIME

_MAX_DEPTH = 40
_MAX_PARTS = 500


def _parse_bytes(raw: str | bytes) -> Message:
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
    return _from_message(_parse_bytes(raw), "mime", None, {})


def _part_text(part: Message) -> str:
    payload = _guard(lambda: part.get_payload(decode=True), b"")
    if not isinstance(payload, bytes):
        return ""
    charset = _guard(part.get_content_charset, None)
    return _newlines(decode_field(payload, charset))


def _part_size(part: Message) -> int | None:
    if _guard(part.is_multipart, False):
        data = _guard(part.as_bytes, None)
        return len(data) if isinstance(data, bytes) else None
    payload = _guard(lambda: part.get_payload(decode=True), None)
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
    ctype = _guard(part.get_content_type, "text/plain")
    maintype = ctype.split("/", 1)[0]
    disposition = _guard(part.get_content_disposition, None)
    filename = _guard(part.get_filename, None)
    if maintype == "multipart" and _guard(part.is_multipart, False):
        children = _guard(part.get_payload, [])
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
            filename=_clean(str(filename)) if filename else None,
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


def _from_message(
    msg: Message, variant: str, fallback_from: str | None, extra: dict[str, Any]
) -> InboundEmail:
    headers = Headers(
        (str(name), _header_text(str(value))) for name, value in _guard(msg.raw_items, [])
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
    return _build(
        headers=headers,
        from_raw=from_raw,
        subject=_decode_words(headers.get("Subject")),
        to_value=headers.get("To"),
        cc_value=headers.get("Cc"),
        text=text,
        markup=_clean(markup),
        attachments=tuple(body.attachments),
        variant=variant,
        extra=extra,
    )


def _optional(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip()


def _build(
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
    from_raw = _header_text(from_raw)
    first = _first_address(from_raw)
    if first is None:
        raise EmailParseError(f"no sender address in 'from': {from_raw[:200]!r}")
    from_name, from_spec = first
    reply = _first_address(headers.get("Reply-To"))
    message_id = _ids(headers.get("Message-ID"))
    in_reply_to = _ids(headers.get("In-Reply-To"))
    return InboundEmail(
        from_address=_normalise_spec(from_spec),
        from_raw=from_raw,
        from_name=from_name.strip(),
        reply_to=(reply[1] if reply else from_spec).strip(),
        to=_address_list(to_value),
        cc=_address_list(cc_value),
        subject=" ".join(_clean(subject).split()),
        text=_clean(text),
        html=_clean(markup),
        message_id=message_id[0] if message_id else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_ids(headers.get("References")),
        headers=headers,
        auto_submitted=_optional(headers.get("Auto-Submitted")),
        precedence=_optional(headers.get("Precedence")),
        list_id=_optional(headers.get("List-Id")),
        attachments=attachments,
        variant=variant,
        **extra,
    )


# --------------------------------------------------------------------------------------------
# mail loops

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


# --------------------------------------------------------------------------------------------
# case numbers

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


# --------------------------------------------------------------------------------------------
# severity

LOW_PHRASE_SEVERITY = 3


@dataclass(frozen=True)
class SeverityRules:
    """Phrase rules: data, so a config file can replace them. Matching is case-insensitive, on
    whole words, with any whitespace between words; typographic apostrophes match ``'``."""

    s1_phrases: tuple[str, ...] = ()
    s2_phrases: tuple[str, ...] = ()
    low_phrases: tuple[str, ...] = ()  # say "not critical": severity LOW_PHRASE_SEVERITY

    def __post_init__(self) -> None:
        for name in ("s1_phrases", "s2_phrases", "low_phrases"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            phrases = tuple(str(p).strip() for p in (value or ()) if str(p).strip())
            object.__setattr__(self, name, phrases)


DEFAULT_SEVERITY_RULES = SeverityRules(
    s1_phrases=(
        "down for all users",
        "down for everyone",
        "all users are down",
        "all users affected",
        "system down",
        "system is down",
        "production down",
        "production is down",
        "prod down",
        "prod is down",
        "production outage",
        "outage",
        "out of service",
        "completely down",
        "nobody can log in",
        "no one can log in",
        "cannot log in at all",
        "can't log in at all",
        "unable to log in at all",
        "security breach",
        "security incident",
        "data breach",
        "data loss",
        "data corruption",
        "ransomware",
        "we have been hacked",
        "we were hacked",
    ),
    s2_phrases=(
        "no workaround",
        "no work-around",
        "no work around",
        "important function",
        "major function",
        "key function",
        "degraded",
        "partial outage",
        "partially down",
        "some users cannot",
        "some users can't",
    ),
    low_phrases=(
        "feature request",
        "enhancement request",
        "how do i",
        "how to",
        "question about",
        "license key",
        "documentation",
        "not urgent",
        "low priority",
        "when you have time",
        "cosmetic",
    ),
)


@dataclass(frozen=True)
class SeverityVerdict:
    severity: int | None  # 1-4, None when the message says nothing we can read
    reason: str  # what matched, e.g. 'subject marker "Sev 1"', 'phrase "data loss"'

    @property
    def critical(self) -> bool:
        """S1 and S2 alone are entitled to the critical line."""
        return self.severity in (1, 2)


_NUMBER_WORDS = {"zero": 1, "one": 1, "two": 2, "three": 3, "four": 4}
_MARKER = re.compile(
    r"(?<![\w.\-/@])(?:"
    r"(?P<long>(?:sev(?:erity)?|priority|prio)(?:[ \t]*level)?"
    r"(?:[ \t]*[:#=\-]?[ \t]*[0-4]|[ \t]*[:#=\-]?[ \t]+(?:zero|one|two|three|four)"
    r"|[ \t]*[:#=\-][ \t]*(?:zero|one|two|three|four)))"
    r"|(?P<short>[sp][0-4])"
    r")(?!\w)(?![.@]\w)(?![\-/](?![sp][0-4](?!\w))\w)"
    r"|(?P<critical>[\[(][ \t]*critical[ \t]*[\])])",
    re.IGNORECASE,
)
_NOT_A_SEVERITY_BEFORE = re.compile(r"(?:aws|amazon)[\s\-]*$", re.IGNORECASE)
_NOT_A_SEVERITY_AFTER = re.compile(
    r"^[\s\-]*(?:buckets?|objects?|storage|api|endpoints?|console|uploads?|downloads?)\b",
    re.IGNORECASE,
)


def _marker_severity(match: re.Match[str], text: str) -> int | None:
    if match.group("critical"):
        return 1
    token = match.group(0)
    if (
        match.group("short")
        and token[0] in "sS"
        and (
            _NOT_A_SEVERITY_BEFORE.search(text[max(0, match.start() - 12) : match.start()])
            or _NOT_A_SEVERITY_AFTER.match(text[match.end() : match.end() + 24])
        )
    ):
        return None  # Amazon S3, not severity 3
    last = re.findall(r"[0-4]|zero|one|two|three|four", token, re.IGNORECASE)[-1].casefold()
    number = _NUMBER_WORDS.get(last)
    if number is None:
        number = max(1, int(last))  # P0/S0/Sev 0: the most severe there is
    return number


def _markers(text: str) -> tuple[int, str] | None:
    """The most severe explicit marker in ``text``: (severity, marker as written)."""
    best: tuple[int, str] | None = None
    for match in _MARKER.finditer(text):
        severity = _marker_severity(match, text)
        if severity is not None and (best is None or severity < best[0]):
            best = (severity, " ".join(match.group(0).split()))
    return best


_PhraseTable = tuple[re.Pattern[str] | None, dict[str, tuple[int, str]]]


@lru_cache(maxsize=32)
def _phrase_table(rules: SeverityRules) -> _PhraseTable:
    table: dict[str, tuple[int, str]] = {}
    for severity, phrases in (
        (1, rules.s1_phrases),
        (2, rules.s2_phrases),
        (LOW_PHRASE_SEVERITY, rules.low_phrases),
    ):
        for phrase in phrases:
            key = _phrase_key(phrase)
            if key and key not in table:
                table[key] = (severity, phrase)
    if not table:
        return None, table
    # longest first: at one position "partial outage" beats "outage"
    alternatives = sorted(table, key=len, reverse=True)
    body = "|".join(r"\s+".join(re.escape(w) for w in key.split(" ")) for key in alternatives)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE), table


def _phrase_key(phrase: str) -> str:
    return " ".join(_for_matching(phrase).casefold().split())


def _for_matching(text: str) -> str:
    return (
        text.replace("\u2019", "'")
        .replace("\u2018", "'")
        .replace("\u02bc", "'")
        .replace("\u00a0", " ")
    )


def _phrases(text: str, rules: SeverityRules) -> list[tuple[int, str]]:
    pattern, table = _phrase_table(rules)
    if pattern is None:
        return []
    found = []
    for match in pattern.finditer(text):
        hit = table.get(" ".join(match.group(0).casefold().split()))
        if hit is None:  # a case-folding corner: find the phrase the long way
            hit = next(
                (
                    v
                    for k, v in table.items()
                    if re.fullmatch(
                        r"\s+".join(map(re.escape, k.split(" "))), match.group(0), re.IGNORECASE
                    )
                ),
                None,
            )
        if hit is not None:
            found.append(hit)
    return found


def classify_severity(
    subject: str | None, text: str | None, rules: SeverityRules = DEFAULT_SEVERITY_RULES
) -> SeverityVerdict:
    """The severity a message claims.

    1. Explicit markers, as whole tokens: ``S1``, ``Sev 1``/``Sev1``/``SEV-2``, ``Severity 1``,
       ``Severity: 2``, ``Severity one``, ``P1``, ``Priority 1``, ``Prio 2``, ``[CRITICAL]``
       (→ 1); ``0`` counts as 1 (``P0``); ``3``/``4`` markers say the issue is not critical.
       A marker in the subject beats any in the body; several in one place: the most severe
       (refusing a real S1 is the worse mistake; the engineer can downgrade). Not markers:
       ``S10``, ``S1042``, ``Case 1042``, ``s1.acme.example``, ``P1.5``, "AWS S3 bucket", and
       ``[URGENT]`` (everyone writing to the critical line thinks it is urgent).
    2. Phrase rules (``rules``), in the subject and body: the most severe phrase found; where
       phrases overlap the longer one counts ("partial outage" is S2, not the S1 "outage").
    3. Otherwise ``severity=None``.

    Quoted reply text (``>`` lines, "On … wrote:" history) in ``text`` is ignored.
    """
    subject_text = _for_matching(_clean(subject or ""))
    body_text = _for_matching(strip_quoted_reply(_clean(text or "")))
    for where, source in (("subject", subject_text), ("body", body_text)):
        marker = _markers(source)
        if marker is not None:
            return SeverityVerdict(marker[0], f'{where} marker "{marker[1]}"')
    hits = _phrases(subject_text, rules) + _phrases(body_text, rules)
    if hits:
        severity, phrase = min(hits, key=lambda hit: hit[0])
        return SeverityVerdict(severity, f'phrase "{phrase}"')
    return SeverityVerdict(None, "no severity marker or critical phrase found")
