"""The shape of one inbound email, whichever way it arrived (SendGrid's parsed or raw
variant, or a MIME message), and the error raised when a post cannot be read at all."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class EmailParseError(ValueError):
    """The post or message is malformed beyond reading; the web layer answers ``400``."""


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
