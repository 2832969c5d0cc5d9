"""``oncall simulate`` against a service really listening on loopback: signed over the public
URL, sent to ``--url``, following the TwiML the way a newcomer's terminal will."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from oncall.cli.main import main
from oncall.db.models import Attempt, Case, OutboundMessage


@pytest.fixture
def server(app) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


def simulate(runner, settings, server, *args: str):
    # The CLI reads the same config file as the app, so it signs with the same token and
    # public URL (https://oncall.vendor.example) while sending to the loopback server.
    result = runner.invoke(main, ["--config", settings.source, "simulate", *args, "--url", server])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def cases(runtime) -> list[Case]:
    with runtime.sessions() as session:
        found = list(session.scalars(select(Case)))
        session.expunge_all()
        return found


def test_simulate_call_reports_an_s1_and_the_engineer_accepts(runner, settings, server, runtime):
    output = simulate(runner, settings, server, "call", "--from", "+15551230001", "--digits", "1")
    assert "caller hears: Thank you for calling the Vendor Support critical support line" in output
    assert "caller presses 1" in output
    assert "Your case number is 1 0 0 1" in output
    assert "engineer hears: Critical line call from Acme Corp, severity 1" in output
    assert "connected to the engineer" in output
    assert "the line hangs up" in output
    (case,) = cases(runtime)
    assert case.acknowledged_by == "alice" and case.recording_sid is not None


def test_simulate_call_with_pin_and_nobody_answering(runner, settings, server, runtime):
    output = simulate(
        runner,
        settings,
        server,
        "call",
        "--from",
        "+15550009999",
        "--pin",
        "482193",
        "--digits",
        "2",
        "--no-answer",
    )
    assert "caller presses 482193" in output
    assert output.count("no answer") == 2
    assert "The on-call engineer has been paged" in output
    (case,) = cases(runtime)
    assert case.severity == 2 and case.state == "open"


def test_simulate_call_menu_3(runner, settings, server, runtime):
    output = simulate(runner, settings, server, "call", "--from", "+15551230001", "--digits", "3")
    assert "may incur a fee" in output
    with runtime.sessions() as session:
        assert session.scalar(select(Attempt.reason)) == "non_critical"


def test_simulate_sms_posts_a_signed_sms_and_prints_the_reply(runner, settings, server, runtime):
    simulate(runner, settings, server, "call", "--from", "+15551230001", "--no-answer")
    output = simulate(runner, settings, server, "sms", "--from", "+15550100101", "ACK 1001")
    assert output.startswith("reply: ")
    assert "1001" in output
    assert cases(runtime)[0].acknowledged_by == "alice"


def test_simulate_email_posts_sendgrid_format(runner, settings, server, runtime):
    output = simulate(
        runner,
        settings,
        server,
        "email",
        "--from",
        "wile@acme.example",
        "--subject",
        "Sev 1: checkout down",
        "--body",
        "Down for all users.",
    )
    assert '"outcome": "case"' in output and '"case_number": 1001' in output
    with runtime.sessions() as session:
        reply = session.scalar(select(OutboundMessage).where(OutboundMessage.purpose == "opened"))
        assert reply.subject == "[Case 1001] Sev 1: checkout down"


def test_simulate_needs_an_auth_token(runner, make_settings, db_url):
    settings = make_settings(db_url, twilio={"auth_token": ""})
    result = runner.invoke(
        main, ["--config", settings.source, "simulate", "call", "--from", "+15551230001"]
    )
    assert result.exit_code == 2
    assert "needs twilio.auth_token" in result.output


def test_simulate_email_asked_and_answered_as_in_the_readme(runner, settings, server, runtime):
    # README, "An email the service asks about": an unclear mail, the menu, the answer 1.
    asked = simulate(
        runner,
        settings,
        server,
        "email",
        "--from",
        "wile@acme.example",
        "--subject",
        "Checkout",
        "--body",
        "Our checkout page is not working.",
    )
    assert '"outcome": "asked"' in asked and '"case_number": 1001' in asked
    with runtime.sessions() as session:
        question = session.scalar(
            select(OutboundMessage).where(
                OutboundMessage.purpose == "severity_question", OutboundMessage.channel == "email"
            )
        )
        assert question.subject == "[Case 1001] Checkout"
    assert cases(runtime)[0].state == "asked"
    answered = simulate(
        runner,
        settings,
        server,
        "email",
        "--from",
        "wile@acme.example",
        "--subject",
        "Re: [Case 1001] Checkout",
        "--body",
        "1",
    )
    assert '"outcome": "answered"' in answered and '"reason": "critical"' in answered
    (case,) = cases(runtime)
    assert (case.state, case.severity, case.severity_source) == ("open", 1, "answered")


def test_simulate_sms_answers_the_severity_question(runner, settings, server, runtime):
    simulate(
        runner,
        settings,
        server,
        "email",
        "--from",
        "wile@acme.example",
        "--subject",
        "Help",
        "--body",
        "Something is odd with the reports.",
    )
    output = simulate(runner, settings, server, "sms", "--from", "+15551230001", "3")
    assert output.startswith("reply: Thank you. Case 1001 goes to our regular support queue")
    assert cases(runtime)[0].state == "downgraded"


def test_simulate_email_sends_passing_verdicts_unless_told_otherwise(
    runner, settings, server, runtime
):
    def send(*extra: str) -> str:
        return simulate(
            runner, settings, server, "email", "--from", "rr@acme.example",
            "--subject", "Sev 1: checkout down", "--body", "Down for all users.", *extra,
        )  # fmt: skip

    spoofed = send("--unauthenticated", "--reply-to", "victim@third-party.example")
    assert '"reason": "unverified"' in spoofed and '"case_number": null' in spoofed
    assert cases(runtime) == []
    with runtime.sessions() as session:
        (attempt,) = session.scalars(select(Attempt))
        assert attempt.reason == "unverified"
        assert attempt.detail["sender_authentication"] == (
            "SPF fail for acme.example; DKIM fail for acme.example"
        )
        (refusal,) = session.scalars(
            select(OutboundMessage).where(OutboundMessage.purpose == "refusal")
        )
        assert refusal.to_address == "rr@acme.example"  # never the Reply-To of a forged From
    assert '"outcome": "case"' in send()  # by default: SPF and DKIM pass for acme.example


def test_simulate_a_returning_caller_leaves_a_note_then_escalates(
    runner, settings, server, runtime
):
    """Issue 12: ``--returning KEY`` is what the caller presses on the returning menu."""
    simulate(runner, settings, server, "call", "--from", "+15551230001", "--no-answer")
    output = simulate(
        runner, settings, server, "call", "--from", "+15551230002", "--returning", "1"
    )
    assert "You already have an open case, number 1 0 0 1" in output
    assert "An engineer has been paged and will take charge of it." in output
    assert "caller presses 1" in output and "caller leaves a note" in output
    assert "Your note has been passed to" in output
    output = simulate(
        runner, settings, server, "call", "--from", "+15551230002", "--returning", "9"
    )
    assert "Your case has been escalated. Dana Ortiz, the duty manager, has been alerted" in output
    output = simulate(runner, settings, server, "call", "--from", "+15551230002")
    assert (
        "caller presses nothing" in output and "Thank you for calling. Your case number" in output
    )
    with runtime.sessions() as session:
        pages = session.scalars(
            select(OutboundMessage).where(OutboundMessage.purpose == "manager_page")
        ).all()
    assert [p.to_address for p in pages] == ["+15550100104"]
    assert len(cases(runtime)) == 1
