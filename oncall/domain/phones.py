"""Phone numbers: the one parser, Google's libphonenumber (the ``phonenumbers`` package).

Every phone number the service reads goes through :func:`parse_phone`: in ``config.yaml``, the
rota files and ``customers.yaml``, a caller's or an SMS sender's number from a Twilio webhook.
It comes out in E.164 (``+14165550101``), so everywhere else numbers compare as plain strings.

A number written without a country code is read in a *region* (config's ``phone_region``,
:data:`DEFAULT_REGION` unless set): in the US, ``+1 416 555 0101``, ``(416) 555-0101``,
``1-416-555-0101`` and ``4165550101`` are one number.

A number must have the length its country's numbers have. Whether the number is *assigned* is
not checked: the fictional ``555`` numbers of examples and tests must load, and a number that
turns out to be unreachable is the outbox's business (a permanent failure, then the fallback).
"""

from __future__ import annotations

from typing import Any

import phonenumbers

DEFAULT_REGION = "US"

_WHY = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "no country has that code",
    phonenumbers.ValidationResult.TOO_SHORT: "too few digits",
    phonenumbers.ValidationResult.TOO_LONG: "too many digits",
    phonenumbers.ValidationResult.INVALID_LENGTH: "the wrong number of digits",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "no area code",
}
_UNREADABLE = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no country has that code",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too few digits",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too few digits",
    phonenumbers.NumberParseException.TOO_LONG: "too many digits",
}


def parse_phone(value: Any, region: str) -> str:
    """``value`` as an E.164 number; national forms are read in ``region`` (like ``US``).

    Raises ValueError saying what is wrong and how to write the number.
    """
    text = str(value).strip()
    number = _read(text, region)
    if isinstance(number, phonenumbers.PhoneNumber):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    hint = (
        ", and quote it: YAML reads an unquoted number as digits and drops the +"
        if isinstance(value, int) and not isinstance(value, bool)
        else ""
    )
    raise ValueError(
        f'"{text}" is not a phone number ({number}): write it like {_example(region)}{hint}'
    )


def check_region(value: Any) -> str:
    """A region code phone numbers can be read in (``US``, ``CA``, ``GB`` ...), upper case."""
    code = str(value).strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value!r} is not a region code like US, CA or GB (ISO 3166-1)")
    return code


def _read(text: str, region: str) -> phonenumbers.PhoneNumber | str:
    """The number ``text`` holds, or why it holds none."""
    # A letter is far more often a typo (O for 0, l for 1) than a vanity number, and the
    # library would turn it into a digit; an extension ("x12", "ext. 12") cannot be paged.
    if any(character.isalpha() for character in text):
        return "letters are not digits"
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        return _UNREADABLE.get(exc.error_type, "not a number")
    if number.extension:
        return "pages cannot dial an extension"
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return _WHY.get(reason, "not a possible number")
    return number


def _example(region: str) -> str:
    """How to write a number: international form, and the national form of ``region``."""
    example = phonenumbers.example_number(region)
    if example is None:  # pragma: no cover - every supported region has an example number
        return '"+14165550101"'
    international = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    return f'"{international}" (or, in {region}, "{national}")'
