"""The rules that read an email for its severity, as data: phrase lists and the context cues
that change what a phrase means. ``config.yaml``'s ``email.severity_phrases`` extends every list
(and may drop a built-in phrase with ``ignore``); :mod:`oncall.domain.severity` applies them.

Phrases match case-insensitively on whole words, with any spacing between the words, typographic
apostrophes read as ``'``, a possessive ``'s`` and one slip of the keyboard forgiven on longer
words (``prodcution``, ``evryone``). A phrase written in Chinese, Japanese or Korean characters
matches anywhere in the text, as those scripts do not space their words.

What each list means:

* ``S1``, ``S2``: say the severity on their own ("production down", "no workaround").
* ``symptoms``: something is broken now ("not working", "unreachable"); they lean critical, and
  with an ``impact`` phrase in the same sentence ("for every customer") they make it S1.
* ``urgency``: "urgent", "asap", "dringend": lean critical, but a low phrase outweighs them.
* ``low``: say the mail is not critical ("not urgent", "feature request"): S3.

The cues, looked for in the phrase's clause (a sentence cut at commas, colons and "but") within
``cue_window`` words of it:

* ``negations``, within ``negation_window`` words before the phrase ("not a production down
  situation", "no outage"), unless one of ``not_negations`` ("not only") is where they are;
* ``resolved`` ("is resolved", "RCA") and ``past`` ("last night", "yesterday"): a past incident,
  unless a negation or one of ``unresolved`` comes just before the resolved cue ("not resolved",
  "when will it be fixed");
* ``policy`` ("policy", "what happens if") and ``conditional`` ("if"): talk, not an incident;
* ``maintenance`` ("for maintenance", "scheduled downtime"): planned work, unless one of
  ``causes`` comes just before it ("since the planned maintenance, checkout fails");
* ``non_production`` ("staging", "test environment"): not production;
* ``doubt`` ("not sure", "whether") and a question: the customer does not know; they lean;
* ``ongoing`` ("still", "since", "again"), anywhere in the sentence: happening now, which beats
  maintenance, a past time and a question;
* ``presupposing``: question openers that take the problem as given ("why is", "when will").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from oncall.domain.severity_defaults import DEFAULT_LISTS

#: config.yaml's keys under ``email.severity_phrases`` → the rule list each one extends.
CONFIG_KEYS: dict[str, str] = {
    "S1": "s1_phrases",
    "S2": "s2_phrases",
    "symptoms": "symptom_phrases",
    "impact": "impact_phrases",
    "urgency": "urgency_phrases",
    "low": "low_phrases",
    "negations": "negations",
    "not_negations": "not_negations",
    "resolved": "resolved_cues",
    "unresolved": "unresolved_cues",
    "past": "past_cues",
    "ongoing": "ongoing_cues",
    "policy": "policy_cues",
    "conditional": "conditional_cues",
    "doubt": "doubt_cues",
    "maintenance": "maintenance_cues",
    "causes": "cause_cues",
    "non_production": "non_production_cues",
    "presupposing": "presupposing",
}

#: Lists whose phrases say opposite things: one phrase in both is a contradiction.
OPPOSITES = (
    ("S1", "low"),
    ("S2", "low"),
    ("symptoms", "low"),
    ("urgency", "low"),
    ("ongoing", "resolved"),
    ("ongoing", "past"),
)

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00a0": " "})


def normalise(text: str) -> str:
    """Text as the rules read it: typographic apostrophes as ``'``, no-break spaces as spaces."""
    return text.translate(_APOSTROPHES)


def phrase_key(phrase: str) -> str:
    """A phrase as it is compared: case-folded, apostrophes normalised, single spaces."""
    return " ".join(normalise(str(phrase)).casefold().split())


def is_cjk(phrase: str) -> bool:
    return bool(_CJK.search(phrase))


