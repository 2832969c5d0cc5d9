"""A call recording's audio, read from Twilio's REST API for the dashboard to play.

``GET {api_base}/2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.mp3`` with the
account's credentials (HTTP Basic), from the configured ``twilio.api_base`` like every other
call to Twilio, so a fake Twilio on loopback serves it in tests and demos. The URL is built
from the recording's SID, never taken from a webhook parameter: a stored ``RecordingUrl`` that
pointed elsewhere would otherwise make the service send its credentials there.

The audio is streamed through in chunks (a long recording is never held in memory), and a
``Range`` request is passed on so a browser's player can seek.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import requests

from oncall.config.settings import TwilioSettings

RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")
BYTE_RANGE = re.compile(r"bytes=\d{0,15}-\d{0,15}")
CHUNK = 64 * 1024
DEFAULT_TYPE = "audio/mpeg"
#: Headers of Twilio's answer that the player needs.
PASSED_ON = ("Content-Length", "Content-Range", "Accept-Ranges")


class RecordingUnavailable(Exception):
    """Twilio could not be asked, or answered with an error other than "not found"."""


@dataclass
class RecordingAudio:
    """An open download: the status (200, or 206 for a range), its headers, the bytes."""

    status: int
    content_type: str
    headers: dict[str, str]
    _response: requests.Response = field(repr=False)

    def chunks(self) -> Iterator[bytes]:
        yield from self._response.iter_content(CHUNK)

    def close(self) -> None:
        self._response.close()


def recording_media_url(twilio: TwilioSettings, sid: str) -> str:
    if not RECORDING_SID.fullmatch(sid):
        raise ValueError(f"{sid!r} is not a recording SID")
    base = twilio.api_base.rstrip("/")
    return f"{base}/2010-04-01/Accounts/{twilio.account_sid}/Recordings/{sid}.mp3"


def open_recording(
    twilio: TwilioSettings, sid: str, byte_range: str | None = None
) -> RecordingAudio | None:
    """The recording's audio, or None when Twilio has no such recording (or not yet)."""
    headers = {"Accept": "audio/mpeg"}
    if byte_range and BYTE_RANGE.fullmatch(byte_range.strip()):
        headers["Range"] = byte_range.strip()
    try:
        response = requests.get(
            recording_media_url(twilio, sid),
            auth=(twilio.account_sid, twilio.auth_token),
            headers=headers,
            timeout=twilio.timeout.total_seconds(),
            stream=True,
        )
    except requests.RequestException as exc:
        raise RecordingUnavailable(f"Twilio could not be reached: {exc}") from exc
    if response.status_code == 404:
        response.close()
        return None
    if response.status_code not in (200, 206):
        response.close()
        raise RecordingUnavailable(f"Twilio answered {response.status_code}")
    content_type = response.headers.get("Content-Type", "")
    return RecordingAudio(
        status=response.status_code,
        content_type=content_type if content_type.startswith("audio/") else DEFAULT_TYPE,
        headers={name: response.headers[name] for name in PASSED_ON if name in response.headers},
        _response=response,
    )
