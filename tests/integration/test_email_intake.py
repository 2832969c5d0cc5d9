"""The critical address: ``POST /email/inbound`` as SendGrid Inbound Parse posts it.

Requests are real ``multipart/form-data`` bodies built from the fixtures in
``tests/fixtures/email/`` (field bytes exactly as SendGrid sends them, charsets included), with
HTTP Basic credentials. The clock is Tuesday 03:00 in Toronto (after hours): Acme's premium
plan is covered, Globex's standard plan is not.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from oncall.db.models import Attempt, Case, CaseEvent, MisuseFlag, OutboundMessage, WebhookReceipt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"
AUTH = "Basic " + base64.b64encode(b"sendgrid:inbound-secret").decode()
ALICE, BOB = "+15550100101", "+15550100102"


# -- SendGrid posts ----------------------------------------------------------------------------
def load(name: str) -> tuple[dict[str, str | bytes], dict[str, tuple[str, str, bytes]]]:
    """A fixture's form fields (str, or the raw bytes of a field in another charset) and files."""
    doc = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    form: dict[str, str | bytes] = {}
    for key, value in doc["form"].items():
        if isinstance(value, dict) and "$encode" in value:
            value = value["text"].encode(value["$encode"])
        elif isinstance(value, dict) and "$file" in value:
            value = (FIXTURES / value["$file"]).read_bytes()
        form[key] = value
    files = {
        key: (spec["filename"], spec["content_type"], spec["content"].encode("utf-8"))
        for key, spec in doc.get("files", {}).items()
    }
    return form, files


def multipart(form: dict[str, str | bytes], files: dict[str, tuple[str, str, bytes]]):
    """Encode like SendGrid: one part per field, raw bytes, no per-part charset."""
    boundary = "xYzZY" + uuid.uuid4().hex
    out = bytearray()
    for name, value in form.items():
        data = value if isinstance(value, bytes) else value.encode("utf-8")
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += data + b"\r\n"
    for name, (filename, content_type, data) in files.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def post(client, form, files=None, auth: str | None = AUTH):
    body, content_type = multipart(form, files or {})
    headers = {"Authorization": auth} if auth else {}
    return client.post("/email/inbound", data=body, content_type=content_type, headers=headers)


def post_fixture(client, name: str, **changes: str):
    form, files = load(name)
    for key, value in changes.items():
        form[key] = value
    return post(client, form, files)