def _clean_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    items = (str(p).strip() for p in (value or ()))  # type: ignore[union-attr]
    return tuple(dict.fromkeys(p for p in items if p))


@dataclass(frozen=True)
class SeverityRules:
    """Phrase lists and context cues (see the module doc); every list empty by default, so a
    rule set says all it uses. :data:`DEFAULT_SEVERITY_RULES` is the built-in set."""

    s1_phrases: tuple[str, ...] = ()
    s2_phrases: tuple[str, ...] = ()
    low_phrases: tuple[str, ...] = ()  # say "not critical": severity LOW_PHRASE_SEVERITY
    symptom_phrases: tuple[str, ...] = ()
    impact_phrases: tuple[str, ...] = ()
    urgency_phrases: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()
    not_negations: tuple[str, ...] = ()
    resolved_cues: tuple[str, ...] = ()
    unresolved_cues: tuple[str, ...] = ()
    past_cues: tuple[str, ...] = ()
    ongoing_cues: tuple[str, ...] = ()
    policy_cues: tuple[str, ...] = ()
    conditional_cues: tuple[str, ...] = ()
    doubt_cues: tuple[str, ...] = ()
    maintenance_cues: tuple[str, ...] = ()
    cause_cues: tuple[str, ...] = ()
    non_production_cues: tuple[str, ...] = ()
    presupposing: tuple[str, ...] = ()
    negation_window: int = 3  # words between a negation and the phrase it negates
    cue_window: int = 6  # words between a context cue and the phrase, in one clause

    def __post_init__(self) -> None:
        for name in CONFIG_KEYS.values():
            object.__setattr__(self, name, _clean_list(getattr(self, name)))

    def extended(
        self,
        extra: Mapping[str, Iterable[str]] | None = None,
        ignore: Iterable[str] = (),
        **windows: int,
    ) -> SeverityRules:
        """These rules with ``extra`` phrases (keyed as in config.yaml: ``S1``, ``low`` ...)
        put first, the ``ignore``\\ d phrases left out, and ``negation_window``/``cue_window``
        replaced when given."""
        dropped = {phrase_key(p) for p in ignore}
        changes: dict[str, object] = {}
        for key, name in CONFIG_KEYS.items():
            merged = (*_clean_list((extra or {}).get(key, ())), *getattr(self, name))
            changes[name] = tuple(p for p in merged if phrase_key(p) not in dropped)
        changes.update({k: v for k, v in windows.items() if v is not None})
        return replace(self, **changes)  # type: ignore[arg-type]

    def listed(self, key: str) -> tuple[str, ...]:
        """The list config.yaml calls ``key``."""
        return getattr(self, CONFIG_KEYS[key])

    def all_phrases(self) -> set[str]:
        """Every phrase and cue of every list, as compared."""
        return {phrase_key(p) for name in CONFIG_KEYS.values() for p in getattr(self, name)}


def phrase_problem(phrase: str) -> str | None:
    """Why ``phrase`` cannot be a rule (for ``oncall check``), or None."""
    key = phrase_key(phrase)
    if not key:
        return "is empty"
    if not re.search(r"[^\W\d_]", key):
        return f"{phrase!r} has no letters: it would match numbers, not words"
    if not is_cjk(key) and len(key.replace(" ", "")) < 2:
        return f"{phrase!r} is too short: it would match inside almost every email"
    if len(key.split()) > 8:
        return f"{phrase!r} is longer than 8 words: customers never write it exactly"
    return None


def contradictions(rules: SeverityRules) -> list[tuple[str, str, str]]:
    """Phrases listed under two keys that mean opposite things: ``(phrase, key, key)``."""
    found = []
    for first, second in OPPOSITES:
        other = {phrase_key(p) for p in rules.listed(second)}
        found += [(p, first, second) for p in rules.listed(first) if phrase_key(p) in other]
    return found


DEFAULT_SEVERITY_RULES = SeverityRules(**DEFAULT_LISTS)
