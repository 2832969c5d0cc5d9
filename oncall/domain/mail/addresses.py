"""Email addresses: the sender of a ``From``-like header (spoofing-resistant), normalised
for matching contacts (case-folded, ``+tag`` removed), display names and address lists."""

from __future__ import annotations

import re
from email import policy
from email.utils import getaddresses

from oncall.domain.mail.decoding import clean, decode_words, guard, header_text


def _address_pairs(value: str | None) -> list[tuple[str, str]]:
    """``(display name, addr-spec)`` pairs of an address header value; never raises.

    ``email.utils.getaddresses`` reads the list (it is forgiving: comments become names, a
    trailing dot in a domain is kept); the stricter ``email.headerregistry`` parser is asked
    only when that finds nothing. Display names have their RFC 2047 words decoded.
    """
    if not value:
        return []
    value = header_text(value)
    if not value.strip():
        return []
    pairs = [
        (decode_words(name).strip(), spec.strip())
        for name, spec in guard(lambda: getaddresses([value]), [])
        if spec.strip() and spec.strip() != "<>"
    ]
    if pairs:
        return pairs
    header = guard(lambda: policy.default.header_factory("to", value), None)
    if header is None:
        return []
    return [
        (clean(a.display_name or "").strip(), clean(a.addr_spec))
        for a in guard(lambda: header.addresses, ())
        if a.addr_spec and a.addr_spec != "<>"
    ]


_NAME_ANGLE_ADDR = re.compile(r'^\s*(?P<name>"[^"]*"|[^<>"]*?)\s*<(?P<spec>[^<>\s]+)>\s*$')


def first_address(value: str | None) -> tuple[str, str] | None:
    """The one address of a ``From``-like value: ``Name <addr>`` means addr even when the
    name is unquoted and holds commas or an address of its own (a spoofing favourite)."""
    if not value:
        return None
    text = header_text(value)
    match = _NAME_ANGLE_ADDR.match(text)
    if match and "@" in match.group("spec"):
        name = match.group("name").strip()
        if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
        return decode_words(name).strip(), match.group("spec")
    pairs = _address_pairs(text)
    with_domain = [pair for pair in pairs if "@" in pair[1]]
    return (with_domain or pairs or [None])[0]


def normalise_spec(spec: str) -> str:
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
    first = first_address(addr)
    return normalise_spec(first[1]) if first else ""


def display_name(addr: str | None) -> str:
    """The decoded display name of the first address (``"Wile E. Coyote"``), or ``""``."""
    first = first_address(addr)
    return first[0] if first else ""


def address_list(value: str | None) -> tuple[str, ...]:
    normalised = (normalise_spec(spec) for _, spec in _address_pairs(value))
    return tuple(dict.fromkeys(n for n in normalised if n))
