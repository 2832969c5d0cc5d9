"""Who really sent a mail: SPF and DKIM verdicts, and whether one passes aligned with ``From``.

A ``From`` header is whatever the sender typed. The receiving MTA checked two things a forger
cannot fake: SPF (the envelope sender's domain allows the sending server) and DKIM (a domain
signed the message). Neither says anything about ``From`` on its own; the DMARC rule
(RFC 7489, relaxed alignment) does: a mail is *authenticated* as coming from its ``From``
domain when SPF passes for an envelope sender of the same organisational domain, or DKIM
passes for a signing domain (``d=``) of the same organisational domain. Organisational domains
come from the Public Suffix List (``publicsuffixlist``, which ships the list), so
``mail.acme.example`` aligns with ``acme.example`` and ``acme.co.uk`` never with ``evil.co.uk``.

Where the verdicts come from:

- SendGrid's form fields: ``SPF`` (``pass``, ``fail``, ``softfail`` …, for the envelope
  ``from`` in ``envelope``) and ``dkim`` (``{@acme.example : pass, @esp.example : fail}``).
  SendGrid's MX computed them, and the post itself is authenticated (HTTP Basic), so they are
  the receiving MTA's word.
- ``Authentication-Results`` headers (RFC 8601, read with ``authres``), for a raw message
  whose receiving MTA wrote its verdicts there. A header inside a message may just as well be
  the forger's own, so one counts only when it is the receiving MTA's: the topmost one whose
  authserv-id is listed in ``email.authserv_ids``; or, when that list is empty, the topmost one
  of a post that carries no SendGrid verdicts at all (a relay that posts raw MIME with its own
  header). Any other ``Authentication-Results`` header is ignored.

Pure: no configuration, no network. Nothing here raises on odd input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import authres
from publicsuffixlist import PublicSuffixList

from oncall.domain.mail.decoding import clean
from oncall.domain.mail.inbound import InboundEmail

_DKIM_FIELD = re.compile(r"@?([A-Za-z0-9_.-]+)\s*:\s*([A-Za-z]+)")
_MAX_FIELD = 4000  # verdict fields longer than this are not SendGrid's


@dataclass(frozen=True)
class Check:
    """One verdict: ``spf`` or ``dkim``, its result, the domain it is about, and whether that
    domain is aligned with the ``From`` domain."""

    method: str  # spf | dkim
    result: str  # pass | fail | softfail | neutral | none | temperror | permerror | ...
    domain: str  # the envelope sender's domain (SPF) or the signing domain (DKIM); "" unknown
    aligned: bool
    source: str  # "sendgrid" (form fields) or "authentication-results"

    @property
    def passes_aligned(self) -> bool:
        return self.result == "pass" and self.aligned

    def describe(self) -> str:
        where = f" for {self.domain}" if self.domain else ""
        alignment = "" if self.aligned or not self.domain else " (not the From domain)"
        return f"{self.method.upper()} {self.result}{where}{alignment}"


@dataclass(frozen=True)
class SenderVerdict:
    """Whether a mail is authenticated as coming from its ``From`` domain, and why."""

    from_domain: str
    checks: tuple[Check, ...]

    @property
    def verified(self) -> bool:
        return any(check.passes_aligned for check in self.checks)

    @property
    def proof(self) -> Check | None:
        """The aligned pass that authenticates the mail (DKIM preferred), or None."""
        passing = [check for check in self.checks if check.passes_aligned]
        passing.sort(key=lambda check: check.method != "dkim")
        return passing[0] if passing else None

    def describe(self) -> str:
        """``DKIM pass for acme.example`` or ``SPF fail for evil.example; DKIM fail …``."""
        if self.proof is not None:
            return self.proof.describe()
        if not self.checks:
            return "no SPF or DKIM verdict"
        return "; ".join(dict.fromkeys(check.describe() for check in self.checks))


@cache
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the bundled list: no network at run time


def normalise_domain(domain: str | None) -> str:
    text = clean(domain or "").strip().strip(".").casefold()
    return text.rpartition("@")[2].strip("<>. ")


def organisational_domain(domain: str | None) -> str:
    """``mail.acme.example`` → ``acme.example``; ``x.acme.co.uk`` → ``acme.co.uk``.

    A name that is itself a public suffix (or unparseable) is its own organisational domain.
    """
    name = normalise_domain(domain)
    if not name:
        return ""
    try:
        found = _public_suffixes().privatesuffix(name)
    except (ValueError, TypeError, UnicodeError):
        found = None
    return found or name


def aligned(domain: str | None, from_domain: str | None) -> bool:
    """Relaxed alignment (RFC 7489 §3.1): the two share their organisational domain."""
    left, right = organisational_domain(domain), organisational_domain(from_domain)
    return bool(left) and left == right


def dkim_field_verdicts(value: str | None) -> tuple[tuple[str, str], ...]:
    """SendGrid's ``dkim`` field as ``(domain, result)`` pairs.

    ``{@acme.example : pass}`` → ``(("acme.example", "pass"),)``; several signatures are
    comma-separated; ``none`` or an empty field give ``()``.
    """
    if not value or len(value) > _MAX_FIELD:
        return ()
    pairs = ((normalise_domain(d), r.casefold()) for d, r in _DKIM_FIELD.findall(value))
    return tuple(dict.fromkeys((d, r) for d, r in pairs if d and "." in d))


def _first_word(value: str | None) -> str:
    words = (value or "").strip().split()
    return words[0].casefold() if words else ""


def _sendgrid_checks(mail: InboundEmail, from_domain: str) -> list[Check]:
    checks: list[Check] = []
    spf = _first_word(mail.spf)[:20]
    if spf:
        # SPF is about the envelope sender (MAIL FROM); a null sender has no domain to align.
        envelope_domain = normalise_domain(mail.envelope_from) if mail.envelope_from else ""
        checks.append(
            Check("spf", spf, envelope_domain, aligned(envelope_domain, from_domain), "sendgrid")
        )
    for domain, result in dkim_field_verdicts(mail.dkim):
        checks.append(Check("dkim", result, domain, aligned(domain, from_domain), "sendgrid"))
    return checks


def _parse_header(value: str) -> authres.AuthenticationResultsHeader | None:
    try:
        return authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
    except Exception:  # authres raises its own errors (and others) on malformed headers
        return None


def _trusted_header(
    mail: InboundEmail, authserv_ids: Iterable[str], has_form_verdicts: bool
) -> authres.AuthenticationResultsHeader | None:
    """The receiving MTA's ``Authentication-Results`` header, or None (see the module doc)."""
    wanted = {normalise_domain(i) for i in authserv_ids if i}
    if not wanted and has_form_verdicts:
        return None
    for value in mail.headers.get_all("Authentication-Results"):
        header = _parse_header(value)
        if header is None:
            continue
        if not wanted:
            return header  # the topmost parseable one: the last MTA prepended it
        if normalise_domain(header.authserv_id) in wanted:
            return header
    return None


