"""No backscatter (issue 10, item 6): refusal auto-replies go only to the authenticated sender
of a known contact, or at most once a day per address for anyone else, and never to a
``Reply-To`` that differs from an unauthenticated ``From``. Every mail is still forwarded to
the support queue and recorded: nothing is lost, only the automatic answers are rationed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from oncall.db.models import Attempt, OutboundMessage
from tests.fakes.sendgrid import inbound, post, spoofed

VICTIM = "victim@third-party.example"


def send(client, form) -> dict:
    response = post(client, form)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def outbox(runtime, purpose: str) -> list[OutboundMessage]:
    with runtime.sessions() as session:
        found = list(
            session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.purpose == purpose)
                .order_by(OutboundMessage.id)
            )
        )
        session.expunge_all()
        return found


def attempts(runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Attempt))


def test_two_hundred_mails_with_a_victims_reply_to_get_at_most_one_auto_reply(client, runtime):
    """The attack as written: an unknown sender, Reply-To the victim, 200 times."""
    replied = []
    for n in range(200):
        answer = send(
            client,
            inbound(
                "Spammer <bulk@unknown.example>",
                subject=f"Invoice {n}",
                extra_headers=f"Reply-To: {VICTIM}\n",
            ),
        )
        assert answer["reason"] == "unknown_sender"
        replied.append(answer["auto_replied"])
    refusals = outbox(runtime, "refusal")
    assert len(refusals) <= 1 and replied.count(True) == len(refusals)
    assert all(r.to_address != VICTIM for r in refusals)  # never the victim
    assert [r.to_address for r in refusals] == ["bulk@unknown.example"]
    # Nothing is lost: every mail was forwarded and recorded.
    assert len(outbox(runtime, "forward")) == 200
    assert attempts(runtime) == 200


def test_a_spoofed_contact_with_a_reply_to_is_never_answered_there(client, runtime):
    for n in range(5):
        send(
            client,
            spoofed(
                "Road Runner <rr@acme.example>",
                subject=f"Sev 1: urgent {n}",
                extra_headers=f"Reply-To: {VICTIM}\n",
            ),
        )
    refusals = outbox(runtime, "refusal")
    assert [r.to_address for r in refusals] == ["rr@acme.example"]  # once, at the From
    forwards = outbox(runtime, "forward")
    assert len(forwards) == 5
    # The queue's answer goes to the From too, and it is told the Reply-To was not used.
    assert {f.headers["Reply-To"] for f in forwards} == {"rr@acme.example"}
    assert f"Its Reply-To ({VICTIM}) was not used." in forwards[0].body


def test_an_authenticated_contact_is_answered_at_their_reply_to_every_time(client, runtime):
    for n in range(3):
        send(
            client,
            inbound(
                "Wile E. Coyote <wile@acme.example>",
                subject=f"Sev 3: a question {n}",
                extra_headers="Reply-To: ops-desk@acme.example\n",
            ),
        )
    refusals = outbox(runtime, "refusal")
    assert [r.to_address for r in refusals] == ["ops-desk@acme.example"] * 3


def test_an_unknown_sender_is_answered_again_the_next_day(client, runtime, clock):
    assert send(client, inbound("someone@unknown.example", subject="Hello"))["auto_replied"]
    clock.advance(hours=23)
    assert not send(client, inbound("someone@unknown.example", subject="Again"))["auto_replied"]
    clock.advance(timedelta(hours=1, seconds=1))
    assert send(client, inbound("someone@unknown.example", subject="Next day"))["auto_replied"]
    assert len(outbox(runtime, "refusal")) == 2


def test_the_daily_limit_is_per_address(client, runtime):
    for sender in ("a@unknown.example", "b@unknown.example", "a@unknown.example"):
        send(client, inbound(sender, extra_headers=f"Reply-To: {VICTIM}\n"))
    assert [r.to_address for r in outbox(runtime, "refusal")] == [
        "a@unknown.example",
        "b@unknown.example",
    ]


def test_what_the_queue_and_the_record_say_when_no_auto_reply_went(client, runtime):
    send(client, inbound("someone@unknown.example", subject="First"))
    send(client, inbound("someone@unknown.example", subject="Second"))
    second = outbox(runtime, "forward")[1]
    assert "The sender was told: nothing (no auto-reply: this address was already answered " in (
        second.body
    )
    with runtime.sessions() as session:
        told = list(session.scalars(select(Attempt.told).order_by(Attempt.id)))
    assert told[0] and told[1] == ""
