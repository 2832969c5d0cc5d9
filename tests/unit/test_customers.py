"""customers.yaml: loading, normalisation, lookups, and validation errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncall.config.yamlsource import SourceErrors
from oncall.sources.customers import load_directory

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_customers_load_and_index():
    directory = load_directory(ROOT / "customers.yaml")
    customer, contact = directory.by_phone("+1 555 123 0001")
    assert customer.key == "acme" and contact.name == "Wile E. Coyote"
    assert directory.by_email("WILE@Acme.Example")[0].key == "acme"
    assert directory.by_pin("482193").key == "acme"
    assert directory.by_pin("0000") is None
    assert directory.by_phone("not a number") is None
    assert directory.customers["initech"].plan.critical_line is False


def test_validation_errors_name_file_line_and_key(tmp_path):
    path = tmp_path / "customers.yaml"
    path.write_text(
        "plans:\n"
        "  premium: {critical_line: true, hours: sometimes}\n"
        "customers:\n"
        "  acme:\n"
        "    name: Acme\n"
        "    plan: platinum\n"
        "    pin: 12\n"
        "    team: support\n"
        "    contacts:\n"
        "      - {name: A, phone: 'not a phone', email: a@acme.example}\n"
        "      - {name: B, email: A@ACME.example}\n"
        "      - {name: C}\n"
        "  other:\n"
        "    name: Other\n"
        "    plan: premium\n"
        "    team: support\n"
        "    colour: blue\n"
    )
    with pytest.raises(SourceErrors) as info:
        load_directory(path)
    messages = [str(e) for e in info.value.errors]
    p = str(path)
    assert (
        f"{p}:2: plans.premium.hours: 'sometimes' is not one of: always, business, after_hours"
        in messages
    )
    assert any(
        m.startswith(f"{p}:6: customers.acme.plan: unknown plan 'platinum'") for m in messages
    )
    assert any(m.startswith(f"{p}:7: customers.acme.pin:") for m in messages)
    assert any(m.startswith(f"{p}:10: customers.acme.contacts[0].phone:") for m in messages)
    assert any("contacts[1].email: email already belongs to acme/A" in m for m in messages)
    assert any("contacts[2]: a contact needs a phone or an email" in m for m in messages)
    assert f"{p}:17: customers.other.colour: unknown key" in messages


CUSTOMER = """\
plans:
  premium: {critical_line: true, hours: always}
customers:
  acme:
    name: Acme
    plan: premium
    team: support
    contacts:
      - {name: Wile, phone: PHONE}
"""


@pytest.mark.parametrize("written", ['"+1 416 555 0101"', '"(416) 555-0101"', "4165550101"])
def test_a_contact_phone_in_any_form_is_the_same_number(tmp_path, written):
    # The same forms mean the same number in config.yaml and the rota files.
    path = tmp_path / "customers.yaml"
    path.write_text(CUSTOMER.replace("PHONE", written))
    directory = load_directory(path)
    assert directory.customers["acme"].contacts[0].phone == "+14165550101"
    for caller in ("+14165550101", "(416) 555-0101", "1-416-555-0101"):
        assert directory.by_phone(caller)[1].name == "Wile"


def test_one_number_written_two_ways_is_a_duplicate(tmp_path):
    path = tmp_path / "customers.yaml"
    path.write_text(
        CUSTOMER.replace("PHONE", '"(416) 555-0101"')
        + '      - {name: Coyote, phone: "4165550101"}\n'
    )
    with pytest.raises(SourceErrors) as info:
        load_directory(path)
    assert [str(e) for e in info.value.errors] == [
        f"{path}:10: customers.acme.contacts[1].phone: phone already belongs to acme/Wile"
    ]


def test_national_phones_are_read_in_the_configured_region(tmp_path):
    path = tmp_path / "customers.yaml"
    path.write_text(CUSTOMER.replace("PHONE", '"07700 900123"'))
    directory = load_directory(path, phone_region="GB")
    assert directory.customers["acme"].contacts[0].phone == "+447700900123"
    assert directory.by_phone("07700 900123")[1].name == "Wile"  # callers read alike
    with pytest.raises(SourceErrors, match="too many digits"):
        load_directory(path)  # in the default region, US


def test_junk_phone_is_an_error_with_file_and_line(tmp_path):
    path = tmp_path / "customers.yaml"
    path.write_text(CUSTOMER.replace("PHONE", '"ask reception"'))
    with pytest.raises(SourceErrors) as info:
        load_directory(path)
    assert str(info.value.errors[0]) == (
        f'{path}:9: customers.acme.contacts[0].phone: "ask reception" is not a phone number'
        ' (letters are not digits): write it like "+12015550123" (or, in US, "(201) 555-0123")'
    )


def test_trust_unauthenticated_email_is_a_customer_key(tmp_path):
    path = tmp_path / "customers.yaml"
    path.write_text(
        CUSTOMER.replace("PHONE", '"+15551230001"').replace(
            "    team: support\n", "    team: support\n    trust_unauthenticated_email: true\n"
        )
    )
    assert load_directory(path).customers["acme"].trust_unauthenticated_email is True
    assert (
        load_directory(ROOT / "customers.yaml").customers["acme"].trust_unauthenticated_email
        is False
    )
    path.write_text(path.read_text().replace("email: true", "email: sometimes"))
    with pytest.raises(SourceErrors) as info:
        load_directory(path)
    assert "customers.acme.trust_unauthenticated_email: expected true or false" in str(
        info.value.errors[0]
    )


def test_short_pins_load_with_a_warning_that_check_shows(tmp_path):
    from oncall.sources.customers import directory_errors

    path = tmp_path / "customers.yaml"
    path.write_text(
        CUSTOMER.replace("PHONE", '"+15551230001"').replace(
            "    team: support\n", '    team: support\n    pin: "48213"\n'
        )
    )
    assert load_directory(path).by_pin("48213").key == "acme"  # accepted: a warning only
    (warning,) = directory_errors(path)
    assert warning.severity == "warning"
    assert str(warning) == (
        f"{path}:8: warning: customers.acme.pin: a 5-digit PIN is easy to guess "
        "(100,000 possibilities); use 6 digits or more"
    )