def _property(result: object, type_: str, name: str) -> str:
    for prop in getattr(result, "properties", None) or ():
        if getattr(prop, "type", "") == type_ and getattr(prop, "name", "") == name:
            return str(getattr(prop, "value", "") or "")
    return ""


def _header_checks(
    header: authres.AuthenticationResultsHeader, mail: InboundEmail, from_domain: str
) -> list[Check]:
    checks: list[Check] = []
    for result in header.results or ():
        method = str(getattr(result, "method", "") or "").casefold()
        outcome = str(getattr(result, "result", "") or "").casefold()[:20]
        if method == "spf":
            sender = _property(result, "smtp", "mailfrom") or (mail.envelope_from or "")
            domain = normalise_domain(sender)
        elif method == "dkim":
            domain = normalise_domain(
                _property(result, "header", "d") or _property(result, "header", "i")
            )
        else:
            continue  # dmarc, arc, iprev …: SPF and DKIM are what we align ourselves
        checks.append(
            Check(method, outcome, domain, aligned(domain, from_domain), "authentication-results")
        )
    return checks


def authenticate_sender(mail: InboundEmail, authserv_ids: Iterable[str] = ()) -> SenderVerdict:
    """The SPF and DKIM verdicts of ``mail`` and whether one passes aligned with ``From``."""
    from_domain = normalise_domain(mail.from_address)
    checks = _sendgrid_checks(mail, from_domain)
    header = _trusted_header(mail, authserv_ids, has_form_verdicts=bool(checks))
    if header is not None:
        checks += _header_checks(header, mail, from_domain)
    return SenderVerdict(from_domain, tuple(checks))
