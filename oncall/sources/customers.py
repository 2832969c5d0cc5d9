"""Customers, their support plans and named contacts, from ``customers.yaml``.

Contacts are how the critical line recognises people: by caller ID, by email sender, or by the
account PIN keyed on the phone. Phone numbers are normalised to E.164 (national forms read in
config's ``phone_region``) and emails case-folded when the file loads, so lookups are exact
matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from oncall.config.sections import normalise_email
from oncall.config.yamlsource import Node, SourceError, SourceErrors, load_yaml
from oncall.domain.phones import DEFAULT_REGION, parse_phone

PLAN_HOURS = ["always", "business", "after_hours"]


@dataclass(frozen=True)
class Plan:
    key: str
    critical_line: bool
    hours: str  # always | business | after_hours: when the critical line is covered
    misuse_fee: float | None = None  # overrides penalties.misuse_fee for this plan


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class Customer:
    key: str
    name: str
    plan: Plan
    pin: str | None
    team: str
    contacts: tuple[Contact, ...]


@dataclass(frozen=True)
class Directory:
    """Customers with indexes by phone, email and PIN."""

    plans: dict[str, Plan]
    customers: dict[str, Customer]
    _by_phone: dict[str, tuple[Customer, Contact]] = field(default_factory=dict, repr=False)
    _by_email: dict[str, tuple[Customer, Contact]] = field(default_factory=dict, repr=False)
    _by_pin: dict[str, Customer] = field(default_factory=dict, repr=False)
    # The region the file's national numbers were read in: a caller's number is read alike.
    phone_region: str = DEFAULT_REGION

    def by_phone(self, phone: str | None) -> tuple[Customer, Contact] | None:
        if not phone:
            return None
        try:
            return self._by_phone.get(parse_phone(phone, self.phone_region))
        except ValueError:
            return None

    def by_email(self, address: str | None) -> tuple[Customer, Contact] | None:
        if not address:
            return None
        return self._by_email.get(address.strip().casefold())

    def by_pin(self, pin: str | None) -> Customer | None:
        if not pin:
            return None
        return self._by_pin.get(pin.strip())

    def teams(self) -> set[str]:
        return {c.team for c in self.customers.values()}


def load_directory(path: Path | str, phone_region: str = DEFAULT_REGION) -> Directory:
    """Load and validate; raises :class:`SourceErrors` listing every problem. Phone numbers
    written without a country code are read in ``phone_region``."""
    raw = load_yaml(path)
    root = Node(raw, str(path))
    directory = _build(root, phone_region)
    root.raise_if_errors()
    return directory


def directory_errors(path: Path | str, phone_region: str = DEFAULT_REGION) -> list[SourceError]:
    """Every problem in a customers file, or [] (for ``oncall check``)."""
    try:
        load_directory(path, phone_region)
    except SourceErrors as exc:
        return exc.errors
    return []


def _build(root: Node, phone_region: str) -> Directory:
    plans: dict[str, Plan] = {}
    customers: dict[str, Customer] = {}
    by_phone: dict[str, tuple[Customer, Contact]] = {}
    by_email: dict[str, tuple[Customer, Contact]] = {}
    by_pin: dict[str, Customer] = {}
    empty = Directory(plans, customers, phone_region=phone_region)
    if not root.is_mapping("a mapping with plans and customers"):
        return empty
    root.check_keys({"plans", "customers"}, required={"plans", "customers"})

    plans_node = root.child("plans")
    if plans_node.is_mapping("a mapping of plan names"):
        for key, node in plans_node.items():
            if not node.is_mapping():
                continue
            node.check_keys({"critical_line", "hours", "misuse_fee"})
            critical = node.child("critical_line").boolean(False)
            hours = node.child("hours").choice(PLAN_HOURS, "always")
            fee = node.child("misuse_fee")
            plans[str(key)] = Plan(
                str(key),
                critical,
                hours or "always",
                fee.number(0.0, minimum=0) if fee.present() else None,
            )

    seen_phone: dict[str, str] = {}
    seen_email: dict[str, str] = {}
    seen_pin: dict[str, str] = {}
    customers_node = root.child("customers")
    if customers_node.is_mapping("a mapping of customer keys"):
        for key, node in customers_node.items():
            if not node.is_mapping():
                continue
            node.check_keys(
                {"name", "plan", "pin", "team", "contacts"}, required={"name", "plan", "team"}
            )
            plan_name = node.child("plan").string("") or ""
            plan = plans.get(plan_name)
            if plan is None and plan_name:
                node.child("plan").error(
                    f"unknown plan {plan_name!r} (plans: {', '.join(sorted(plans)) or 'none'})"
                )
            pin = node.child("pin").string()
            if pin is not None:
                if not pin.isdigit() or not 4 <= len(pin) <= 8:
                    node.child("pin").error('a PIN is 4 to 8 digits (quote it: pin: "4821")')
                    pin = None
                elif pin in seen_pin:
                    node.child("pin").error(f"PIN already used by customer {seen_pin[pin]!r}")
                    pin = None
                else:
                    seen_pin[pin] = str(key)
            contacts: list[Contact] = []
            contacts_node = node.child("contacts")
            if contacts_node.present() and contacts_node.is_list("a list of contacts"):
                for c in contacts_node.elements():
                    if not c.is_mapping():
                        continue
                    c.check_keys({"name", "phone", "email"}, required={"name"})
                    phone = c.child("phone").validate(lambda v: parse_phone(v, phone_region))
                    email = c.child("email").validate(normalise_email)
                    if not phone and not email:
                        c.error("a contact needs a phone or an email")
                    if phone and phone in seen_phone:
                        c.child("phone").error(f"phone already belongs to {seen_phone[phone]}")
                        phone = None
                    if email and email in seen_email:
                        c.child("email").error(f"email already belongs to {seen_email[email]}")
                        email = None
                    name = c.child("name").string("") or ""
                    contact = Contact(name, phone, email)
                    contacts.append(contact)
                    if phone:
                        seen_phone[phone] = f"{key}/{name}"
                    if email:
                        seen_email[email] = f"{key}/{name}"
            customer = Customer(
                key=str(key),
                name=node.child("name").string("") or str(key),
                plan=plan or Plan("?", False, "always"),
                pin=pin,
                team=node.child("team").string("") or "",
                contacts=tuple(contacts),
            )
            customers[customer.key] = customer
            for contact in contacts:
                if contact.phone:
                    by_phone[contact.phone] = (customer, contact)
                if contact.email:
                    by_email[contact.email] = (customer, contact)
            if pin:
                by_pin[pin] = customer
    return Directory(plans, customers, by_phone, by_email, by_pin, phone_region)
