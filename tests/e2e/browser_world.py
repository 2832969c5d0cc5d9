"""The world the browser test looks at: a second team, cases the service wrote itself, and
rows that put the SLA clocks in known states (the fake clock stands at Tuesday 03:00 in
Toronto).

:func:`tell_stories` plays phone calls through the real IVR, engine, sender and SMS replies
(:mod:`tests.fakes.case_story`) on the same database, on a clock of their own that ends before
the page's "now"; :func:`seed_clock_cases` writes cases 1040 to 1043 directly: 1042 amber
(three minutes to triage) with a recording and its pages and customer SMS, 1043 red (late),
1040 acknowledged, 1041 downgraded with a misuse fee.
"""

from __future__ import annotations

from datetime import timedelta

from oncall.clock import FakeClock
from oncall.db.models import Case, CaseEvent, MisuseFlag, OutboundMessage
from tests.fakes.case_story import phone_case_story, refused_call_story
from tests.fakes.seed import case_row
from tests.fakes.transports import ALICE, FakeTransport, PagingWorld

RESOLVED, LATE, ONGOING = 1001, 1002, 1003  # the cases the service wrote (tell_stories)

# A second team, so /rotas lists teams instead of redirecting to the only one.
PLATFORM_ROTA = """\
team: platform
timezone: Europe/London
members:
  erin: {name: Erin Moss, phone: "+15550100201", email: erin@example.com}
  femi: {name: Femi Ade, phone: "+15550100202"}
rotations:
  primary: {members: [erin, femi], shift: 1w, start: 2026-11-02T09:00}
escalation:
  steps:
    - {after: 0m, notify: [primary]}
    - {after: 10m, notify: [femi]}
manager: femi
"""


def tell_stories(build_runtime, settings, db, now) -> None:
    """Cases written by the service itself: one resolved in the small hours, one triaged
    late (a breach for the reports), one ongoing."""
    fake = FakeTransport()
    story_clock = FakeClock(now - timedelta(hours=3))
    runtime = build_runtime(
        settings, clock=story_clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db
    )
    world = PagingWorld(runtime, story_clock, fake)
    assert phone_case_story(world) == RESOLVED
    refused_call_story(world)
    assert world.open_case(summary="Reports time out") == LATE
    world.advance(minutes=16)  # nobody acknowledged within 15 minutes
    world.sms(ALICE, f"ACK {LATE}")
    world.sms(ALICE, f"RESOLVE {LATE} cleared the report cache")
    story_clock.set(now - timedelta(minutes=25))
    assert phone_case_story(world, resolve=False) == ONGOING


def _case(number, now, **extra) -> Case:
    extra.setdefault("severity_claimed", 1)  # a downgrade below keeps what the customer claimed
    return case_row(number, extra.pop("opened_at", now), **extra)


def seed_clock_cases(runtime, now) -> None:
    minute = timedelta(minutes=1)
    with runtime.sessions() as session, session.begin():
        open_case = _case(
            1042,
            now,
            opened_at=now - 12 * minute,
            recording_url="https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE"
            + "42" * 16,
            recording_duration=37,
        )
        late = _case(
            1043,
            now,
            opened_at=now - 20 * minute,
            customer_key="globex",
            customer_name="Globex",
            channel="email",
            severity=2,
            severity_claimed=2,
            summary="Invoices cannot be processed",
        )
        acked = _case(
            1040,
            now,
            opened_at=now - 50 * minute,
            state="acknowledged",
            acknowledged_at=now - 44 * minute,
            acknowledged_by="alice",
            acknowledged_by_name="Alice Ng",
            summary="API errors for EU users",
        )
        misuse = _case(
            1041,
            now,
            opened_at=now - 3 * 60 * minute,
            state="downgraded",
            severity=3,
            acknowledged_at=now - 170 * minute,
            acknowledged_by="alice",
            acknowledged_by_name="Alice Ng",
            summary="Password reset question",
        )
        session.add_all([open_case, late, acked, misuse])
        session.flush()
        sent = {}
        for offset, recipient, body, state in (
            (0, "alice", "S1 Acme Corp: checkout down. Reply ACK 1042", "delivered"),
            (5, "bob", "S1 Acme Corp: checkout down. Reply ACK 1042", "sent"),
            (6, "customer", "Vendor Support: case 1042 is open; an engineer is paged.", "sent"),
        ):
            at = open_case.opened_at + offset * minute
            message = OutboundMessage(
                case_id=open_case.id,
                channel="sms",
                purpose="page" if recipient != "customer" else "opened",
                recipient=recipient,
                to_address="+15550100101",
                body=body,
                state=state,
                next_attempt_at=at,
                created_at=at,
            )
            session.add(message)
            session.flush()
            sent[recipient] = message.id
        for offset, kind, text, message in (
            (0, "opened", "Case 1042 opened by voice from Wile E. Coyote (Acme Corp), S1", None),
            (0, "paged", "Paged Alice Ng (primary) by SMS", "alice"),
            (1, "delivered", "Page to Alice Ng delivered", "alice"),
            (5, "paged", "Paged Bob Roy (secondary) by SMS", "bob"),
            (6, "customer_notified", "Customer told (sms): your case number is 1042", None),
            (10, "reminder", "Triage reminder sent to Alice Ng, Bob Roy", None),
        ):
            session.add(
                CaseEvent(
                    case_id=open_case.id,
                    at=open_case.opened_at + offset * minute,
                    kind=kind,
                    text=text,
                    data={"outbox_id": sent[message]} if message else {},
                )
            )
        session.add(
            MisuseFlag(
                kind="fee",
                case_id=misuse.id,
                customer_key="acme",
                month="2026-11",
                flagged_at=now - 160 * minute,
                flagged_by="Alice Ng",
                severity_claimed=1,
                severity_set=3,
                fee=250.0,
                currency="USD",
                reason="Downgraded from S1 to S3 by Alice Ng",
            )
        )
