"""Severities: which ones the critical line is for, and the severity a message claims
(explicit markers, then phrase rules that are data)."""

from __future__ import annotations

import pytest

from oncall.domain.severity import (
    CRITICAL_SEVERITIES,
    DEFAULT_SEVERITY_RULES,
    SeverityRules,
    SeverityVerdict,
    classify_severity,
    is_critical,
)


def test_s1_and_s2_alone_are_critical():
    assert CRITICAL_SEVERITIES == (1, 2)
    assert [s for s in (None, 0, 1, 2, 3, 4, 5) if is_critical(s)] == [1, 2]
    assert [SeverityVerdict(s, "").critical for s in (None, 1, 2, 3, 4)] == [
        False,
        True,
        True,
        False,
        False,
    ]


# --------------------------------------------------------------------------------------------
# severity: explicit markers


@pytest.mark.parametrize(
    ("subject", "severity", "marker"),
    [
        ("S1 portal down", 1, "S1"),
        ("s1: portal down", 1, "s1"),
        ("[S2] exports failing", 2, "S2"),
        ("Sev 1 - help", 1, "Sev 1"),
        ("Sev1", 1, "Sev1"),
        ("SEV-2: reports", 2, "SEV-2"),
        ("Severity 1", 1, "Severity 1"),
        ("Severity: 2", 2, "Severity: 2"),
        ("Severity level 2", 2, "Severity level 2"),
        ("severity one", 1, "severity one"),
        ("Sev #1", 1, "Sev #1"),
        ("P1 incident", 1, "P1"),
        ("(P2) login slow", 2, "P2"),
        ("P0", 1, "P0"),
        ("Priority 1", 1, "Priority 1"),
        ("Priority: 2", 2, "Priority: 2"),
        ("prio 2", 2, "prio 2"),
        ("[CRITICAL] database", 1, "[CRITICAL]"),
        ("(critical) database", 1, "(critical)"),
        ("Re: [Case 1042] Sev 1: down", 1, "Sev 1"),
        ("S1/S2 incident", 1, "S1"),
        ("S3 - cosmetic glitch", 3, "S3"),
        ("Sev 3", 3, "Sev 3"),
        ("P4: typo on login page", 4, "P4"),
        ("Severity 4", 4, "Severity 4"),
        ("Sev 3 then, now Sev 1", 1, "Sev 1"),  # several: the most severe
    ],
)
def test_subject_markers(subject, severity, marker):
    assert classify_severity(subject, "") == SeverityVerdict(severity, f'subject marker "{marker}"')


@pytest.mark.parametrize(
    "subject",
    [
        "Case 1042",
        "[Case 1042] follow-up",
        "Case #1042",
        "S10 controller fault",
        "S1042",
        "P12 form",
        "Version 1.2 on host s1.acme.example",
        "upgrade to P1.5 firmware",
        "AWS S3 is slow",
        "S3 bucket permissions",
        "our s3-bucket sync",
        "S5 or Sev 5 or Priority 9",
        "Severity 10",
        "sevone",
        "PS1 and SP2 and XS1",
        "critical bug report for critical@vendor.example",
        "ISO 9001 question",
        "severity",
        "",
    ],
)
def test_not_markers(subject):
    verdict = classify_severity(subject, "")
    assert verdict == SeverityVerdict(None, "no severity marker or critical phrase found")
    assert not verdict.critical


def test_subject_marker_beats_body_marker():
    assert classify_severity("Sev 3: question", "Actually this is S1.") == SeverityVerdict(
        3, 'subject marker "Sev 3"'
    )
    assert classify_severity("Sev 1", "This is only S4.") == SeverityVerdict(
        1, 'subject marker "Sev 1"'
    )


def test_body_marker_when_the_subject_has_none():
    assert classify_severity("Help", "Severity: 2, exports fail") == SeverityVerdict(
        2, 'body marker "Severity: 2"'
    )


def test_markers_beat_phrases():
    assert classify_severity("P3", "production down") == SeverityVerdict(3, 'subject marker "P3"')
    assert classify_severity("production down", "it is Sev 2") == SeverityVerdict(
        2, 'body marker "Sev 2"'
    )


def test_quoted_text_is_ignored():
    body = (
        "Still waiting.\n\n"
        "On Tue, 24 Nov 2026 at 02:16, Critical Support <critical@vendor.example> wrote:\n"
        "> Sev 1 case opened\n> production down, data loss\n"
    )
    assert classify_severity("Re: update", body).severity is None
    inline = "> Is it still Sev 1?\nNo, Sev 3 now.\n> ok\n"
    assert classify_severity("", inline) == SeverityVerdict(3, 'body marker "Sev 3"')


def test_nothing_found():
    assert classify_severity(None, None) == SeverityVerdict(
        None, "no severity marker or critical phrase found"
    )
    assert classify_severity("Hello", "Just saying hi.").severity is None


# --------------------------------------------------------------------------------------------
# severity: phrase rules (data; one test per rule)


@pytest.mark.parametrize("phrase", DEFAULT_SEVERITY_RULES.s1_phrases)
def test_each_s1_phrase(phrase):
    verdict = classify_severity("Help needed", f"Hello, {phrase.upper()} since 02:00.")
    assert verdict == SeverityVerdict(1, f'phrase "{phrase}"')


@pytest.mark.parametrize("phrase", DEFAULT_SEVERITY_RULES.s2_phrases)
def test_each_s2_phrase(phrase):
    verdict = classify_severity(phrase, "details follow")
    assert verdict == SeverityVerdict(2, f'phrase "{phrase}"')


@pytest.mark.parametrize("phrase", DEFAULT_SEVERITY_RULES.low_phrases)
def test_each_low_phrase(phrase):
    verdict = classify_severity("Hello", f"{phrase.title()}: see below.")
    assert verdict == SeverityVerdict(3, f'phrase "{phrase}"')


def test_phrases_match_whole_words_across_whitespace_and_apostrophes():
    assert classify_severity("", "Production\n   DOWN").severity == 1
    assert classify_severity("", "We can’t log in at all").reason == 'phrase "can\'t log in at all"'
    assert classify_severity("", "scheduled system downtime").severity is None
    assert classify_severity("", "undegraded").severity is None
    assert classify_severity("", "dataloss").severity is None


def test_the_longest_phrase_wins_and_the_most_severe_counts():
    assert classify_severity("", "a partial outage, no workaround") == SeverityVerdict(
        2, 'phrase "partial outage"'
    )
    assert classify_severity("", "a partial outage, and now data loss").severity == 1
    assert classify_severity("feature request", "data loss").severity == 1
    assert classify_severity("how to", "").severity == 3


def test_custom_rules_are_data():
    rules = SeverityRules(s1_phrases=["Kaput"], s2_phrases=("Sluggish checkout",))  # type: ignore[arg-type]
    assert rules.s1_phrases == ("Kaput",)
    assert classify_severity("", "everything is kaput", rules) == SeverityVerdict(
        1, 'phrase "Kaput"'
    )
    assert classify_severity("", "sluggish  checkout", rules).severity == 2
    assert classify_severity("", "production down", rules).severity is None
    assert classify_severity("", "production down", SeverityRules()).severity is None
    assert classify_severity("Sev 1", "", SeverityRules()).severity == 1  # markers need no rules
