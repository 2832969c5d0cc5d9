"""Customers, their support plans and named contacts, from ``customers.yaml``.

Contacts are how the critical line recognises people: by caller ID, by email sender, or by the
account PIN keyed on the phone. Phone numbers are normalised to E.164 (national forms read in
config's ``phone_region``) and emails case-folded when the file loads, so lookups are exact
matches.

A mail counts as a contact's only when SPF or DKIM passes aligned with its ``From`` domain
(:mod:`oncall.domain.mail.authentication`); ``trust_unauthenticated_email: true`` on a customer
is the manager's exception for a customer whose mail system cannot pass. PINs are 4 to 16
digits; ``oncall check`` warns about ones shorter than 6 (a 4-digit PIN is 10,000 guesses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from oncall.config.sections import normalise_email
from oncall.config.yamlsource import Node, SourceError, SourceErrors, load_yaml
from oncall.domain.business_time import Schedule
from oncall.domain.contract import CUSTOMER_ZONE, PlanContract, support_schedule
from oncall.domain.eligibility import BusinessHours, Entitlement, plan_entitlement
from oncall.domain.phones import DEFAULT_REGION, parse_phone
from oncall.sources.plan_terms import read_plan_contract, read_zone

PIN_DIGITS = (4, 16)  # shortest and longest PIN accepted
PIN_WARN_BELOW = 6  # shorter PINs are accepted with a warning


@dataclass(frozen=True)
class Plan:
    key: str
    critical_line: bool
    hours: str  # always | business | after_hours | schedule: when the critical line is covered
    misuse_fee: float | None = None  # overrides penalties.misuse_fee for this plan
    # The plan's own schedule, targets per severity and after-hours multiplier (all optional;
    # see oncall.domain.contract).
    contract: PlanContract = field(default_factory=PlanContract)


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
    # Accept this customer's mail without SPF/DKIM passing aligned: the case is then marked
    # "sender unverified" and never charged a misuse fee.
    trust_unauthenticated_email: bool = False
    # The customer's own zone, for plans whose hours say `timezone: customer`.
    timezone: ZoneInfo | None = None

    def support_hours(self, business_hours: BusinessHours, zone: ZoneInfo) -> Schedule:
        """The plan's support hours for this customer (config's business hours and zone
        unless the plan names its own schedule)."""
        return support_schedule(self.plan.contract, business_hours.schedule(zone), self.timezone)

    def entitlement(
        self, business_hours: BusinessHours, zone: ZoneInfo, at: datetime
    ) -> Entitlement:
        """Whether this customer may use the critical line at ``at``."""
        return plan_entitlement(
            self.plan.critical_line, self.plan.hours, self.support_hours(business_hours, zone), at
        )


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
    """Every problem in a customers file, warnings included, or [] (for ``oncall check``)."""
    try:
        raw = load_yaml(path)
    except SourceErrors as exc:
        return exc.errors
    root = Node(raw, str(path))
    _build(root, phone_region)
    return list(root.errors)


def _build(root: Node, phone_region: str) -> Directory:
    if not root.is_mapping("a mapping with plans and customers"):
        return Directory({}, {}, phone_region=phone_region)
    root.check_keys({"plans", "customers"}, required={"plans", "customers"})
    plans = _plans(root.child("plans"))
    customers: dict[str, Customer] = {}
    by_phone: dict[str, tuple[Customer, Contact]] = {}
    by_email: dict[str, tuple[Customer, Contact]] = {}
    by_pin: dict[str, Customer] = {}
    seen = _Seen(phone_region)
    customers_node = root.child("customers")
    if customers_node.is_mapping("a mapping of customer keys"):
        for key, node in customers_node.items():
            if not node.is_mapping():
                continue
            customer = _customer(str(key), node, plans, seen)
            customers[customer.key] = customer
            for contact in customer.contacts:
                if contact.phone:
                    by_phone[contact.phone] = (customer, contact)
                if contact.email:
                    by_email[contact.email] = (customer, contact)
            if customer.pin:
                by_pin[customer.pin] = customer
    return Directory(plans, customers, by_phone, by_email, by_pin, phone_region)


def _plans(node: Node) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    if not node.is_mapping("a mapping of plan names"):
        return plans
    for key, child in node.items():
        if not child.is_mapping():
            continue
        child.check_keys(
            {"critical_line", "hours", "misuse_fee", "targets", "after_hours_multiplier"}
        )
        critical = child.child("critical_line").boolean(False)
        contract = read_plan_contract(child)
        fee = child.child("misuse_fee")
        plans[str(key)] = Plan(
            str(key),
            critical,
            contract.hours,
            fee.number(0.0, minimum=0) if fee.present() else None,
            contract,
        )
    return plans


@dataclass
class _Seen:
    """Who already has each phone, email and PIN in the file: each may belong to one only."""

    phone_region: str
    phones: dict[str, str] = field(default_factory=dict)  # E.164 -> "customer/contact"
    emails: dict[str, str] = field(default_factory=dict)
    pins: dict[str, str] = field(default_factory=dict)  # PIN -> customer key


def _customer(key: str, node: Node, plans: dict[str, Plan], seen: _Seen) -> Customer:
    node.check_keys(
        {"name", "plan", "pin", "team", "contacts", "trust_unauthenticated_email", "timezone"},
        required={"name", "plan", "team"},
    )
    zone = read_zone(node.child("timezone"))
    plan_name = node.child("plan").string("") or ""
    plan = plans.get(plan_name)
    if plan is None and plan_name:
        node.child("plan").error(
            f"unknown plan {plan_name!r} (plans: {', '.join(sorted(plans)) or 'none'})"
        )
    schedule = plan.contract.schedule if plan else None
    if schedule is not None and schedule.timezone == CUSTOMER_ZONE and zone is None:
        node.child("plan").warning(
            f"plan {plan_name!r} keeps the customer's hours (timezone: customer) but customer "
            f"{key!r} has no timezone: config.yaml's timezone is used"
        )
    pin = _pin(node.child("pin"), key, seen)
    contacts = _contacts(node.child("contacts"), key, seen)
    return Customer(
        key=key,
        name=node.child("name").string("") or key,
        plan=plan or Plan("?", False, "always"),
        pin=pin,
        team=node.child("team").string("") or "",
        contacts=contacts,
        trust_unauthenticated_email=node.child("trust_unauthenticated_email").boolean(False),
        timezone=ZoneInfo(zone) if zone else None,
    )


def _pin(node: Node, key: str, seen: _Seen) -> str | None:
    pin = node.string()
    if pin is None:
        return None
    shortest, longest = PIN_DIGITS
    if not pin.isdigit() or not shortest <= len(pin) <= longest:
        node.error(f'a PIN is {shortest} to {longest} digits (quote it: pin: "48213967")')
        return None
    if len(pin) < PIN_WARN_BELOW:
        node.warning(
            f"a {len(pin)}-digit PIN is easy to guess ({10 ** len(pin):,} possibilities); "
            f"use {PIN_WARN_BELOW} digits or more"
        )
    if pin in seen.pins:
        node.error(f"PIN already used by customer {seen.pins[pin]!r}")
        return None
    seen.pins[pin] = key
    return pin


def _contacts(node: Node, key: str, seen: _Seen) -> tuple[Contact, ...]:
    contacts: list[Contact] = []
    if not node.present() or not node.is_list("a list of contacts"):
        return ()
    for c in node.elements():
        if not c.is_mapping():
            continue
        c.check_keys({"name", "phone", "email"}, required={"name"})
        phone = c.child("phone").validate(lambda v: parse_phone(v, seen.phone_region))
        email = c.child("email").validate(normalise_email)
        if not phone and not email:
            c.error("a contact needs a phone or an email")
        if phone and phone in seen.phones:
            c.child("phone").error(f"phone already belongs to {seen.phones[phone]}")
            phone = None
        if email and email in seen.emails:
            c.child("email").error(f"email already belongs to {seen.emails[email]}")
            email = None
        name = c.child("name").string("") or ""
        contacts.append(Contact(name, phone, email))
        if phone:
            seen.phones[phone] = f"{key}/{name}"
        if email:
            seen.emails[email] = f"{key}/{name}"
    return tuple(contacts)
