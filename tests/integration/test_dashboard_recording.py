"""The caller's recording, played through the service: ``GET /cases/<n>/recording`` streams the
audio from Twilio (mocked with ``responses``) with the account's credentials, from the
configured ``api_base``, never from the URL a webhook stored.
"""

from __future__ import annotations

import base64

import pytest
import requests
import responses

from oncall.delivery.transports.twilio_recordings import recording_media_url
from tests.fakes import seed
from tests.integration.test_dashboard import NOW, USERS, sign_in

API = "https://api.twilio.example"  # the configured api_base, not Twilio's own host
ACCOUNT = "AC" + "0" * 32
SID = "RE" + "0ddba11c" * 4
MEDIA = f"{API}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{SID}.mp3"
AUDIO = b"ID3" + bytes(range(256)) * 300  # an MP3's first bytes, then enough to stream


@pytest.fixture
def settings(make_settings, db_url):
    return make_settings(db_url, users=USERS, twilio={"api_base": API})


def add_recorded_case(runtime, number=1001, **recording):
    recording.setdefault(
        "recording_url", f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{SID}"
    )
    with runtime.sessions() as session, session.begin():
        seed.add_case(session, number, opened_at=NOW, recording_duration=37, **recording)


@responses.activate
def test_the_recording_streams_through_the_service(client, runtime):
    add_recorded_case(runtime)
    responses.get(MEDIA, body=AUDIO, content_type="audio/mpeg", headers={"Accept-Ranges": "bytes"})
    sign_in(client)

    page = client.get("/cases/1001").text
    assert '<audio controls preload="none" src="/cases/1001/recording">' in page
    assert "twilio.com" not in page and "twilio.example" not in page

    audio = client.get("/cases/1001/recording")
    assert audio.status_code == 200
    assert audio.mimetype == "audio/mpeg" and audio.data == AUDIO
    assert audio.headers["Accept-Ranges"] == "bytes"
    assert audio.headers["Cache-Control"] == "private, no-store"
    # Fetched from the configured api_base with the account's credentials.
    (call,) = responses.calls
    assert call.request.url == MEDIA
    expected = base64.b64encode(f"{ACCOUNT}:test-auth-token".encode()).decode()
    assert call.request.headers["Authorization"] == f"Basic {expected}"


@responses.activate
def test_a_range_is_passed_on_so_the_player_can_seek(client, runtime):
    add_recorded_case(runtime)
    responses.get(
        MEDIA,
        body=AUDIO[100:200],
        status=206,
        content_type="audio/mpeg",
        headers={"Content-Range": f"bytes 100-199/{len(AUDIO)}"},
    )
    sign_in(client)
    audio = client.get("/cases/1001/recording", headers={"Range": "bytes=100-199"})
    assert audio.status_code == 206 and audio.data == AUDIO[100:200]
    assert audio.headers["Content-Range"] == f"bytes 100-199/{len(AUDIO)}"
    assert responses.calls[0].request.headers["Range"] == "bytes=100-199"


@responses.activate
def test_the_stored_sid_wins_and_a_stored_url_never_chooses_the_host(client, runtime):
    # A RecordingUrl pointing elsewhere must not receive our credentials.
    add_recorded_case(runtime, recording_url="https://attacker.example/steal", recording_sid=SID)
    responses.get(MEDIA, body=AUDIO, content_type="audio/mpeg")
    sign_in(client)
    assert client.get("/cases/1001/recording").status_code == 200
    assert [c.request.url for c in responses.calls] == [MEDIA]


@responses.activate
def test_unknown_recordings_are_404(client, runtime):
    add_recorded_case(runtime, 1001)
    add_recorded_case(runtime, 1002, recording_url=None)  # a case without a recording
    add_recorded_case(runtime, 1003, recording_url="javascript:alert(1)")
    responses.get(MEDIA, status=404, json={"code": 20404, "message": "not found"})
    sign_in(client)
    assert client.get("/cases/999/recording").status_code == 404  # no such case
    assert client.get("/cases/1002/recording").status_code == 404
    assert client.get("/cases/1003/recording").status_code == 404
    assert client.get("/cases/1001/recording").status_code == 404  # Twilio has none (yet)
    assert len(responses.calls) == 1  # only the case with a recording asked Twilio
    assert "<audio" not in client.get("/cases/1002").text


@responses.activate
def test_twilio_trouble_is_a_502_with_a_sentence(client, runtime):
    add_recorded_case(runtime)
    sign_in(client)
    responses.get(MEDIA, status=500)
    failed = client.get("/cases/1001/recording")
    assert failed.status_code == 502 and "try again shortly" in failed.text
    responses.replace(responses.GET, MEDIA, body=requests.ConnectionError("refused"))
    assert client.get("/cases/1001/recording").status_code == 502


def test_the_recording_needs_a_signed_in_user(client, runtime):
    add_recorded_case(runtime)
    response = client.get("/cases/1001/recording")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/cases/1001/recording"


def test_only_recording_sids_make_a_url(settings):
    assert recording_media_url(settings.twilio, SID) == MEDIA
    for bad in ("RE1", "../../Calls", SID + "/x", "CA" + SID[2:]):
        with pytest.raises(ValueError):
            recording_media_url(settings.twilio, bad)
