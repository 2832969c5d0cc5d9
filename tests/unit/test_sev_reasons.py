"""``SEV [case] <1-4> [reason]``: the engineer's reason is the evidence for a misuse fee, so the
parser keeps it, whichever order the level and the case come in, without changing any
spelling that parsed before (the existing table and round-trip properties are in
test_sms_commands.py)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall.domain.commands import Command, Verb, parse_command

REASONS = [
    # (body, case, level, reason)
    ("SEV 3 1002 customer asked about a password reset", 1002, 3,
     "customer asked about a password reset"),
    ("SEV 1002 3 customer asked about a password reset", 1002, 3,
     "customer asked about a password reset"),
    ("sev #1002 s4 - how-to question, not an outage", 1002, 4, "how-to question, not an outage"),
    ("SEV3 1002: only one user affected", 1002, 3, "only one user affected"),
    ("severity 1002 to S3 (workaround exists)", 1002, 3, "(workaround exists)"),
    ('SEV 3 #1002 "customer confirmed: reports only"', 1002, 3, "customer confirmed: reports only"),
    ("1002 SEV 4 feature request", 1002, 4, "feature request"),
    ("SEV 3 password reset only", None, 3, "password reset only"),  # the one open case
    ("SEV 3 12 users, all on the old client", None, 3, "12 users, all on the old client"),
    ("SEV 2 1002 card payments work, only PayPal is down", 1002, 2,
     "card payments work, only PayPal is down"),
    ("SEV 3 1002 ETA 2h is not needed", 1002, 3, "ETA 2h is not needed"),
    ("SEV 3 1002\n\nasked about passwords\n--\nAlice", 1002, 3, "asked about passwords"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "case", "level", "reason"), REASONS)
def test_the_reason_after_sev_is_kept(body, case, level, reason):
    command = parse_command(body)
    assert command == Command(Verb.SEV, case, reason, severity=level)


def test_the_spellings_without_a_reason_are_unchanged():
    for body in ("SEV 1042 3", "SEV 3 1042", "SEV3", "sev #1042 s4", "1042 sev 1", "SEV 1042 3."):
        command = parse_command(body)
        assert isinstance(command, Command) and command.text == "", body


reason_words = st.lists(
    st.text(alphabet=string.ascii_letters + string.digits + ",.:()'/-", min_size=1, max_size=10),
    min_size=1,
    max_size=8,
)
first_words = st.text(alphabet=string.ascii_letters, min_size=1, max_size=10).filter(
    lambda w: (
        w.lower() not in ("case", "cs", "to", "sent", "get", "s", "sev", "severity", "level")
        and not w.lower().startswith(("sev", "lvl", "level"))
    )
)
FORMS = [
    "SEV {level} {case} {reason}",
    "SEV {case} {level} {reason}",
    "SEV #{case} S{level} {reason}",
    "sev {level} case {case}: {reason}",
    "SEVERITY {case} to S{level} - {reason}",
    "{case} SEV {level} {reason}",
]


@settings(max_examples=300, deadline=None)
@given(
    form=st.sampled_from(FORMS),
    level=st.integers(1, 4),
    case=st.integers(1000, 999_999_999),
    first=first_words,
    rest=reason_words,
)
def test_any_reason_comes_back_as_written(form, level, case, first, rest):
    reason = " ".join([first, *rest])
    command = parse_command(form.format(level=level, case=case, reason=reason))
    assert isinstance(command, Command)
    assert (command.verb, command.case_number, command.severity) == (Verb.SEV, case, level)
    assert command.text == reason
    assert command.eta_text is None  # an ETA is a status's business, not a downgrade's
