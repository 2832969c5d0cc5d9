"""The one way an email reaches the regular support queue (:mod:`oncall.cases.forward`).

Five places forward (a refused call, a refused or unrelayable email, a downgraded case, an
unroutable case, a customer we cannot reach); they used to build the message each their own
way. The envelope chosen for all of them is pinned here; each site's own test checks what it
says.
"""

from __future__ import annotations

from oncall.cases.forward import forward_to_support_queue


def test_a_forward_goes_from_us_to_the_queue_once_per_key(runtime):
    now = runtime.clock.now()
    with runtime.sessions() as session, session.begin():
        row = forward_to_support_queue(
            session,
            runtime,
            now,
            subject="Fwd: help",
            body="body",
            dedupe_key="forward:test",
            reply_to="wile@acme.example",
        )
        again = forward_to_support_queue(
            session, runtime, now, subject="Fwd: help", body="body", dedupe_key="forward:test"
        )
        assert row is not None and again is None
        assert (row.channel, row.purpose) == ("email", "forward")
        assert row.to_address == "support-queue@vendor.example"
        assert row.from_address == "support@vendor.example"
        assert (row.subject, row.body) == ("Fwd: help", "body")
        assert row.headers == {"Reply-To": "wile@acme.example"}
        # Chosen where the copies disagreed: no recipient key (the queue is neither a paged
        # member nor the customer), and the Message-ID comes from the sender at send time.
        assert row.recipient == ""
        assert row.message_id is None
        assert row.case_id is None


def test_without_reply_to_there_are_no_extra_headers(runtime):
    with runtime.sessions() as session, session.begin():
        row = forward_to_support_queue(
            session, runtime, runtime.clock.now(), subject="s", body="b", dedupe_key="forward:2"
        )
        assert row is not None and row.headers == {}
