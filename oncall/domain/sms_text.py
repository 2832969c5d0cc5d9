"""SMS text helpers: GSM-7 detection, segment counting, and the page texts we send.

Pure functions, no I/O.

Encoding rules (GSM 03.38 / 3GPP TS 23.038):

* A message whose every character is in the GSM-7 basic set or its extension table is sent as
  GSM-7. Basic characters cost one septet, extension characters (``^ { } \\ [ ~ ] | €`` and form
  feed) cost two (an escape plus the character). One segment holds 160 septets; a concatenated
  message holds 153 per part, and an escape pair is never split across parts.
* Anything else goes as UCS-2 (UTF-16): 70 code units in one segment, 67 per part; characters
  outside the BMP (most emoji) take two units and are never split across parts.

Everything we *compose* (pages, bundles) is passed through :func:`to_gsm7` first, because a single
curly quote in a customer's name would otherwise turn a one-segment page into a three-part
UCS-2 message.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "bundle_text",
    "is_gsm7",
    "page_text",
    "segments",
    "septets",
    "sms_length",
    "to_gsm7",
    "truncate_words",
]

#: The GSM 03.38 default alphabet, minus 0x1B (the escape to the extension table, which is not a
#: character a text can contain).
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The extension table: each of these costs two septets.
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

_GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION

_GSM7_SINGLE, _GSM7_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    """True when ``text`` can be sent in the GSM-7 alphabet (basic set plus extension table)."""
    return all(ch in _GSM7_ALL for ch in text)


def septets(text: str) -> int:
    """GSM-7 length of ``text`` in septets (extension characters count 2).

    Only meaningful for GSM-7 text; characters outside the alphabet are counted as 1.
    """
    return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)


def _utf16_units(text: str) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def sms_length(text: str) -> int:
    """Length as the network counts it: septets for GSM-7 text, UTF-16 code units otherwise."""
    return septets(text) if is_gsm7(text) else _utf16_units(text)


def segments(text: str) -> int:
    """How many SMS segments ``text`` is sent as (an empty text still takes one)."""
    if is_gsm7(text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, part = _GSM7_SINGLE, _GSM7_PART
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, part = _UCS2_SINGLE, _UCS2_PART
    if sum(costs) <= single:
        return 1
    count, used = 1, 0
    for cost in costs:  # an escape pair or a surrogate pair never straddles two parts
        if used + cost > part:
            count += 1
            used = 0
        used += cost
    return count


# --- to_gsm7 --------------------------------------------------------------------------------

# Replacements for characters people (and their phones' "smart punctuation") type all the time.
# Characters not listed here are tried through their compatibility decomposition (NFKD), which
# turns an accented "a" into "a", fullwidth letters into ASCII, ligatures into letters, NBSP into
# a space, and so on.
_REPLACEMENTS: dict[str, str] = {
    **dict.fromkeys("‘’‚‛′´`‹›", "'"),  # quotes, primes
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−⁃", "-"),  # dashes, minus
    **dict.fromkeys("·‧∙", "."),
    **dict.fromkeys("\t\u00a0\u2007\u202f\u3000", " "),  # NFKD would do most; be explicit
    **dict.fromkeys("\u2028\u2029\u0085\v", "\n"),  # line and paragraph separators
    **dict.fromkeys("\u00b0\u00ad", ""),  # degree sign, soft hyphen
    "…": "...",
    "•": "*",
    "©": "(c)",
    "®": "(R)",
    "™": "TM",
    "×": "x",
    "÷": "/",
    "⁄": "/",
    "≤": "<=",
    "≥": ">=",
    "≠": "!=",
    "≈": "~",
    "→": "->",
    "←": "<-",
    "⇒": "=>",
    "¢": "c",
    "‰": "%",
    "ç": "c",  # the GSM table only has the capital C with cedilla (0x09)
}
# Unicode categories that are dropped silently rather than marked: combining marks, format
# characters (zero-width joiners, BOM, direction marks), surrogates, private use, unassigned,
# and symbols such as emoji or modifier marks. A page reads better without "?" for every emoji.
_DROP_CATEGORIES = frozenset({"Mn", "Mc", "Me", "Cf", "Cs", "Co", "Cn", "So", "Sk"})


def _char_to_gsm7(ch: str) -> str | None:
    """A GSM-7 spelling of ``ch``: the text, ``""`` to drop it, or ``None`` if unrepresentable."""
    if ch in _GSM7_ALL:
        return ch
    if ch in _REPLACEMENTS:
        return _REPLACEMENTS[ch]
    category = unicodedata.category(ch)
    if category == "Cc":
        return " "
    if category in _DROP_CATEGORIES:
        return ""
    decomposed = unicodedata.normalize("NFKD", ch)
    if decomposed != ch:
        parts: list[str] = []
        for part in decomposed:
            if part in _GSM7_ALL:
                parts.append(part)
            elif part in _REPLACEMENTS:
                parts.append(_REPLACEMENTS[part])
            elif unicodedata.category(part) in _DROP_CATEGORIES:
                continue
            else:
                return None
        if parts:
            return "".join(parts)
    return None


def to_gsm7(text: str, replacement: str = "?") -> str:
    """``text`` spelled in the GSM-7 alphabet, so that it is sent as GSM-7.

    Typographic punctuation becomes its plain equivalent (curly quotes, dashes, ellipsis,
    non-breaking and other spaces), accented letters lose the accents the alphabet lacks,
    compatibility forms are folded (fullwidth letters, ligatures, superscripts). Emoji, other
    symbols, combining marks and invisible format characters are dropped. Whatever is left that
    has no spelling (e.g. letters of other scripts) becomes ``replacement``, one per run.
    ``\\r\\n`` becomes ``\\n``.
    """
    if not is_gsm7(replacement):
        raise ValueError("the replacement must itself be GSM-7")
    out: list[str] = []
    in_unknown_run = False
    for ch in text.replace("\r\n", "\n"):
        spelled = _char_to_gsm7(ch)
        if spelled is None:
            if not in_unknown_run:
                out.append(replacement)
            in_unknown_run = True
            continue
        if spelled:
            in_unknown_run = False
        out.append(spelled)
    return "".join(out)


# --- truncation ----------------------------------------------------------------------------

_WS_RE = re.compile(r"\s+")
_TRAILING_JUNK = " \t\n,;:-.(/&+"


def _cost(ch: str) -> int:
    # 2 for GSM-7 extension characters (septets) and for non-BMP characters (UTF-16 units): an
    # upper bound of the character's cost in whichever encoding the text ends up in.
    return 2 if ch in GSM7_EXTENSION or ord(ch) > 0xFFFF else 1


def _prefix_within(text: str, budget: int) -> str:
    used = 0
    for index, ch in enumerate(text):
        used += _cost(ch)
        if used > budget:
            return text[:index]
    return text


def truncate_words(text: str, limit: int, ellipsis: str = "...") -> str:
    """``text`` cut to at most ``limit`` (counted like :func:`sms_length` for GSM-7 text: septets,
    extension characters 2) with ``ellipsis`` appended when anything was cut.

    The cut falls on a word boundary when one exists in the second half of the room; a text
    whose first word alone is too long is cut inside the word. Trailing spaces and separators
    (``, ; : - .``) before the ellipsis are dropped. Text that fits is returned unchanged.
    """
    if limit <= 0:
        return ""
    if sum(_cost(ch) for ch in text) <= limit:
        return text
    room = limit - sum(_cost(ch) for ch in ellipsis)
    if room <= 0:
        return _prefix_within(text, limit)
    cut = _prefix_within(text, room)
    if len(cut) < len(text) and not text[len(cut)].isspace():
        boundary = max(cut.rfind(" "), cut.rfind("\n"))
        if boundary > 0 and sum(_cost(ch) for ch in cut[:boundary]) * 2 >= room:
            cut = cut[:boundary]
    cut = cut.rstrip(_TRAILING_JUNK)
    if not cut:
        return _prefix_within(ellipsis, limit)
    return cut + ellipsis


def _clean(text: str) -> str:
    """GSM-7, one line, single spaces."""
    return _WS_RE.sub(" ", to_gsm7(text)).strip()


# --- page and bundle texts -----------------------------------------------------------------

#: When the customer's name has to give way, it keeps at least this much (septets) before the
#: summary is reduced to nothing, and the summary keeps at least _SUMMARY_MIN.
_CUSTOMER_MAX = 40
_SUMMARY_MIN = 30


def _terminated(summary: str) -> str:
    return summary if summary.endswith((".", "!", "?")) else summary + "."


def page_text(
    case_number: int, severity: int, customer: str, summary: str, limit: int = 160
) -> str:
    """The page SMS: ``[S1] Case 1042 Acme Corp: Checkout is down. Reply ACK 1042``.

    Always GSM-7 and at most ``limit`` septets (one segment at the default 160). The ``Reply ACK
    <n>`` instruction is never cut: the summary is truncated at a word boundary with ``...``;
    a customer name so long that it would leave the summary under 30 septets is cut (``...``)
    to leave it 30, but not below 40 septets unless ``limit`` forces it. Whitespace (newlines
    included) collapses to single spaces. An empty summary gives
    ``[S1] Case 1042 Acme Corp. Reply ACK 1042``.

    Raises ``ValueError`` if ``limit`` cannot hold even ``[S1] Case 1042. Reply ACK 1042``.
    """
    head = f"[S{severity}] Case {case_number}"
    tail = f" Reply ACK {case_number}"
    name = _clean(customer)
    summ = _clean(summary)

    def render(name: str, summ: str) -> str:
        text = head + (f" {name}" if name else "")
        if summ:
            return f"{text}: {_terminated(summ)}{tail}"
        return _terminated(text) + tail

    full = render(name, summ)
    if septets(full) <= limit:
        return full
    bare = septets(render("", ""))
    if bare > limit:
        raise ValueError(f"a page needs more than {limit} septets")
    name_limit = limit - bare - 1  # the most a name can have next to no summary

    if summ:
        fixed = septets(head) + septets(tail) + 2  # ": " before the summary
        summary_room = limit - fixed - (septets(name) + 1 if name else 0)
        if name and summary_room < min(_SUMMARY_MIN, septets(_terminated(summ))):
            # The name alone is too long: it gives way, but keeps _CUSTOMER_MAX if it can.
            name_room = max(_CUSTOMER_MAX, limit - fixed - 1 - _SUMMARY_MIN)
            name = truncate_words(name, min(name_room, name_limit))
            summary_room = limit - fixed - (septets(name) + 1 if name else 0)
        if summary_room >= 4:  # room for at least "x..."
            return render(name, truncate_words(_terminated(summ), summary_room))
    # No room for any summary: the name, shortened if need be, and the instruction.
    return render(truncate_words(name, name_limit), "")


def bundle_text(
    cases: list[tuple[int, int, str]], max_cases: int = 10, more_link: str | None = None
) -> str:
    """One SMS for a storm of pages, listing every case number: ``3 new critical cases: 1042
    Acme S1, 1044 Initech S1, 1043 Globex S2. Reply ACK ALL or ACK <case>``.

    ``cases`` are ``(case_number, severity, customer)``. They are listed most severe first
    (stable otherwise), up to ``max_cases``; beyond that the text says how many more there are
    and where to see them (``more_link``, e.g. the dashboard's case list). Customer names are
    kept whole when the text fits one segment, else shortened to 16 septets each: the text is
    sent as a multi-part SMS, so the numbers all reach the phone. A single case says ``Reply
    ACK <its number>``. Always GSM-7.

    Raises ``ValueError`` for an empty list or a ``max_cases`` below 1.
    """
    if not cases:
        raise ValueError("bundle_text needs at least one case")
    if max_cases < 1:
        raise ValueError("a bundle lists at least one case")
    ordered = sorted(cases, key=lambda case: case[1])
    count = len(ordered)
    noun = "case" if count == 1 else "cases"
    tail = f". Reply ACK {ordered[0][0]}" if count == 1 else ". Reply ACK ALL or ACK <case>"
    header = f"{count} new critical {noun}: "
    listed, rest = ordered[:max_cases], count - min(count, max_cases)
    more = ""
    if rest:
        where = f": {_clean(more_link)}" if more_link else " on the dashboard"
        more = f" +{rest} more{where}"

    def item(case: tuple[int, int, str], name_limit: int | None) -> str:
        number, severity, customer = case
        name = _clean(customer)
        if name_limit is not None:
            name = truncate_words(name, name_limit)
        return f"{number} {name} S{severity}" if name else f"{number} S{severity}"

    text = header + ", ".join(item(c, None) for c in listed) + more + tail
    if segments(text) == 1:
        return text
    return header + ", ".join(item(c, _BUNDLE_NAME) for c in listed) + more + tail


#: How long a customer's name may be in a bundle that takes more than one segment.
_BUNDLE_NAME = 16
