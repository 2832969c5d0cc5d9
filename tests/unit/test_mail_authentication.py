"""Sender authentication, pure: SendGrid's SPF and dkim fields, Authentication-Results headers
(read with authres), and the DMARC alignment rule with organisational domains."""

from __future__ import annotations

import pytest

from oncall.domain.mail.authentication import (
    aligned,
    authenticate_sender,
    dkim_field_verdicts,
    organisational_domain,
)
from oncall.domain.mail.inbound import Headers, InboundEmail


def mail(
    from_address: str = "rr@acme.example",
    *,
    spf: str | None = None,
    dkim: str | None = None,
    envelope_from: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> InboundEmail:
    return InboundEmail(
        from_address=from_address,
        spf=spf,
        dkim=dkim,
        envelope_from=envelope_from,
        headers=Headers(headers or []),
        variant="raw",
    )


# -- organisational domains and alignment ------------------------------------------------------
@pytest.mark.parametrize(
    ("domain", "organisational"),
    [
        ("acme.example", "acme.example"),
        ("mail.eu.acme.example", "acme.example"),
        ("ACME.example.", "acme.example"),
        ("mail.acme.co.uk", "acme.co.uk"),
        ("customer.github.io", "customer.github.io"),  # a private public suffix
        ("example", "example"),  # a public suffix alone is its own
        ("", ""),
    ],
)
def test_organisational_domain(domain, organisational):
    assert organisational_domain(domain) == organisational


@pytest.mark.parametrize(
    ("signer", "from_domain", "expected"),
    [
        ("acme.example", "acme.example", True),
        ("mail.acme.example", "acme.example", True),  # relaxed: a subdomain aligns
        ("acme.example", "support.acme.example", True),
        ("acme.example.evil.example", "acme.example", False),  # a look-alike
        ("evil-acme.example", "acme.example", False),
        ("acme.co.uk", "evil.co.uk", False),  # same public suffix, different organisations
        ("one.github.io", "two.github.io", False),
        ("", "acme.example", False),
    ],
)
def test_relaxed_alignment(signer, from_domain, expected):
    assert aligned(signer, from_domain) is expected


# -- SendGrid's fields -------------------------------------------------------------------------
def test_dkim_field_with_one_or_several_signatures():
    assert dkim_field_verdicts("{@acme.example : pass}") == (("acme.example", "pass"),)
    assert dkim_field_verdicts("{@acme.example : fail, @esp.example : pass}") == (
        ("acme.example", "fail"),
        ("esp.example", "pass"),
    )
    assert dkim_field_verdicts("none") == ()
    assert dkim_field_verdicts("") == () and dkim_field_verdicts(None) == ()
    assert dkim_field_verdicts("{" + "@x.example : pass, " * 1000 + "}") == ()  # not SendGrid's


def test_dkim_pass_for_the_from_domain_authenticates():
    verdict = authenticate_sender(mail(spf="fail", dkim="{@acme.example : pass}"))
    assert verdict.verified
    assert verdict.describe() == "DKIM pass for acme.example"


def test_spf_pass_counts_only_for_an_aligned_envelope_sender():
    aligned_spf = mail(spf="pass", envelope_from="bounces@mail.acme.example")
    assert authenticate_sender(aligned_spf).verified
    foreign = mail(spf="pass", envelope_from="attacker@evil.example", dkim="{@acme.example : fail}")
    verdict = authenticate_sender(foreign)
    assert not verdict.verified
    assert "SPF pass for evil.example (not the From domain)" in verdict.describe()
    assert "DKIM fail for acme.example" in verdict.describe()
    # SPF of a bounce (null sender) or an unknown envelope has nothing to align with.
    assert not authenticate_sender(mail(spf="pass", envelope_from="")).verified
    assert not authenticate_sender(mail(spf="pass")).verified


def test_the_spoofed_mail_of_the_issue_is_not_authenticated():
    spoof = mail(spf="fail", dkim="{@acme.example : fail}", envelope_from="rr@acme.example")
    verdict = authenticate_sender(spoof)
    assert not verdict.verified and verdict.proof is None
    assert verdict.describe() == "SPF fail for acme.example; DKIM fail for acme.example"


def test_a_pass_for_another_domain_signing_the_mail_is_not_enough():
    # The attacker signs with their own domain: valid DKIM, but not the From's.
    verdict = authenticate_sender(mail(spf="softfail", dkim="{@evil.example : pass}"))
    assert not verdict.verified


def test_no_verdict_at_all_is_not_authenticated():
    verdict = authenticate_sender(mail())
    assert not verdict.verified and verdict.describe() == "no SPF or DKIM verdict"


# -- Authentication-Results --------------------------------------------------------------------
MX = "Authentication-Results"
PASSING = "mx.sendgrid.net; spf=pass smtp.mailfrom=rr@acme.example; dkim=pass header.d=acme.example"
FAILING = "mx.sendgrid.net; spf=fail smtp.mailfrom=rr@acme.example; dkim=fail header.d=acme.example"


def test_the_receiving_mtas_header_is_read_when_its_authserv_id_is_configured():
    raw = mail(spf="fail", dkim="{@acme.example : fail}", headers=[(MX, PASSING)])
    assert not authenticate_sender(raw).verified  # not configured: SendGrid's fields decide
    verdict = authenticate_sender(raw, ["mx.sendgrid.net"])
    assert verdict.verified and verdict.proof.source == "authentication-results"


def test_only_the_topmost_header_of_the_trusted_mta_counts():
    # A forger's own header lower down (the MTA prepends its own above it) is ignored.
    raw = mail(headers=[(MX, FAILING), ("Received", "from x by y"), (MX, PASSING)])
    assert not authenticate_sender(raw, ["mx.sendgrid.net"]).verified
    forged_elsewhere = mail(headers=[(MX, "evil.example; dkim=pass header.d=acme.example")])
    assert not authenticate_sender(forged_elsewhere, ["mx.sendgrid.net"]).verified


def test_a_post_without_sendgrid_verdicts_uses_its_topmost_header():
    assert authenticate_sender(mail(headers=[(MX, PASSING)])).verified
    assert not authenticate_sender(mail(headers=[(MX, FAILING), (MX, PASSING)])).verified


def test_a_header_inside_a_mail_sendgrid_judged_is_ignored_by_default():
    # The spoof carries its own "pass" header; SendGrid's verdicts say fail.
    spoof = mail(spf="fail", dkim="{@acme.example : fail}", headers=[(MX, PASSING)])
    assert not authenticate_sender(spoof).verified


@pytest.mark.parametrize(
    "value",
    [
        "",
        ";;;",
        "mx; dkim",
        "mx.example; spf=pass smtp.mailfrom=",
        "\x00\ud800 garbage",
        "x" * 5000,
    ],
)
def test_malformed_headers_never_raise(value):
    assert not authenticate_sender(mail(headers=[(MX, value)])).verified


def test_dkim_identity_and_subdomain_envelope_in_a_header():
    header = "mx.example.net; dkim=pass header.i=@mail.acme.example; spf=none"
    assert authenticate_sender(mail(headers=[(MX, header)])).verified
