"""The customers' words (REOPEN, DISPUTE) as the pure parser reads them from a reply's subject,
its first line, or an SMS to the critical line (issue 11, items 3 and 4)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall.domain.customer_words import SmsWord, Word, mail_word, sms_word, subject_word

REOPEN, DISPUTE = Word.REOPEN, Word.DISPUTE

SUBJECTS = [
    ("REOPEN", REOPEN),
    ("Reopen [Case 1042] Resolved", REOPEN),
    ("Re: [Case 1042] REOPEN", REOPEN),
    ("RE: Re: [Case #1042] re-open please", REOPEN),
    ("AW: [Case 1042] Dispute", DISPUTE),
    ("Fwd: [ case 1042 ] \u201cDISPUTE\u201d the fee", DISPUTE),
    ("dispute: Re: [Case 1042] Misuse fee 250 USD", DISPUTE),
    ("Re: [Case 1042] Resolved", None),
    ("Re: [Case 1042] Reopening hours of the office", None),  # another word that starts alike
    ("Re: [Case 1042] We dispute nothing", None),  # not at the start
    ("", None),
]


@pytest.mark.parametrize(("subject", "word"), SUBJECTS)
def test_the_word_at_the_start_of_a_subject(subject, word):
    assert subject_word(subject) is word


@pytest.mark.parametrize(
    ("subject", "first_line", "word"),
    [
        ("Re: [Case 1042] Resolved", "REOPEN - it is down again", REOPEN),
        ("Re: [Case 1042] Resolved", "> reopen", REOPEN),
        ("Re: [Case 1042] Misuse fee", "Dispute. Our shop was down.", DISPUTE),
        ("Re: [Case 1042] Resolved", "Thanks, all good now", None),
        ("Re: [Case 1042] DISPUTE", "REOPEN", DISPUTE),  # the subject first
    ],
)
def test_a_reply_by_email_carries_the_word_in_its_subject_or_first_line(subject, first_line, word):
    assert mail_word(subject, first_line) is word


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("REOPEN 1042", SmsWord(REOPEN, 1042)),
        ("reopen #1042", SmsWord(REOPEN, 1042)),
        ("Re-open case 1042 please, it is down again", SmsWord(REOPEN, 1042)),
        ('"Reopen case no. 1042"', SmsWord(REOPEN, 1042)),
        ("REOPEN", SmsWord(REOPEN, None)),
        ("DISPUTE 1042", SmsWord(DISPUTE, 1042)),
        ("1", None),
        ("Every store, all regions", None),
        ("reopening soon?", None),
    ],
)
def test_sms_words(body, expected):
    assert sms_word(body) == expected


@settings(max_examples=200, deadline=None)
@given(
    spelling=st.sampled_from(["REOPEN", "reopen", "ReOpen", "re-open", "RE-OPEN", "reopened"]),
    number=st.integers(1000, 999_999_999),
    form=st.sampled_from(["{}", "#{}", "# {}", "case {}", "case number {}"]),
    space=st.sampled_from([" ", "  ", "\n", " \t "]),
    tail=st.text(alphabet=string.ascii_letters + " ,.!", max_size=30),
    wrap=st.sampled_from([("", ""), ('"', '"'), ("\u201c", "\u201d"), ("*", "*")]),
)
def test_any_spelling_of_reopen_with_a_case_number(spelling, number, form, space, tail, wrap):
    body = f"{wrap[0]}{spelling}{space}{form.format(number)}{wrap[1]} {tail}"
    assert sms_word(body) == SmsWord(REOPEN, number)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_the_parsers_never_raise(subject, body):
    assert mail_word(subject, body) in (None, REOPEN, DISPUTE)
    found = sms_word(body)
    assert found is None or found.word in (REOPEN, DISPUTE)
