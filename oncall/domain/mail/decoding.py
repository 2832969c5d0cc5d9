"""Text decoding that never raises: form fields in the charset SendGrid named, raw header
values (unfolded, 8-bit bytes read), RFC 2047 encoded words, and the cleaning every text gets
(no NULs, no C1 controls, no lone surrogates)."""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Callable
from email import policy
from email.header import decode_header, make_header
from typing import TypeVar

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LATIN1_CODECS = {"iso8859-1", "latin-1", "latin_1"}
_T = TypeVar("_T")


def guard(fn: Callable[[], _T], default: _T) -> _T:
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


def clean(text: str) -> str:
    """No NULs, no C1 controls, no lone surrogates: safe to store, encode and show."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if re.search("[\x80-\x9f]", text):
        text = text.translate(_C1_AS_CP1252)
    return _SURROGATE.sub("\ufffd", text)


def newlines(text: str) -> str:
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


@functools.lru_cache(maxsize=64)
def _reads_ascii_as_ascii(name: str) -> bool:
    try:
        return bytes(range(128)).decode(name) == "".join(map(chr, range(128)))
    except (LookupError, UnicodeError, ValueError, TypeError):
        return False


def decodes_as_utf8(charset: object, *, ascii_only: bool) -> bool:
    """Whether :func:`decode_field` gives the same text for a field's bytes as for the ``str``
    a UTF-8 decode made of them (werkzeug's form), so the bytes need not be recovered.

    True for the UTF-8 family (no label, US-ASCII, UTF-8) when the bytes are valid UTF-8 and
    do not start with a byte order mark (``utf-8-sig`` would drop it); with ``ascii_only``
    (every byte below 0x80) also for every charset that reads ASCII as ASCII, and for the
    7-bit ones that :func:`decode_field` decodes again from a ``str``. The caller checks the
    bytes; anything else (UTF-16, EBCDIC ...) needs the bytes themselves.
    """
    name = _codec_name(charset)
    if name is None or name in {"ascii", "utf-8"}:
        return True
    return ascii_only and (_is_seven_bit_codec(name) or _reads_ascii_as_ascii(name))


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
        return clean(_decode_bytes(bytes(value), charset))
    text = str(value)
    if _SURROGATE.search(text):
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return clean(text)
        return clean(_decode_bytes(raw, charset))
    name = _codec_name(charset)
    if name and _is_seven_bit_codec(name) and text.isascii():
        try:
            return clean(text.encode("ascii").decode(name, "replace"))
        except (UnicodeError, LookupError, ValueError):
            return clean(text)
    return clean(text)


def header_text(value: str) -> str:
    """A raw header value: unfolded, raw 8-bit bytes (RFC 6532) decoded, cleaned."""
    value = re.sub(r"\r?\n(?=[ \t])", "", value).strip("\r\n")
    if _SURROGATE.search(value):
        value = decode_field(value, None)
    return clean(value)


def decode_words(value: str | None) -> str:
    """Decode RFC 2047 encoded words (``=?iso-2022-jp?B?...?=``); never raises."""
    if not value:
        return ""
    value = header_text(value)
    if "=?" not in value:
        return value
    decoded = guard(lambda: str(policy.default.header_factory("subject", value)), None)
    if decoded is None:
        decoded = guard(lambda: str(make_header(decode_header(value))), value)
    return clean(decoded)
