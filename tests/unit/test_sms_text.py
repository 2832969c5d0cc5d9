"""GSM-7 detection, segment counting, and the page/bundle texts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall.domain.sms_text import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    bundle_text,
    is_gsm7,
    page_text,
    segments,
    septets,
    sms_length,
    to_gsm7,
    truncate_words,
)

# --- GSM-7 detection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ACK 1042",
        "Hello @ £5 $3 ¥1 §2 ¿Qué? ¡Olé!",
        "Zürich, Malmö, Ærø, Straße, Éire, España, Ça va, però, così",
        "ΔΦΓΛΩΠΨΣΘΞ",
        "line one\nline two\r",
        "{curly} [square] ~tilde^ back\\slash |pipe| €5",
        "_underscore_ & 100% <ok> 'single' \"double\"",
    ],
)
def test_gsm7_texts(text):
    assert is_gsm7(text)


@pytest.mark.parametrize(
    "text",
    [
        "caf\u00e1",  # a with acute is not in the table (e with acute is)
        "\u00e7a",  # lower-case c with cedilla: only the capital is
        "\u201cquoted\u201d",
        "it\u2019s",
        "wait\u2026",
        "a \u2013 b",
        "non\u00a0breaking",
        "\U0001f525 fire",
        "\u5317\u4eac",
        "\u0416",
        "tab\there",
        "`backtick`",
        "\x1b",  # the escape itself is not a character of a text
    ],
)
def test_not_gsm7_texts(text):
    assert not is_gsm7(text)


def test_extension_characters_cost_two_septets():
    assert septets("abc") == 3
    assert septets("{}") == 4
    assert septets("€5") == 3
    assert sms_length("{x}") == 5
    assert sms_length("\u00e1{") == 2  # UCS-2: code units
    assert sms_length("\U0001f525") == 2  # a surrogate pair


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 1),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("{" * 80, 1),  # 160 septets
        ("{" * 79 + "ab", 1),
        ("{" * 80 + "a", 2),  # 161 septets
        ("€" * 81, 2),
        # 152 + 2*77 = 306 septets, but an escape pair cannot straddle two parts
        ("a" * 152 + "€" * 77, 3),
        ("a" * 153 + "€" * 76, 2),
        # UCS-2
        ("\u00e1" * 70, 1),
        ("\u00e1" * 71, 2),
        ("\u00e1" * 134, 2),
        ("\u00e1" * 135, 3),
        ("\U0001f600" * 35, 1),  # 70 UTF-16 units
        ("\U0001f600" * 36, 2),
        # 134 units, but a surrogate pair cannot straddle two 67-unit parts
        ("\U0001f600" * 67, 3),
        ("a" * 159 + "\u00e1", 3),  # one non-GSM character turns 160 characters into UCS-2
    ],
)
def test_segment_counts(text, expected):
    assert segments(text) == expected


# --- to_gsm7 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u201cHello\u201d \u2014 it\u2019s down\u2026", '"Hello" - it\'s down...'),
        ("\u2018a\u2019 \u201eb\u201c \u00abc\u00bb", '\'a\' "b" "c"'),
        ("10\u202f000\u00a0users", "10 000 users"),
        ("caf\u00e1 na\u00efve \u00e7a", "cafa naive ca"),
        ("Caf\u00e9 Z\u00fcrich \u00c7a", "Caf\u00e9 Z\u00fcrich \u00c7a"),  # already GSM-7
        ("\uff21\uff43\uff4d\uff45", "Acme"),  # fullwidth
        ("\ufb01le", "file"),  # ligature
        ("x\u00b2 \u00bd", "x2 1/2"),
        ("Acme\u2122 \u00a9 2026", "AcmeTM (c) 2026"),
        ("down \U0001f525\U0001f525!", "down !"),  # emoji are dropped
        ("\U0001f468\u200d\U0001f4bb dev", " dev"),  # ZWJ sequence
        ("zero\u200bwidth", "zerowidth"),
        ("soft\u00adhyphen", "softhyphen"),
        ("\u5317\u4eac Ltd", "? Ltd"),  # an unrepresentable run becomes one "?"
        ("\u041c\u043e\u0441\u043a\u0432\u0430 and \u6771\u4eac", "? and ?"),
        ("a\tb\r\nc", "a b\nc"),
        ("line\u2028sep", "line\nsep"),
        ("\x07bell", " bell"),
        ("2 \u00d7 3 \u2264 7 \u2192 ok", "2 x 3 <= 7 -> ok"),
    ],
)
def test_to_gsm7(text, expected):
    assert to_gsm7(text) == expected
    assert is_gsm7(to_gsm7(text))


def test_to_gsm7_replacement_must_be_gsm7():
    assert to_gsm7("\u5317 x", replacement="") == " x"
    with pytest.raises(ValueError, match="GSM-7"):
        to_gsm7("x", replacement="\u2026")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_to_gsm7_always_gives_gsm7(text):
    assert is_gsm7(to_gsm7(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=sorted((GSM7_BASIC | GSM7_EXTENSION) - {"\r"})))
def test_to_gsm7_leaves_gsm7_alone(text):
    assert to_gsm7(text) == text


# --- truncate_words --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Checkout is down", 16, "Checkout is down"),
        ("Checkout is down for all users", 20, "Checkout is down..."),
        ("Checkout is down, for all users", 20, "Checkout is down..."),  # no ",..."
        ("Checkout is down for all users", 12, "Checkout..."),
        ("Supercalifragilistic", 10, "Superca..."),  # one long word: cut inside it
        ("a verylongwordindeed", 10, "a veryl..."),  # a boundary too early is not used
        ("{{{{{{", 7, "{{..."),  # extension characters count 2
        ("abcdef", 3, "abc"),  # no room for an ellipsis
        ("abcdef", 0, ""),
        ("", 5, ""),
    ],
)
def test_truncate_words(text, limit, expected):
    assert truncate_words(text, limit) == expected


@settings(max_examples=300, deadline=None)
@given(text=st.text(), limit=st.integers(0, 200))
def test_truncate_words_fits_and_is_a_prefix(text, limit):
    result = truncate_words(text, limit)
    assert sms_length(result) <= limit or result == ""
    if result == text:
        return
    body = result.removesuffix("...")
    assert text.startswith(body)


# --- page_text -------------------------------------------------------------------------------


def test_page_text_example():
    text = page_text(1042, 1, "Acme Corp", "Checkout is down for all users.")
    assert text == "[S1] Case 1042 Acme Corp: Checkout is down for all users. Reply ACK 1042"


def test_page_text_terminates_the_summary_and_handles_empty_parts():
    assert page_text(1042, 2, "Acme", "API 500s") == "[S2] Case 1042 Acme: API 500s. Reply ACK 1042"
    assert page_text(1042, 1, "Acme", "") == "[S1] Case 1042 Acme. Reply ACK 1042"
    assert page_text(1042, 1, "", "DB down") == "[S1] Case 1042: DB down. Reply ACK 1042"
    assert page_text(1042, 1, " ", "\n") == "[S1] Case 1042. Reply ACK 1042"


def test_page_text_cleans_human_input():
    text = page_text(
        1042,
        1,
        "Caf\u00e1 \u201cBistro\u201d\u2122",
        "It\u2019s down \U0001f525\nsince 02:00\u2026",
    )
    assert text == '[S1] Case 1042 Cafa "Bistro"TM: It\'s down since 02:00... Reply ACK 1042'
    assert is_gsm7(text)


def test_page_text_truncates_the_summary_at_a_word_boundary():
    summary = "Checkout is down for all users in every region since the 02:00 deploy " * 4
    text = page_text(1042, 1, "Acme Corp", summary)
    assert septets(text) <= 160
    assert text.startswith("[S1] Case 1042 Acme Corp: Checkout is down for all users")
    assert text.endswith("... Reply ACK 1042")
    words = text.removeprefix("[S1] Case 1042 Acme Corp: ").removesuffix("... Reply ACK 1042")
    assert summary.startswith(words + " ")  # whole words only


def test_page_text_shortens_a_name_that_alone_is_too_long():
    customer = "The Extraordinarily Long Named International Holding Company of " * 3
    text = page_text(1042, 1, customer, "Checkout is down for all users.")
    assert septets(text) <= 160
    assert text.endswith(" Reply ACK 1042")
    assert "Checkout is down" in text
    assert "The Extraordinarily Long Named" in text
    assert "..." in text


def test_page_text_counts_extension_characters():
    text = page_text(1042, 1, "Acme", "{" * 200)
    assert septets(text) <= 160
    assert segments(text) == 1


def test_page_text_with_a_small_limit():
    # "[" and "]" are extension characters: the head "[S1] Case 1042" is 16 septets.
    assert page_text(1042, 1, "Acme Corp", "Checkout is down", limit=42) == (
        "[S1] Case 1042 Acme Corp. Reply ACK 1042"
    )
    assert page_text(1042, 1, "Acme Corporation", "Checkout is down", limit=42) == (
        "[S1] Case 1042 Acme... Reply ACK 1042"
    )
    with pytest.raises(ValueError, match="septets"):
        page_text(1042, 1, "Acme", "down", limit=20)


gsm_or_not = st.text(max_size=400) | st.text(
    alphabet=st.sampled_from([*sorted(GSM7_BASIC | GSM7_EXTENSION), " ", " ", "\u2019"]),
    max_size=400,
)


@settings(max_examples=300, deadline=None)
@given(
    case=st.integers(1000, 999_999_999),
    severity=st.integers(1, 4),
    customer=gsm_or_not,
    summary=gsm_or_not,
)
def test_page_text_is_always_one_gsm7_segment_with_the_instruction(
    case, severity, customer, summary
):
    text = page_text(case, severity, customer, summary)
    assert is_gsm7(text)
    assert septets(text) <= 160
    assert segments(text) == 1
    assert text.startswith(f"[S{severity}] Case {case}")
    assert text.endswith(f" Reply ACK {case}")
    assert "\n" not in text


@settings(max_examples=300, deadline=None)
@given(
    case=st.integers(1000, 99999),
    customer=gsm_or_not,
    summary=gsm_or_not,
    limit=st.integers(40, 400),
)
def test_page_text_respects_any_workable_limit(case, customer, summary, limit):
    text = page_text(case, 1, customer, summary, limit=limit)
    assert septets(text) <= limit
    assert text.endswith(f" Reply ACK {case}")


@settings(max_examples=300, deadline=None)
@given(
    customer=st.text(alphabet="abcdefghij ", max_size=30),
    summary=st.text(alphabet="abcdefghij .", max_size=80),
)
def test_page_text_keeps_short_inputs_whole(customer, summary):
    text = page_text(1042, 1, customer, summary)
    assert " ".join(customer.split()) in text
    assert " ".join(summary.split()) in text


# --- bundle_text -----------------------------------------------------------------------------


def test_bundle_text_example():
    cases = [(1042, 1, "Acme"), (1043, 2, "Globex"), (1044, 1, "Initech")]
    assert bundle_text(cases) == (
        "3 new critical cases: 1042 Acme S1, 1044 Initech S1, 1043 Globex S2. "
        "Reply ACK ALL or ACK <case>"
    )


def test_bundle_text_of_one_case_names_it_in_the_instruction():
    assert bundle_text([(1042, 1, "Acme")]) == "1 new critical case: 1042 Acme S1. Reply ACK 1042"


def test_bundle_text_lists_every_number_in_a_multipart_sms_with_names_shortened():
    cases = [(1000 + i, 1 + i % 2, f"Customer Number {i} Incorporated") for i in range(8)]
    text = bundle_text(cases)
    assert segments(text) > 1  # sent as one multi-part SMS: every number reaches the phone
    assert sorted(int(n) for n in re.findall(r"\b1\d{3}\b", text)) == [c[0] for c in cases]
    assert "Customer Number 0 Incorporated" not in text  # names give way, numbers never
    assert text.endswith(". Reply ACK ALL or ACK <case>")


def test_bundle_text_beyond_the_cap_gives_the_count_and_the_link():
    cases = [(1000 + i, 1, "Acme") for i in range(13)]
    text = bundle_text(cases, max_cases=10, more_link="https://oncall.vendor.example/cases")
    assert text.startswith("13 new critical cases: 1000 Acme S1, ")
    assert re.findall(r"\b1\d{3}\b", text) == [str(1000 + i) for i in range(10)]
    assert text.endswith(
        "1009 Acme S1 +3 more: https://oncall.vendor.example/cases. Reply ACK ALL or ACK <case>"
    )
    assert bundle_text(cases, max_cases=12).endswith(
        "1011 Acme S1 +1 more on the dashboard. Reply ACK ALL or ACK <case>"
    )


def test_bundle_text_cleans_names_and_rejects_nonsense():
    text = bundle_text([(1042, 1, "Caf\u00e1 \u201cBistro\u201d"), (1043, 2, "\U0001f525")])
    assert text == (
        '2 new critical cases: 1042 Cafa "Bistro" S1, 1043 S2. Reply ACK ALL or ACK <case>'
    )
    with pytest.raises(ValueError):
        bundle_text([])
    with pytest.raises(ValueError):
        bundle_text([(1042, 1, "Acme"), (1043, 1, "Globex")], max_cases=0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1000, 999_999_999), st.integers(1, 4), gsm_or_not),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 15),
)
def test_bundle_text_is_gsm7_and_lists_every_case_up_to_the_cap(cases, max_cases):
    link = "https://oncall.vendor.example/cases"
    text = bundle_text(cases, max_cases=max_cases, more_link=link)
    assert is_gsm7(text)
    assert len(text) <= 1600  # Twilio's limit for one (multi-part) message
    assert text.startswith(f"{len(cases)} new critical case")
    ending = ". Reply ACK ALL or ACK <case>" if len(cases) > 1 else f". Reply ACK {cases[0][0]}"
    assert text.endswith(ending)
    shown = min(len(cases), max_cases)
    more = re.search(r" \+(\d+) more: ", text)
    assert (int(more.group(1)) if more else 0) == len(cases) - shown
    ordered = sorted(cases, key=lambda case: case[1])  # most severe first, stable otherwise
    position = text.index(": ") + 2
    for number, severity, _name in ordered[:shown]:  # each listed, in order, with its severity
        assert text.startswith(f"{number} ", position), (number, text)
        found = re.compile(rf" S{severity}(?=, | \+\d+ more: |\. Reply )").search(text, position)
        assert found is not None, (number, text)
        position = found.end() + 2
