"""The labelled corpus of emails (``tests/fixtures/severity_corpus.yaml``) and how an item's
outcome is judged; shared by the suite (``tests/unit/test_severity_corpus.py``) and the
benchmark (``benchmarks/severity_corpus.py``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from oncall.domain.mail.text import html_to_text
from oncall.domain.severity import (
    DEFAULT_SEVERITY_RULES,
    Decision,
    SeverityRules,
    SeverityVerdict,
    classify_severity,
)

CORPUS = Path(__file__).resolve().parent / "fixtures" / "severity_corpus.yaml"

PAGED = "paged at once"
ASKED_LEANING = "asked, paged at the timeout"
ASKED = "asked, forwarded at the timeout"
NOT_CRITICAL = "not critical"
OUTCOMES = (PAGED, ASKED_LEANING, ASKED, NOT_CRITICAL)
#: The outcome names the corpus file uses for ``expect``.
EXPECTED = {"page": (PAGED,), "ask": (ASKED_LEANING, ASKED), "not_critical": (NOT_CRITICAL,)}


@dataclass(frozen=True)
class Mail:
    id: str
    subject: str
    text: str  # the plain body; an HTML-only mail read as SendGrid's parser reads it
    html: str
    critical: bool
    expect: str | None

    @property
    def body(self) -> str:
        return self.text or html_to_text(self.html)


def load_corpus(path: Path = CORPUS) -> list[Mail]:
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Mail(
            id=item["id"],
            subject=str(item.get("subject") or ""),
            text=str(item.get("text") or ""),
            html=str(item.get("html") or ""),
            critical=bool(item["critical"]),
            expect=item.get("expect"),
        )
        for item in items
    ]


def outcome(verdict: SeverityVerdict) -> str:
    """Where a mail ends if the customer never answers the question."""
    if verdict.decision is Decision.PAGE:
        return PAGED
    if verdict.decision is Decision.NOT_CRITICAL:
        return NOT_CRITICAL
    return ASKED_LEANING if verdict.lean is not None else ASKED


def judge(mail: Mail, rules: SeverityRules = DEFAULT_SEVERITY_RULES) -> tuple[str, str]:
    """``(outcome, reason)`` of ``mail``."""
    verdict = classify_severity(mail.subject, mail.body, rules)
    return outcome(verdict), verdict.reason


def acceptable(mail: Mail, result: str) -> bool:
    """A critical mail is paged at once or leans critical when asked (paged at the timeout if
    nobody answers); a non-critical one is never paged without the customer choosing it."""
    if mail.expect is not None and result not in EXPECTED[mail.expect]:
        return False
    if mail.critical:
        return result in (PAGED, ASKED_LEANING)
    return result in (ASKED, NOT_CRITICAL)


@dataclass(frozen=True)
class Figures:
    matrix: dict[bool, Counter[str]]  # label → outcome → count

    def critical_paged(self, answered: bool) -> float:
        """Critical mail that ends up paged: at once, at the timeout, or (``answered``) after
        the customer's reply to the question."""
        row = self.matrix[True]
        paged = row[PAGED] + row[ASKED_LEANING] + (row[ASKED] if answered else 0)
        return paged / max(sum(row.values()), 1)

    def non_critical_paged(self) -> float:
        """Non-critical mail paged without the customer choosing it (at once, or at the
        timeout of an unanswered question)."""
        row = self.matrix[False]
        return (row[PAGED] + row[ASKED_LEANING]) / max(sum(row.values()), 1)


def figures(results: list[tuple[Mail, str]]) -> Figures:
    matrix: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    for mail, result in results:
        matrix[mail.critical][result] += 1
    return Figures(matrix)
