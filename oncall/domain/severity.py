"""Severities: which ones the critical line is for (S1 and S2), and the severity a customer's
message claims (explicit markers, then phrase rules that are data: :class:`SeverityRules`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from oncall.domain.mail.decoding import clean
from oncall.domain.mail.text import strip_quoted_reply

CRITICAL_SEVERITIES = (1, 2)


def is_critical(severity: int | None) -> bool:
    """S1 and S2 alone are entitled to the critical line."""
    return severity in CRITICAL_SEVERITIES


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
        return is_critical(self.severity)


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
    subject_text = _for_matching(clean(subject or ""))
    body_text = _for_matching(strip_quoted_reply(clean(text or "")))
    for where, source in (("subject", subject_text), ("body", body_text)):
        marker = _markers(source)
        if marker is not None:
            return SeverityVerdict(marker[0], f'{where} marker "{marker[1]}"')
    hits = _phrases(subject_text, rules) + _phrases(body_text, rules)
    if hits:
        severity, phrase = min(hits, key=lambda hit: hit[0])
        return SeverityVerdict(severity, f'phrase "{phrase}"')
    return SeverityVerdict(None, "no severity marker or critical phrase found")