def simple(
    from_: str = "Wile E. Coyote <wile@acme.example>",
    subject: str = "Sev 1: checkout down for all users",
    text: str = "Checkout is down for all users since 02:00.\n",
    message_id: str | None = None,
    extra_headers: str = "",
) -> dict[str, str]:
    """A parsed-variant post with the fields SendGrid always sends."""
    message_id = message_id or f"<{uuid.uuid4().hex}@mail.example>"
    headers = (
        f"MIME-Version: 1.0\nFrom: {from_}\nDate: Tue, 24 Nov 2026 08:00:00 +0000\n"
        f"Message-ID: {message_id}\nSubject: {subject}\nTo: critical@vendor.example\n"
        f"{extra_headers}Content-Type: text/plain; charset=UTF-8\n"
    )
    address = from_.rpartition("<")[2].rstrip(">") if "<" in from_ else from_
    domain = address.rpartition("@")[2]
    return {
        "headers": headers,
        "dkim": f"{{@{domain} : pass}}",  # signed by the sender's own domain, as real mail is
        "to": "critical@vendor.example",
        "from": from_,
        "subject": subject,
        "text": text,
        "sender_ip": "192.0.2.25",
        "envelope": json.dumps({"to": ["critical@vendor.example"], "from": address}),
        "charsets": json.dumps(
            {"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "UTF-8"}
        ),
        "SPF": "pass",
        "spam_score": "0.1",
        "attachments": "0",
    }


# -- database helpers --------------------------------------------------------------------------
def rows(runtime, model, *where) -> list[Any]:
    with runtime.sessions() as session:
        result = list(session.scalars(select(model).where(*where).order_by(model.id)))
        session.expunge_all()
        return result


def count(runtime, model, *where) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def emails(runtime, purpose: str | None = None) -> list[OutboundMessage]:
    where = [OutboundMessage.channel == "email"]
    if purpose:
        where.append(OutboundMessage.purpose == purpose)
    return rows(runtime, OutboundMessage, *where)


def nothing_changed(runtime) -> bool:
    return all(count(runtime, m) == 0 for m in (Case, Attempt, OutboundMessage, WebhookReceipt))


# -- eligible ----------------------------------------------------------------------------------
def test_s1_from_a_registered_contact_opens_a_case_and_auto_replies(client, runtime):
    response = post_fixture(client, "s1_known_contact.json")
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "case"
    assert response.get_json()["case_number"] == 1001
    (case,) = rows(runtime, Case)
    assert case.channel == "email" and case.severity == 1 and case.customer_key == "acme"
    assert case.contact_email == "wile@acme.example" and case.contact_name == "Wile E. Coyote"
    assert case.intake_key == "email:<CA+wile.20261124021458.7f3a@mail.acme.example>"
    assert case.summary.startswith("Sev 1: Production down - order portal unreachable\n")
    assert "unreachable since 02:05 UTC" in case.summary
    (reply,) = emails(runtime, "opened")
    assert reply.to_address == "wile@acme.example"
    assert reply.from_address == "support@vendor.example"
    assert reply.subject == "[Case 1001] Sev 1: Production down - order portal unreachable"
    assert reply.headers["Auto-Submitted"] == "auto-replied"
    assert reply.headers["In-Reply-To"] == "<CA+wile.20261124021458.7f3a@mail.acme.example>"
    assert reply.message_id and reply.message_id.endswith("@vendor.example>")
    assert "case 1001" in reply.body
    assert "within 15 minutes" in reply.body and "within the hour" in reply.body
    assert "[Case 1001]" in reply.body
    # The first page was queued as the case opened, so the reply may say so; nothing refused.
    assert "the on-call engineer has been paged" in reply.body
    (page,) = rows(runtime, OutboundMessage, OutboundMessage.channel == "sms")
    assert (page.purpose, page.recipient, page.to_address) == ("page", "alice", "+15550100101")
    assert count(runtime, Attempt) == 0
    # Nobody texts the customer for an email case.
    customer_sms = (OutboundMessage.channel == "sms", OutboundMessage.recipient == "customer")
    assert count(runtime, OutboundMessage, *customer_sms) == 0


def test_s2_by_phrase_opens_an_s2_case(client, runtime):
    response = post_fixture(client, "s2_phrase.json")
    assert response.get_json()["outcome"] == "case"
    (case,) = rows(runtime, Case)
    assert case.severity == 2 and case.contact_name == "Road Runner"


def test_severity_phrases_from_config_are_merged_over_the_defaults(
    make_settings, db_url, clock, transports, db_engine
):
    from oncall.bootstrap.runtime import build_runtime
    from oncall.web.app import create_app

    settings = make_settings(db_url, email={"severity_phrases": {"S1": ["warehouse on fire"]}})
    runtime = build_runtime(settings, clock=clock, transports=transports, db=db_engine)
    client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    post(client, simple(subject="Help", text="The warehouse on fire, nothing ships."))
    # "[New]": a second problem of the same customer, not a mail about the first (issue 12)
    post(client, simple(subject="[New] Hello", text="Production down since midnight."))  # default
    assert [c.severity for c in rows(runtime, Case)] == [1, 1]


# -- refused, and never lost -------------------------------------------------------------------
def test_unknown_sender_gets_an_auto_reply_and_the_mail_is_forwarded(client, runtime):
    response = post(client, simple(from_="Someone <someone@unknown.example>"))
    assert response.status_code == 200
    assert response.get_json() == {
        "outcome": "refused",
        "case_number": None,
        "reason": "unknown_sender",
        "auto_replied": True,
        "forwarded": True,
        "duplicate": False,
    }
    assert count(runtime, Case) == 0
    (reply,) = emails(runtime, "refusal")
    assert reply.to_address == "someone@unknown.example"
    assert reply.subject == "Re: Sev 1: checkout down for all users"
    assert reply.headers["Auto-Submitted"] == "auto-replied"
    assert "not registered as a contact" in reply.body
    assert "support-queue@vendor.example" in reply.body
    (forward,) = emails(runtime, "forward")
    assert forward.to_address == "support-queue@vendor.example"
    assert forward.headers["Reply-To"] == "someone@unknown.example"
    assert "Checkout is down for all users" in forward.body
    (attempt,) = rows(runtime, Attempt)
    assert attempt.channel == "email" and attempt.reason == "unknown_sender"
    assert attempt.contact == "someone@unknown.example" and attempt.forwarded
    assert "not registered" in attempt.told


def test_not_entitled_after_hours(client, runtime):
    response = post(client, simple(from_="Hank Scorpio <hank@globex.example>"))
    assert response.get_json()["reason"] == "not_entitled"
    (reply,) = emails(runtime, "refusal")
    assert "covers the critical line in business hours" in reply.body
    (attempt,) = rows(runtime, Attempt)
    assert attempt.customer_key == "globex" and attempt.forwarded
    assert len(emails(runtime, "forward")) == 1


def test_non_critical_is_refused_forwarded_and_counts_towards_a_review(client, runtime):
    for n in range(3):
        form, files = load("non_critical.json")
        form["headers"] = form["headers"].replace(
            "<20261124221000.91c2@mail.acme.example>", f"<n{n}@mail.acme.example>"
        )
        response = post(client, form, files)
        assert response.get_json()["reason"] == "non_critical"
    assert count(runtime, Case) == 0
    reply = emails(runtime, "refusal")[0]
    assert "Severity 1" in reply.body and "may incur a fee" in reply.body
    assert len(emails(runtime, "forward")) == 3
    (flag,) = rows(runtime, MisuseFlag)
    assert flag.kind == "review" and flag.customer_key == "acme"


def test_no_severity_asks_the_sender_with_the_menu_and_no_fee(client, runtime):
    # Issue 16: an unclear severity is asked, as the phone line asks, instead of refused.
    response = post(client, simple(subject="Problem", text="Something is odd with reports."))
    assert response.get_json()["outcome"] == "asked"
    (case,) = rows(runtime, Case)
    assert case.state == "asked" and case.number == response.get_json()["case_number"]
    (question,) = emails(runtime, "severity_question")
    assert "Reply 1 if a production system is down for all users" in question.body
    assert count(runtime, Attempt) == 0 and count(runtime, MisuseFlag) == 0


# -- replies -----------------------------------------------------------------------------------
def test_a_reply_with_case_in_the_subject_is_attached_and_relayed(client, runtime):
    post_fixture(client, "s1_known_contact.json")  # case 1001
    form, files = load("reply_case.json")
    form["subject"] = form["subject"].replace("1042", "1001")
    form["headers"] = form["headers"].replace("[Case 1042]", "[Case 1001]")
    response = post(client, form, files)
    assert response.get_json()["outcome"] == "reply"
    assert response.get_json()["case_number"] == 1001
    assert count(runtime, Case) == 1
    (event,) = rows(runtime, CaseEvent, CaseEvent.kind == "customer_reply")
    assert "checkout is still slow for a few" in event.text
    assert "Your case number is 1042" not in event.text  # the quoted history is stripped
    (relay,) = rows(runtime, OutboundMessage, OutboundMessage.purpose == "customer_reply")
    assert relay.channel == "sms" and relay.to_address == ALICE  # whoever is paged now
    assert relay.body.startswith("Case 1001 Acme Corp replied: Thanks. The portal answers")
    assert len(relay.body) <= 306
    assert len(emails(runtime, "opened")) == 1  # no new auto-reply
    assert count(runtime, Attempt) == 0


def test_a_reply_found_by_in_reply_to_goes_to_the_engineer_who_acknowledged(client, runtime):
    from oncall.services.case_actions import acknowledge

    post_fixture(client, "s1_known_contact.json")
    with runtime.sessions() as session, session.begin():
        case = session.scalar(select(Case))
        acknowledge(session, runtime, case, "bob", runtime.clock.now(), via="sms")
    (auto_reply,) = emails(runtime, "opened")
    form = simple(
        from_="Acme Ops <ops@acme.example>",  # not a registered contact: forwarded our mail
        subject="Re: your email",
        text="Database restarted on our side.\n\n> quoted\n",
        extra_headers=f"In-Reply-To: {auto_reply.message_id}\n",
    )
    response = post(client, form)
    assert response.get_json()["outcome"] == "reply"
    (relay,) = rows(runtime, OutboundMessage, OutboundMessage.purpose == "customer_reply")
    assert relay.to_address == BOB
    assert "Database restarted on our side." in relay.body and "quoted" not in relay.body


def test_only_the_case_email_gets_its_message_id_at_intake(client, runtime):
    post_fixture(client, "s1_known_contact.json")
    post(client, simple(from_="someone@unknown.example"))
    # The case's first email has its Message-ID at once (a reply may race the send), in the
    # one form every email we send has (oncall.domain.mail.threads.make_message_id)...
    (opened,) = emails(runtime, "opened")
    form = rf"<oncall\.{opened.id}\.[0-9a-f]{{16}}@vendor\.example>"
    assert re.fullmatch(form, opened.message_id)
    # ...while a refusal and a forward, which no reply threads to a case, get theirs from the
    # sender when they go out, like every other email (test_outbox pins that).
    (refusal,) = emails(runtime, "refusal")
    (forward,) = emails(runtime, "forward")
    assert refusal.message_id is None and forward.message_id is None
    # A forward names no recipient: the queue is neither a paged member nor the customer.
    assert forward.recipient == "" and forward.case_id is None


def test_a_case_number_in_a_strangers_subject_does_not_reach_the_engineer(client, runtime):
    post_fixture(client, "s1_known_contact.json")
    response = post(client, simple(from_="x@evil.example", subject="Re: [Case 1001] call me"))
    assert response.get_json()["reason"] == "unknown_sender"
    assert count(runtime, OutboundMessage, OutboundMessage.purpose == "customer_reply") == 0


# -- mail loops --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["auto_reply.json", "mailing_list.json", "bounce.json"])
def test_automatic_mail_gets_no_auto_reply_and_opens_no_case(client, runtime, name):
    response = post_fixture(client, name)
    assert response.status_code == 200
    body = response.get_json()
    assert body["outcome"] == "refused" and body["reason"] == "auto_generated"
    assert body["auto_replied"] is False and body["forwarded"] is True
    assert count(runtime, Case) == 0
    assert emails(runtime, "refusal") == [] and emails(runtime, "opened") == []
    (attempt,) = rows(runtime, Attempt)
    assert attempt.detail["auto_generated"] and attempt.told == ""


def test_an_out_of_office_reply_to_a_case_is_kept_but_not_relayed(client, runtime):
    post_fixture(client, "s1_known_contact.json")
    form, files = load("auto_reply.json")
    form["subject"] = form["subject"].replace("1042", "1001")
    form["headers"] = form["headers"].replace("[Case 1042]", "[Case 1001]")
    assert post(client, form, files).get_json()["outcome"] == "reply"
    assert count(runtime, CaseEvent, CaseEvent.kind == "customer_reply") == 1
    assert count(runtime, OutboundMessage, OutboundMessage.purpose == "customer_reply") == 0


@pytest.mark.parametrize(
    "header",
    ["Auto-Submitted: auto-generated\n", "Precedence: bulk\n", "List-Id: <ops.acme.example>\n"],
)
def test_loop_guard_headers_suppress_the_auto_reply(client, runtime, header):
    post(client, simple(from_="Someone <someone@unknown.example>", extra_headers=header))
    assert emails(runtime, "refusal") == []
    assert len(emails(runtime, "forward")) == 1


def test_mail_from_our_own_queue_is_not_forwarded_back(client, runtime):
    post(
        client,
        simple(
            from_="support-queue@vendor.example", extra_headers="Auto-Submitted: auto-replied\n"
        ),
    )
    assert emails(runtime) == []
    assert rows(runtime, Attempt)[0].forwarded is False


# -- formats and charsets ----------------------------------------------------------------------
def test_raw_mime_variant(client, runtime):
    response = post_fixture(client, "raw_multipart.json")
    assert response.get_json()["outcome"] == "case"
    (case,) = rows(runtime, Case)
    assert case.severity == 2 and case.contact_name == "Road Runner"
    assert case.summary.startswith("Replication lag – reports unavailable")


def test_latin1_body_is_decoded_with_sendgrids_charset(client, runtime):
    response = post_fixture(client, "latin1_body.json")
    assert response.get_json()["outcome"] == "case"
    (case,) = rows(runtime, Case)
    assert case.severity == 2
    assert case.summary.startswith("Störung: Datenverlust im Lager – Sev 2")
    assert "Rückbuchungen" in case.summary and "\ufffd" not in case.summary


def test_iso_2022_jp_message(client, runtime):
    assert post_fixture(client, "iso2022jp_subject.json").get_json()["outcome"] == "case"
    (case,) = rows(runtime, Case)
    assert case.summary.startswith("【緊急】本番環境停止 Sev 1")
    (reply,) = emails(runtime, "opened")
    assert reply.subject == "[Case 1001] 【緊急】本番環境停止 Sev 1"


def test_html_only_mail(client, runtime):
    assert post_fixture(client, "html_only.json").get_json()["outcome"] == "case"
    (case,) = rows(runtime, Case)
    assert case.severity == 1 and "<" not in case.summary


# -- the edge ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "auth",
    [
        None,
        "Basic " + base64.b64encode(b"sendgrid:wrong").decode(),
        "Basic " + base64.b64encode(b"other:inbound-secret").decode(),
        "Bearer inbound-secret",
    ],
)
def test_wrong_or_missing_credentials_are_401(client, runtime, auth):
    response = post(client, simple(), auth=auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert nothing_changed(runtime)


def test_oversize_mail_is_413(make_settings, db_url, clock, transports, db_engine):
    from oncall.bootstrap.runtime import build_runtime
    from oncall.web.app import create_app

    settings = make_settings(db_url, email={"max_bytes": 4096})
    runtime = build_runtime(settings, clock=clock, transports=transports, db=db_engine)
    client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    response = post(client, simple(text="x" * 5000))
    assert response.status_code == 413
    assert nothing_changed(runtime)


def test_a_raw_message_larger_than_other_webhooks_may_be_is_accepted(client, runtime):
    # web.max_request_bytes is 1 MB for every other route; email.max_bytes (10 MB) applies
    # here, to the body and to the one form field holding the raw message.
    attachment = base64.encodebytes(b"\0" * 1_200_000).decode()
    raw = (
        "From: Wile E. Coyote <wile@acme.example>\r\nTo: critical@vendor.example\r\n"
        "Subject: Sev 1: everything is down\r\nMessage-ID: <big@mail.acme.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nDown for all users.\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
        f"filename=dump.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n{attachment}\r\n--b--\r\n"
    )
    response = post(
        client,
        {
            "email": raw,
            "from": "wile@acme.example",
            "to": "critical@vendor.example",
            "envelope": "{}",
            "dkim": "{@acme.example : pass}",
            "SPF": "pass",
        },
    )
    assert response.status_code == 200, response.data[:200]
    assert response.get_json()["outcome"] == "case"


@pytest.mark.parametrize(
    "form",
    [
        {"to": "critical@vendor.example", "subject": "no sender", "text": "hi"},
        {**simple(), "envelope": "not json"},
    ],
)
def test_malformed_posts_are_400(client, runtime, form):
    response = post(client, form)
    assert response.status_code == 400
    assert nothing_changed(runtime)


def test_the_same_message_id_twice_opens_one_case(client, runtime):
    first = post_fixture(client, "s1_known_contact.json")
    second = post_fixture(client, "s1_known_contact.json")
    assert first.status_code == second.status_code == 200
    assert second.get_json() == {**first.get_json(), "duplicate": True}
    assert count(runtime, Case) == 1
    assert len(emails(runtime, "opened")) == 1


def test_a_message_without_message_id_is_deduplicated_by_its_content(client, runtime):
    form = simple()
    form["headers"] = "\n".join(
        line for line in form["headers"].splitlines() if not line.startswith("Message-ID")
    )
    post(client, form)
    post(client, form)
    assert count(runtime, Case) == 1


def test_a_concurrent_duplicate_changes_nothing_twice(client, runtime, db_url, monkeypatch):
    if not db_url.startswith("postgresql"):
        pytest.skip("needs a second writer while the first is in flight (PostgreSQL)")
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from oncall.services import email_intake

    real = email_intake._email

    def racing(session, rt, mail, key, now):
        outcome = real(session, rt, mail, key, now)
        # SendGrid's retry reached another worker, which committed first.
        with rt.db.begin() as connection:
            connection.execute(
                insert(WebhookReceipt).values(
                    key=key,
                    received_at=datetime.now(UTC),
                    status_code=200,
                    response=json.dumps(email_intake.IntakeOutcome("case", 1001).to_json()),
                )
            )
        return outcome

    monkeypatch.setattr(email_intake, "_email", racing)
    response = post_fixture(client, "s1_known_contact.json")
    assert response.status_code == 200
    assert response.get_json()["duplicate"] is True
    assert count(runtime, Case) == 0 and count(runtime, OutboundMessage) == 0
