"""Phone numbers: the one parser every file and webhook uses, and its errors."""

from __future__ import annotations

import re

import pytest

from oncall.domain.phones import DEFAULT_REGION, check_region, parse_phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1 (555) 123-0001", "+15551230001"),
        ("555.123.0001", "+15551230001"),
        ("15551230001", "+15551230001"),
        ("+447700900123", "+447700900123"),
        ("+1 416 555 0101", "+14165550101"),
        ("(416) 555-0101", "+14165550101"),
        ("4165550101", "+14165550101"),
        (4165550101, "+14165550101"),  # YAML reads an unquoted number as an int
        ("1-416-555-0101", "+14165550101"),
        ("  +1.416.555.0101 ", "+14165550101"),
    ],
)
def test_phone_normalisation(raw, e164):
    assert parse_phone(raw, DEFAULT_REGION) == e164


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("12345", "too few digits"),
        ("+0123456789", "no country has that code"),
        ("call me", "letters are not digits"),
        ("+1555123000199999", "too many digits"),
        ("555-0102", "no area code"),
        ("+1416555O101", "letters are not digits"),  # a letter O for a zero
        ("+1 416 555 0101 ext. 12", "letters are not digits"),
        ("416 555 0101 #12", "pages cannot dial an extension"),
        ("+266696687", "too few digits"),  # what Twilio sends for a withheld caller ID
        ("", "not a number"),
    ],
)
def test_bad_phones(raw, why):
    expected = f'"{raw.strip()}" is not a phone number ({why}): write it like'
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}"):
        parse_phone(raw, DEFAULT_REGION)


def test_the_error_says_how_to_write_a_number_in_the_region():
    with pytest.raises(ValueError) as caught:
        parse_phone("555-0102", "US")
    assert str(caught.value) == (
        '"555-0102" is not a phone number (no area code): write it like "+12015550123"'
        ' (or, in US, "(201) 555-0123")'
    )


def test_an_unquoted_number_that_lost_its_plus_gets_a_hint():
    with pytest.raises(ValueError, match="quote it: YAML reads an unquoted number as digits"):
        parse_phone(447700900123, "US")  # +447700900123 written without quotes


def test_national_numbers_are_read_in_the_region():
    assert parse_phone("07700 900123", "GB") == "+447700900123"
    assert parse_phone("+1 416 555 0101", "GB") == "+14165550101"  # a + always wins
    with pytest.raises(ValueError, match="too many digits"):
        parse_phone("07700 900123", "US")


def test_regions():
    assert check_region("ca") == "CA"
    assert check_region(" GB ") == "GB"
    with pytest.raises(ValueError, match="is not a region code like US"):
        check_region("XX")
