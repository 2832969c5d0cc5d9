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
    assert directory.by_pin("4821").key == "acme"
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
