"""The caller's recording, played through the service (``/cases/<number>/recording``).

The page's ``<audio>`` player asks this signed-in route, which streams the audio from Twilio
with the account's credentials
(:func:`oncall.delivery.transports.twilio_recordings.open_recording`). The browser never sees a
Twilio URL, and nobody needs a Twilio login to listen.
"""

from __future__ import annotations

import logging

from flask import Response, abort, request
from sqlalchemy import select

from oncall.db.models import Case
from oncall.delivery.transports.twilio_recordings import (
    RECORDING_SID,
    RecordingUnavailable,
    open_recording,
)
from oncall.web.auth import login_required
from oncall.web.context import runtime

log = logging.getLogger("oncall.web.dashboard.recording")


def recording_sid(case: Case) -> str | None:
    """The Twilio SID of the case's recording: stored, or the last part of its URL."""
    if case.recording_sid and RECORDING_SID.fullmatch(case.recording_sid):
        return case.recording_sid
    if case.recording_url:
        last = case.recording_url.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0]
        if RECORDING_SID.fullmatch(last):
            return last
    return None


@login_required
def case_recording(number: int):
    rt = runtime()
    with rt.sessions() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        sid = recording_sid(case) if case is not None else None
    if sid is None:
        abort(404)
    try:
        audio = open_recording(rt.settings.twilio, sid, request.headers.get("Range"))
    except RecordingUnavailable as exc:
        log.warning("recording %s of case %s: %s", sid, number, exc)
        abort(502, "The recording cannot be fetched from Twilio right now; try again shortly.")
    if audio is None:
        abort(404, "Twilio has no such recording (yet).")
    response = Response(audio.chunks(), status=audio.status, content_type=audio.content_type)
    response.headers.update(audio.headers)
    response.headers["Content-Disposition"] = f'inline; filename="case-{number}.mp3"'
    response.headers["Cache-Control"] = "private, no-store"
    response.call_on_close(audio.close)
    return response
