"""Whole case stories written by the real service, for tests of the pages that show them.

:func:`phone_case_story` plays one night on the critical line through the IVR service, the
engine, the outbox sender and the engineers' SMS replies, on a :class:`PagingWorld` (fake
clock, fake transport): every event, message and deadline is what production would write,
so the dashboard is tested against real rows, not rows a test imagined.
"""

from __future__ import annotations

from oncall.services.phone_call import VoiceStep
from oncall.services.phone_intake import handle_voice_step
from tests.fakes.transports import ALICE, WILE, PagingWorld

RECORDING_SID = "RE" + "0ddba11c" * 4
STRANGER = "+15550009999"  # no customer's contact
STATUS = "Database failed over; replaying queued orders. ETA 45m"
RESOLUTION = "Orders replayed, checkout back for all users"


def _call_sid(world: PagingWorld, caller: str) -> str:
    # One call per caller and minute of the fake clock: stories can run more than once.
    stamp = int(world.clock.now().timestamp()) // 60
    return f"CA{int(caller.lstrip('+')):016x}{stamp:016x}"


def _call(world: PagingWorld, sid: str, step: VoiceStep, caller: str = WILE, **params: str) -> str:
    settings = world.runtime.settings
    form = {
        "CallSid": sid,
        "AccountSid": settings.twilio.account_sid,
        "From": caller,
        "Caller": caller,
        "To": settings.twilio.critical_line,
        "Called": settings.twilio.critical_line,
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        **params,
    }
    return handle_voice_step(world.runtime, step, form, world.clock.now())


def phone_case_story(world: PagingWorld, *, resolve: bool = True) -> int:
    """Acme's Wile calls about an S1, nobody picks up the call, Alice acknowledges the SMS page,
    sends a status with an ETA and (with ``resolve``) resolves it. Returns the case number.

    About 50 minutes from the world's clock: the call at +0, the acknowledgement at +2m,
    the status at +20m, the resolution at +50m (the last two only while the case is open).
    """
    sid = _call_sid(world, WILE)
    _call(world, sid, VoiceStep("entry"))
    world.clock.advance(seconds=9)
    _call(world, sid, VoiceStep("menu", 1), Digits="1")
    world.clock.advance(seconds=41)
    api = world.runtime.settings.twilio.api_base
    recording_url = (
        f"{api}/2010-04-01/Accounts/{world.runtime.settings.twilio.account_sid}"
        f"/Recordings/{RECORDING_SID}"
    )
    _call(
        world,
        sid,
        VoiceStep("recorded"),
        RecordingUrl=recording_url,
        RecordingDuration="37",
        Digits="#",
    )
    world.settle()
    for leg in (0, 1):  # the dial plan rings the two on call in turn; neither takes the call
        world.clock.advance(seconds=30)
        _call(world, sid, VoiceStep("dial_result", leg), DialCallStatus="no-answer")
    world.advance(minutes=1)
    number = _newest_case(world)
    world.sms(ALICE, f"ACK {number}")
    world.advance(minutes=18)
    world.sms(ALICE, f"STATUS {number} {STATUS}")
    if resolve:
        world.advance(minutes=30)
        world.sms(ALICE, f"RESOLVE {number} {RESOLUTION}")
    world.settle()
    return number


def refused_call_story(world: PagingWorld) -> None:
    """A caller nobody knows keys three wrong PINs and is told where to go instead."""
    sid = _call_sid(world, STRANGER)
    _call(world, sid, VoiceStep("entry"), caller=STRANGER)
    for attempt in (1, 2, 3):
        world.clock.advance(seconds=12)
        _call(world, sid, VoiceStep("pin", attempt), caller=STRANGER, Digits=f"{attempt}111")
    world.settle()


def _newest_case(world: PagingWorld) -> int:
    from sqlalchemy import func, select

    from oncall.db.models import Case

    with world.runtime.sessions() as session:
        return session.scalar(select(func.max(Case.number)))
