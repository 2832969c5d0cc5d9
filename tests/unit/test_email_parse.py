"""The pure inbound-email layer: SendGrid Inbound Parse fixtures, MIME, charsets, addresses,
loop guards, threading (severity markers and phrase rules: ``test_severity.py``).

Fixtures live in ``tests/fixtures/email/*.json``: ``{"description", "form", "files"?}`` where a
form value is a string as werkzeug hands it over, ``{"$encode": charset, "text": ...}`` for the
raw bytes of a field in that charset, or ``{"$file": name}`` for the bytes of a sibling file.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from oncall.domain.mail.addresses import display_name, normalise_address
from oncall.domain.mail.decoding import decode_field
from oncall.domain.mail.inbound import AttachmentInfo, EmailParseError, Headers, InboundEmail
from oncall.domain.mail.loops import is_auto_generated
from oncall.domain.mail.mime import parse_mime
from oncall.domain.mail.sendgrid import form_is_exact, parse_sendgrid, raw_form_fields
from oncall.domain.mail.text import html_to_text, strip_quoted_reply
from oncall.domain.mail.threads import (
    case_number_from_subject,
    make_message_id,
    message_ids,
)
from oncall.domain.severity import SeverityVerdict, classify_severity

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"


def load(name: str) -> tuple[dict[str, str | bytes], dict[str, FileStorage]]:
    doc = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    form: dict[str, str | bytes] = {}
    for key, value in doc["form"].items():
        if isinstance(value, dict) and "$encode" in value:
            value = value["text"].encode(value["$encode"])
        elif isinstance(value, dict) and "$file" in value:
            value = (FIXTURES / value["$file"]).read_bytes()
        form[key] = value
    files = {
        key: FileStorage(
            stream=io.BytesIO(spec["content"].encode("utf-8")),
            filename=spec["filename"],
            content_type=spec["content_type"],
        )
        for key, spec in doc.get("files", {}).items()
    }
    return form, files


def parse_fixture(name: str) -> InboundEmail:
    form, files = load(name)
    return parse_sendgrid(form, files)


def mime(*headers: str, body: str = "Hello.\n", content_type: str | None = None) -> bytes:
    """A small single-part message; ``From: wile@acme.example`` unless a From is given."""
    lines = list(headers)
    if not any(h.lower().startswith("from:") for h in lines):
        lines.insert(0, "From: wile@acme.example")
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    return ("\r\n".join([*lines, "", body])).encode("utf-8")


ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.json"))


def test_every_fixture_is_covered_below():
    assert (
        sorted(
            [
                "auto_reply.json",
                "bounce.json",
                "html_only.json",
                "iso2022jp_subject.json",
                "latin1_body.json",
                "mailing_list.json",
                "non_critical.json",
                "raw_multipart.json",
                "reply_case.json",
                "s1_known_contact.json",
                "s2_phrase.json",
            ]
        )
        == ALL_FIXTURES
    )


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_parses_into_a_complete_shape(name):
    mail = parse_fixture(name)
    assert mail.from_address and "@" in mail.from_address
    assert mail.from_address == mail.from_address.casefold()
    assert "+" not in mail.from_address
    assert mail.subject and mail.text.strip()
    assert mail.message_id and mail.message_id.startswith("<")
    assert "critical@vendor.example" in mail.envelope_to
    assert mail.spf == "pass"
    assert "\ufffd" not in mail.text + mail.subject
    assert "\x00" not in mail.text
    hash(mail)  # frozen and hashable, headers included


# --------------------------------------------------------------------------------------------
# the fixtures, one by one


def test_s1_from_known_contact_with_display_name_and_tag():
    mail = parse_fixture("s1_known_contact.json")
    assert mail.variant == "parsed"
    assert mail.from_address == "wile@acme.example"
    assert mail.from_name == "Wile E. Coyote"
    assert mail.from_raw == '"Wile E. Coyote" <Wile+Critical@ACME.example>'
    assert mail.reply_to == "Wile+Critical@ACME.example"  # answer the address as written
    assert mail.to == ("critical@vendor.example",)
    assert mail.cc == ("rr@acme.example",)
    assert mail.subject == "Sev 1: Production down - order portal unreachable"
    assert mail.text.startswith("Hello,\n\nOur order portal has been unreachable")
    assert "\r" not in mail.text
    assert "<div" in mail.html
    assert mail.message_id == "<CA+wile.20261124021458.7f3a@mail.acme.example>"
    assert mail.in_reply_to is None and mail.references == ()
    assert mail.dkim == "{@acme.example : pass}"
    assert mail.envelope_from == "wile+critical@acme.example"
    assert mail.envelope_to == ("critical@vendor.example",)
    size = len(("2026-11-24T02:05:11Z ERROR upstream connect error (502)\n" * 12).encode())
    assert mail.attachments == (AttachmentInfo("portal-error.log", "text/plain", size),)
    # the folded DKIM-Signature header is unfolded; lookups ignore case
    assert mail.header("dkim-signature").startswith("v=1; a=rsa-sha256;")
    assert "\n" not in mail.header("DKIM-SIGNATURE")
    assert mail.header("X-Not-There") is None
    assert classify_severity(mail.subject, mail.text) == SeverityVerdict(
        1, 'subject marker "Sev 1"'
    )
    assert is_auto_generated(mail) is None
    assert case_number_from_subject(mail.subject) is None


def test_s2_by_phrase():
    mail = parse_fixture("s2_phrase.json")
    assert mail.from_address == "rr@acme.example"
    assert mail.from_name == "Road Runner"
    assert mail.to == ("critical@vendor.example",)
    verdict = classify_severity(mail.subject, mail.text)
    assert verdict == SeverityVerdict(2, 'phrase "important function"')
    assert verdict.critical
    assert is_auto_generated(mail) is None


def test_non_critical():
    mail = parse_fixture("non_critical.json")
    verdict = classify_severity(mail.subject, mail.text)
    assert verdict.severity == 3
    assert not verdict.critical
    assert verdict.reason == 'phrase "question about"'
    assert is_auto_generated(mail) is None


def test_reply_to_a_case_threads_and_strips_the_history():
    mail = parse_fixture("reply_case.json")
    assert case_number_from_subject(mail.subject) == 1042
    assert mail.in_reply_to == "<case-1042.1795918500.1@vendor.example>"
    assert mail.references == (
        "<CA+wile.20261124021458.7f3a@mail.acme.example>",
        "<case-1042.1795918500.1@vendor.example>",
    )
    assert message_ids(mail) == {
        "<CA+wile.20261124021458.7f3a@mail.acme.example>",
        "<case-1042.1795918500.1@vendor.example>",
    }
    assert strip_quoted_reply(mail.text) == (
        "Thanks. The portal answers again, but checkout is still slow for a few\n"
        "customers. Logs attached to the case earlier.\n\nWile"
    )
    # the quoted "Severity 1 ... data loss" is history, not a claim: the body alone says nothing
    assert classify_severity("Re: status", mail.text).severity is None
    assert is_auto_generated(mail) is None


def test_auto_reply_is_auto_generated():
    mail = parse_fixture("auto_reply.json")
    assert mail.auto_submitted == "auto-replied"
    assert is_auto_generated(mail) == "Auto-Submitted: auto-replied"
    assert case_number_from_subject(mail.subject) == 1042


def test_mailing_list_is_auto_generated_even_with_a_critical_phrase():
    mail = parse_fixture("mailing_list.json")
    assert mail.list_id == "Acme operations announcements <ops-announce.lists.acme.example>"
    assert mail.precedence == "list"
    # "outage" is a critical phrase, here about planned work (issue 16): not critical either way
    assert classify_severity(mail.subject, mail.text) == SeverityVerdict(
        3, 'phrase "outage" about planned maintenance ("planned outage")'
    )
    assert is_auto_generated(mail) == "Precedence: list"


def test_mailer_daemon_bounce():
    mail = parse_fixture("bounce.json")
    assert mail.from_address == "mailer-daemon@mail.acme.example"
    assert mail.from_name == "Mail Delivery System"  # from the (comment)
    assert mail.envelope_from == ""
    assert mail.header("Return-Path") == "<>"
    assert mail.header("content-type").startswith("multipart/report; report-type=delivery-status;")
    assert is_auto_generated(mail) is not None


def test_html_only_becomes_readable_text():
    mail = parse_fixture("html_only.json")
    assert mail.text == (
        "Hello support,\n\n"
        "Since 01:00 UTC nobody can log in to the portal.\n"
        "Error shown:\n"
        "“Session store unavailable” & a blank page.\n\n"
        "What we tried:\n\n"
        "- restarting the web nodes\n"
        "- failing over the database\n\n"
        "Road Runner"
    )
    assert "tracking" not in mail.text and "color" not in mail.text
    assert "Incident" not in mail.text  # <title> is not body
    assert classify_severity(mail.subject, mail.text) == SeverityVerdict(
        1, 'phrase "nobody can log in"'
    )


def test_latin1_body_given_as_bytes():
    mail = parse_fixture("latin1_body.json")
    assert "Grüße aus Köln" in mail.text
    assert "„Inventur“ ist für uns zentral – es gibt “keine” Umgehung." in mail.text
    assert "Grüße aus Köln – “production down”" in mail.html
    assert mail.subject == "Störung: Datenverlust im Lager – Sev 2"
    assert classify_severity(mail.subject, mail.text) == SeverityVerdict(
        2, 'subject marker "Sev 2"'
    )
    assert classify_severity("", mail.text) == SeverityVerdict(1, 'phrase "data loss"')


def test_latin1_body_mangled_by_a_utf8_form_decode_does_not_raise():
    form, files = load("latin1_body.json")
    form["text"] = form["text"].decode("utf-8", "replace")  # what werkzeug alone would give
    mail = parse_sendgrid(form, files)
    assert "Gr\ufffd\ufffde" in mail.text
    form["text"] = load("latin1_body.json")[0]["text"].decode("utf-8", "surrogateescape")
    assert "Grüße aus Köln" in parse_sendgrid(form).text  # bytes kept aside are recovered


def test_iso_2022_jp_subject_and_body():
    mail = parse_fixture("iso2022jp_subject.json")
    assert mail.subject == "【緊急】本番環境停止 Sev 1"
    assert mail.text.startswith("本番環境が停止しています。全ユーザーがログインできません。\n")
    assert classify_severity(mail.subject, mail.text).severity == 1
    # the headers block's encoded-word Subject decodes to the same text
    form, _ = load("iso2022jp_subject.json")
    del form["subject"]
    assert parse_sendgrid(form).subject == "【緊急】本番環境停止 Sev 1"


def test_raw_variant_multipart_alternative_with_attachment():
    mail = parse_fixture("raw_multipart.json")
    assert mail.variant == "raw"
    assert mail.from_address == "rr@acme.example"
    assert mail.reply_to == "rr+oncall@acme.example"
    assert mail.to == ("critical@vendor.example",)
    assert mail.cc == ("wile@acme.example",)
    assert mail.subject == "Replication lag – reports unavailable"
    assert mail.message_id == "<raw.20261126041200.c0ffee@mail.acme.example>"
    assert mail.text == (
        "Severity 2: the reporting module is unavailable since 04:00 UTC – replication lag "
        "keeps growing. Orders still go through.\n\nLog excerpt attached.\n\nRoad Runner"
    )
    assert "HTML alternative" in mail.html and "HTML alternative" not in mail.text
    log_size = len(b"2026-11-26T04:00:01Z WARN replica lag 120s\n" * 4)
    assert mail.attachments == (
        AttachmentInfo(None, "image/png", 70),
        AttachmentInfo("replication.log", "text/plain", log_size),
    )
    assert mail.spf == "pass" and mail.dkim == "{@acme.example : pass}"
    assert mail.envelope_from == "rr+oncall@acme.example"
    assert classify_severity(mail.subject, mail.text) == SeverityVerdict(
        2, 'body marker "Severity 2"'
    )


def test_raw_variant_as_str_and_parse_mime_agree():
    form, _ = load("raw_multipart.json")
    raw = form["email"]
    assert isinstance(raw, bytes)
    as_str = parse_sendgrid({**form, "email": raw.decode("utf-8")})
    direct = parse_mime(raw)
    assert direct.variant == "mime"
    assert as_str.text == direct.text and as_str.attachments == direct.attachments
    assert parse_mime(raw.replace(b"\r\n", b"\n")).text == direct.text


# --------------------------------------------------------------------------------------------
# addresses


@pytest.mark.parametrize(
    ("raw", "address", "name"),
    [
        ("wile@acme.example", "wile@acme.example", ""),
        ("  WILE@ACME.EXAMPLE  ", "wile@acme.example", ""),
        ("<wile@acme.example>", "wile@acme.example", ""),
        ('"Wile E. Coyote" <Wile+Critical@ACME.example>', "wile@acme.example", "Wile E. Coyote"),
        ("Wile E. Coyote <wile+a+b@acme.example>", "wile@acme.example", "Wile E. Coyote"),
        ('"Coyote, Wile" <wile@acme.example>', "wile@acme.example", "Coyote, Wile"),
        ("=?utf-8?q?Caf=C3=A9_Owner?= <rr@acme.example>", "rr@acme.example", "Café Owner"),
        ("rr@acme.example (Road Runner)", "rr@acme.example", "Road Runner"),
        ("Road Runner <rr@Acme.Example.>", "rr@acme.example", "Road Runner"),
        ("Coyote, Wile <wile@acme.example>", "wile@acme.example", "Coyote, Wile"),
        # an unquoted address as display name: the angle address is the sender
        ("wile@acme.example <rr@acme.example>", "rr@acme.example", "wile@acme.example"),
        ('"Wile \\"W.E.\\" Coyote" <wile@acme.example>', "wile@acme.example", 'Wile "W.E." Coyote'),
        ("+only@acme.example", "+only@acme.example", ""),  # nothing before the tag: keep it
        ("a@acme.example, b@acme.example", "a@acme.example", ""),
        ("MAILER-DAEMON", "mailer-daemon", ""),
        ("", "", ""),
        ("<>", "", ""),
        ('"', "", ""),
        (None, "", ""),
    ],
)
def test_normalise_address_and_display_name(raw, address, name):
    assert normalise_address(raw) == address
    assert display_name(raw) == name


def test_address_lists_are_normalised_and_deduplicated():
    form, _ = load("s2_phrase.json")
    form["to"] = "Critical <CRITICAL@vendor.example>, critical+x@vendor.example, rr@acme.example"
    assert parse_sendgrid(form).to == ("critical@vendor.example", "rr@acme.example")


# --------------------------------------------------------------------------------------------
# loop guards


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (["Auto-Submitted: auto-replied"], "Auto-Submitted: auto-replied"),
        (["Auto-Submitted: auto-generated; type=dsn"], "Auto-Submitted: auto-generated; type=dsn"),
        (["Precedence: bulk"], "Precedence: bulk"),
        (["Precedence: LIST"], "Precedence: LIST"),
        (["Precedence: junk"], "Precedence: junk"),
        (["List-Id: <ops.lists.acme.example>"], "mailing list (List-Id: <ops.lists.acme.example>)"),
        (["List-Unsubscribe: <mailto:leave@acme.example>"], "bulk mail (List-Unsubscribe header)"),
        (["X-Auto-Response-Suppress: All"], "X-Auto-Response-Suppress: All"),
        (["X-Auto-Response-Suppress: DR, AutoReply"], "X-Auto-Response-Suppress: DR, AutoReply"),
        (["X-Autoreply: yes"], "X-Autoreply: yes"),
        (["X-Autorespond: Vacation"], "X-Autorespond: Vacation"),
        (["From: MAILER-DAEMON@mail.acme.example"], "robot sender mailer-daemon@mail.acme.example"),
        (["From: Postmaster <postmaster@acme.example>"], "robot sender postmaster@acme.example"),
        (["From: noreply@acme.example"], "robot sender noreply@acme.example"),
        (["From: no-reply+alerts@acme.example"], "robot sender no-reply@acme.example"),
        (["From: do-not-reply@acme.example"], "robot sender do-not-reply@acme.example"),
        (["Return-Path: <>"], "null Return-Path (bounce)"),
        (
            ["Content-Type: multipart/report; report-type=delivery-status; boundary=x"],
            "delivery report (multipart/report)",
        ),
    ],
)
def test_each_loop_guard(headers, reason):
    assert is_auto_generated(parse_mime(mime(*headers))) == reason


@pytest.mark.parametrize(
    "headers",
    [
        [],
        ["Auto-Submitted: no"],
        ["Precedence: first-class"],
        ["X-Auto-Response-Suppress: OOF, DR, RN, NRN"],
        ["X-Autoreply: no"],
        ["From: Norbert Reply <norbert.reply@acme.example>"],
        ["From: rr@acme.example"],
        ["Return-Path: <rr@acme.example>"],
    ],
)
def test_people_are_not_auto_generated(headers):
    assert is_auto_generated(parse_mime(mime(*headers))) is None


def test_null_envelope_sender_is_a_bounce():
    form, _ = load("s2_phrase.json")
    assert is_auto_generated(parse_sendgrid(form)) is None
    form["envelope"] = json.dumps({"to": ["critical@vendor.example"], "from": ""})
    assert is_auto_generated(parse_sendgrid(form)) == "null envelope sender (bounce)"
    form["envelope"] = json.dumps({"to": ["critical@vendor.example"], "from": None})
    assert parse_sendgrid(form).envelope_from == ""
    form["envelope"] = json.dumps({"to": "critical@vendor.example"})
    mail = parse_sendgrid(form)
    assert mail.envelope_from is None and mail.envelope_to == ("critical@vendor.example",)


def test_guards_read_a_hand_built_mail():
    mail = InboundEmail(from_address="rr@acme.example", precedence="bulk")
    assert is_auto_generated(mail) == "Precedence: bulk"
    assert InboundEmail(from_address="rr@acme.example").header("Subject") is None


# --------------------------------------------------------------------------------------------
# charsets


@pytest.mark.parametrize(
    ("value", "charset", "expected"),
    [
        ("Grüße".encode("latin-1"), "iso-8859-1", "Grüße"),
        ("Grüße".encode("latin-1"), "ISO_8859-1", "Grüße"),
        ("“quoted” – dash".encode("cp1252"), "iso-8859-1", "“quoted” – dash"),
        ("“quoted” – dash".encode("cp1252"), "windows-1252", "“quoted” – dash"),
        ("本番環境".encode("iso-2022-jp"), "iso-2022-jp", "本番環境"),
        ("本番環境".encode("iso-2022-jp").decode("ascii"), "ISO-2022-JP", "本番環境"),
        ("本番環境".encode("shift_jis"), "Shift_JIS", "本番環境"),
        ("Grüße".encode(), "utf-8", "Grüße"),
        (b"\xef\xbb\xbfGr\xc3\xbc\xc3\x9fe", "UTF-8", "Grüße"),
        ("Grüße".encode(), None, "Grüße"),
        ("Grüße".encode("latin-1"), None, "Grüße"),
        ("Grüße".encode("latin-1"), "us-ascii", "Grüße"),
        ("Grüße".encode(), "x-unknown-charset", "Grüße"),
        (b"Gr\xfc\xdfe", '"iso-8859-1"', "Grüße"),
        (b"abc\x00def", "utf-8", "abcdef"),
        (b"caf\xe9", "utf-8", "caf\ufffd"),
        ("already text", "iso-8859-1", "already text"),
        ("Gr\udcfc\udcdfe", "iso-8859-1", "Grüße"),  # surrogateescape'd bytes
        ("lone \ud800 surrogate", "utf-8", "lone \ufffd surrogate"),
        (None, "utf-8", ""),
        (bytearray(b"ok"), "ascii", "ok"),
    ],
)
def test_decode_field(value, charset, expected):
    assert decode_field(value, charset) == expected


@pytest.mark.parametrize("charset", ["idna", "rot13", "base64", "hex", "undefined", "", " ", 7])
def test_decode_field_survives_codecs_that_are_not_charsets(charset):
    assert decode_field("Grüße".encode(), charset) == "Grüße"


def test_parsed_variant_decodes_each_field_with_its_charset():
    form, _ = load("s2_phrase.json")
    form["charsets"] = json.dumps(
        {"subject": "iso-8859-1", "text": "windows-1252", "from": "UTF-8"}
    )
    form["subject"] = "Störung".encode("latin-1")
    form["text"] = "„Grüße“".encode("cp1252")
    form["from"] = "Röad Rünner <rr@acme.example>".encode()
    mail = parse_sendgrid(form)
    assert (mail.subject, mail.text, mail.from_name) == ("Störung", "„Grüße“", "Röad Rünner")


def test_bad_charsets_and_attachment_info_lose_nothing():
    form, files = load("s1_known_contact.json")
    form["charsets"] = "not json"
    form["attachment-info"] = "{broken"
    mail = parse_sendgrid(form, files)
    assert mail.subject.startswith("Sev 1")
    assert mail.attachments[0].filename == "portal-error.log"
    assert mail.attachments[0].content_type == "text/plain"
    del form["attachment-info"]
    assert parse_sendgrid(form).attachments == (
        AttachmentInfo(None, "application/octet-stream", None),
    )


def multipart_body(fields: dict[str, bytes], boundary: str = "xYzZY") -> bytes:
    """A multipart/form-data body as SendGrid posts it: fields as raw bytes, one file."""
    out = b""
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value + b"\r\n"
    out += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachment1"; '
        f'filename="trace.log"\r\nContent-Type: text/plain\r\n\r\n'
    ).encode() + b"trace\xe9\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_raw_form_fields_recover_what_werkzeug_decodes_as_utf8():
    text = "„Grüße aus Köln“ – data loss\r\n".encode("cp1252")
    body = multipart_body(
        {
            "from": b"Wile E. Coyote <wile@acme.example>",
            "subject": "Störung".encode(),
            "text": text,
            "charsets": b'{"from": "UTF-8", "subject": "UTF-8", "text": "iso-8859-1"}',
            "envelope": b'{"to": ["critical@vendor.example"], "from": "wile@acme.example"}',
            "attachment-info": b'{"attachment1": {"filename": "trace.log", "type": "text/plain"}}',
        }
    )
    content_type = "multipart/form-data; boundary=xYzZY"
    environ = EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ()
    with Request(environ) as request:
        data = request.get_data(cache=True)
        assert "\ufffd" in request.form["text"]  # werkzeug alone loses the ISO-8859-1 bytes
        raw = raw_form_fields(data, request.content_type)
        assert raw["text"] == text and "attachment1" not in raw
        mail = parse_sendgrid({**request.form, **raw}, request.files)
    assert mail.text == "„Grüße aus Köln“ – data loss\n"
    assert mail.subject == "Störung"
    assert mail.attachments == (AttachmentInfo("trace.log", "text/plain", 6),)
    assert classify_severity(mail.subject, mail.text).severity == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "multipart/form-data; boundary=x"),
        (b"a=b", "application/x-www-form-urlencoded"),
        (b"garbage", "multipart/form-data; boundary=x"),
        (b"--x\r\n\r\nno disposition\r\n--x--\r\n", "multipart/form-data; boundary=x"),
        (b"--x--", "multipart/form-data"),
        (b"x", ""),
    ],
)
def test_raw_form_fields_tolerate_anything(body, content_type):
    assert raw_form_fields(body, content_type) == {}


def test_mime_parts_use_their_own_charsets():
    raw = (
        b"From: wile@acme.example\r\n"
        b"Subject: =?iso-8859-1?q?St=F6rung_=96_Lager?= =?ISO-2022-JP?B?GyRCS1xIVhsoQg==?=\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdfe aus K\xf6ln\r\n"
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + __import__("base64").b64encode("– Wile, Köln".encode())
        + b"\r\n--b--\r\n"
    )
    mail = parse_mime(raw)
    assert mail.subject == "Störung – Lager本番"
    assert mail.text == "Grüße aus Köln\n– Wile, Köln"


def test_raw_utf8_headers_are_read():
    raw = "From: Röad Rünner <rr@acme.example>\r\nSubject: Grüße\r\n\r\nbody\r\n".encode()
    mail = parse_mime(raw)
    assert (mail.from_name, mail.subject) == ("Röad Rünner", "Grüße")


# --------------------------------------------------------------------------------------------
# MIME structure


def test_html_only_mime_falls_back_to_text():
    mail = parse_mime(
        mime(body="<p>Sev 1</p><p>All<br>down</p>", content_type="text/html; charset=utf-8")
    )
    assert mail.text == "Sev 1\n\nAll\ndown"
    assert mail.html == "<p>Sev 1</p><p>All<br>down</p>"


def test_attached_messages_and_attachments_are_listed_not_read():
    raw = (
        "From: rr@acme.example\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
        "--m\r\nContent-Type: text/plain\r\n\r\nSee the forwarded alert.\r\n"
        "--m\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: monitor@acme.example\r\nSubject: P1 alert\r\n\r\nproduction down\r\n"
        '--m\r\nContent-Type: text/csv; name="orders.csv"\r\n'
        'Content-Disposition: attachment; filename="orders.csv"\r\n\r\na,b\r\n1,2\r\n'
        "--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nnot body\r\n"
        "--m--\r\n"
    )
    mail = parse_mime(raw)
    assert mail.text == "See the forwarded alert."
    kinds = [(a.filename, a.content_type) for a in mail.attachments]
    assert kinds == [
        (None, "message/rfc822"),
        ("orders.csv", "text/csv"),
        (None, "text/plain"),
    ]
    assert all(a.size for a in mail.attachments)


def test_several_inline_text_parts_are_joined_and_boundaryless_multiparts_read():
    raw = (
        'From: rr@acme.example\r\nContent-Type: multipart/mixed; boundary="q"\r\n\r\n'
        "--q\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
        "--q\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--q--\r\n"
    )
    assert parse_mime(raw).text == "first\nsecond"
    no_boundary = "From: rr@acme.example\r\nContent-Type: multipart/mixed\r\n\r\nstill here\r\n"
    assert "still here" in parse_mime(no_boundary).text


def nested(depth: int) -> str:
    """A message whose one text part sits ``depth`` multiparts deep."""
    parts = ["From: rr@acme.example\r\n"]
    for i in range(depth):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n')
    parts.append("Content-Type: text/plain\r\n\r\ndeep\r\n")
    for i in reversed(range(depth)):
        parts.append(f"--b{i}--\r\n")
    return "".join(parts)


def test_deep_nesting_is_bounded():
    # Within the bound the body is found however deep it is.
    assert parse_mime(nested(40)).text == "deep"
    # Beyond it the walk stops (no RecursionError, no hang): the message is still read, the
    # part too deep to reach is neither body nor attachment, and nothing raises.
    mail = parse_mime(nested(120))
    assert mail.from_address == "rr@acme.example"
    assert mail.text == "" and mail.attachments == ()


# --------------------------------------------------------------------------------------------
# malformed input


@pytest.mark.parametrize(
    "change",
    [
        {"from": None},
        {"from": "   "},
        {"from": "<>"},
        {"envelope": "not json"},
        {"envelope": "[1, 2]"},
        {"envelope": '{"to": 5}'},
        {"envelope": "[" * 5000},
    ],
)
def test_malformed_sendgrid_posts_raise_email_parse_error(change):
    form, _ = load("non_critical.json")
    form["headers"] = "Subject: no sender here\n"
    for key, value in change.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    with pytest.raises(EmailParseError):
        parse_sendgrid(form)


def test_email_parse_error_is_a_value_error():
    assert issubclass(EmailParseError, ValueError)
    with pytest.raises(ValueError, match="no sender"):
        parse_sendgrid({})


def test_sender_falls_back_to_the_headers_block():
    form, _ = load("non_critical.json")
    del form["from"]
    assert parse_sendgrid(form).from_address == "wile@acme.example"


@pytest.mark.parametrize(
    "raw", [b"", b"   \r\n", b"Subject: no sender\r\n\r\nhi\r\n", "just some text"]
)
def test_malformed_mime_raises_email_parse_error(raw):
    with pytest.raises(EmailParseError):
        parse_mime(raw)


def test_raw_variant_without_a_from_header_uses_the_form():
    mail = parse_sendgrid({"email": "Subject: hi\r\n\r\nSev 1\r\n", "from": "rr@acme.example"})
    assert mail.from_address == "rr@acme.example" and mail.text == "Sev 1"


# --------------------------------------------------------------------------------------------
# quoted replies, case numbers, threading, headers, HTML


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "New text\n\nOn Mon, 2 Nov 2026 at 10:00, Support <critical@vendor.example> wrote:\n"
            "> old\n> older\n",
            "New text",
        ),
        (
            "New text\nOn Mon, 2 Nov 2026 at 10:00, Critical Support <\ncritical@vendor.example>"
            " wrote:\n\n> old\n",
            "New text",
        ),
        (
            "On Mon, Support wrote:\n> question?\nanswer one\n> second?\nanswer two\n",
            "answer one\nanswer two",
        ),
        (
            "Top post\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\nold text\n",
            "Top post",
        ),
        (
            "Top post\n________________________________\nFrom: Support\nSent: Monday\nold\n",
            "Top post",
        ),
        (
            "Top post\n\nFrom: Critical Support <critical@vendor.example>\n"
            "Sent: Monday, 2 November 2026 10:00\nTo: Wile\nSubject: x\n\nold\n",
            "Top post",
        ),
        (
            "Réponse\n\nLe lun. 2 nov. 2026 à 10:00, Support <critical@vendor.example> a écrit :\n"
            "> ancien\n",
            "Réponse",
        ),
        ("Top post\n\nOn Monday Support wrote:\nunquoted history (Outlook style)\n", "Top post"),
        ("no quotes at all\r\nsecond line\r\n", "no quotes at all\nsecond line"),
        ("> only quoted\n> text\n", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_strip_quoted_reply(text, expected):
    assert strip_quoted_reply(text) == expected


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("[Case 1042]", 1042),
        ("Re: [Case 1042] Sev 1: production down", 1042),
        ("RE: Fwd: [case #1042] update", 1042),
        ("Case #1042", 1042),
        ("case no. 1043 follow-up", 1043),
        ("Re: Case 1044", 1044),
        ("[ CASE 2001 ]", 2001),
        ("[Case 12] and [Case 3456]", 3456),
        ("Re: Case 2000 vs [Case 1042]", 1042),  # the bracketed reference wins
        ("Case 999", None),
        ("[Case 42]", None),
        ("in case 1500 users are affected", None),
        ("showcase 1042", None),
        ("Case 10421042104210421042", None),
        ("S1042 down", None),
        ("", None),
        (None, None),
    ],
)
def test_case_number_from_subject(subject, number):
    assert case_number_from_subject(subject) == number


def test_message_ids_for_threading():
    raw = mime(
        "In-Reply-To: <a@vendor.example> <b@vendor.example>",
        "References: <root@acme.example>\r\n <a@vendor.example>",
        "Message-ID: <new@acme.example>",
    )
    mail = parse_mime(raw)
    assert mail.in_reply_to == "<a@vendor.example>"
    assert message_ids(mail) == {"<a@vendor.example>", "<b@vendor.example>", "<root@acme.example>"}
    bare = parse_mime(mime("Message-ID: bare-id@acme.example", "In-Reply-To: x@vendor.example"))
    assert bare.message_id == "<bare-id@acme.example>"
    assert message_ids(bare) == {"<x@vendor.example>"}
    assert message_ids(parse_mime(mime())) == set()


def test_the_message_ids_we_make():
    # The one form of every Message-ID we send (outbox row id, random part, our domain), so a
    # reply naming it threads back; intake and sender used to make them two ways.
    first = make_message_id(42, "support@vendor.example")
    assert re.fullmatch(r"<oncall\.42\.[0-9a-f]{16}@vendor\.example>", first)
    assert make_message_id(42, "support@vendor.example") != first
    assert make_message_id(7, "").endswith("@oncall.invalid>")
    mail = parse_mime(mime(f"In-Reply-To: {first}"))
    assert message_ids(mail) == {first}


def test_headers_lookup():
    headers = Headers([("Received", "one"), ("X-Thing", "a"), ("received", "two")])
    assert headers["RECEIVED"] == "one"
    assert headers.get_all("Received") == ("one", "two")
    assert "x-thing" in headers and "nope" not in headers
    assert list(headers) == ["Received", "X-Thing"] and len(headers) == 2
    assert headers.get("Missing") is None
    assert headers == Headers([("Received", "one"), ("X-Thing", "a"), ("received", "two")])
    with pytest.raises(KeyError):
        headers["Missing"]


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<div>a</div><div>b</div>", "a\nb"),
        ("a<br>b<br/>c", "a\nb\nc"),
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ("<style>x{}</style><script>y()</script>z", "z"),
        ("<p>x</p><pre>  keep\n    indent\n</pre><p>y</p>", "x\n\n  keep\n    indent\n\ny"),
        ("A&amp;B&nbsp;C &lt;tag&gt;", "A&B C <tag>"),
        ("<div>reply</div><blockquote><p>old</p></blockquote>", "reply\n\n> old"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a | b\nc"),
        ("<<<>>><p", "<<<>>><p"),  # an unfinished tag stays text
        ("", ""),
    ],
)
def test_html_to_text(markup, text):
    assert html_to_text(markup) == text


# --------------------------------------------------------------------------------------------
# properties: arbitrary input never raises anything but EmailParseError

FIELDS = [
    "headers",
    "dkim",
    "content-ids",
    "to",
    "from",
    "cc",
    "text",
    "html",
    "sender_ip",
    "spam_report",
    "spam_score",
    "envelope",
    "attachments",
    "attachment-info",
    "subject",
    "charsets",
    "SPF",
    "email",
]
CHARSET_NAMES = ["UTF-8", "iso-8859-1", "windows-1252", "ISO-2022-JP", "utf-16", "idna", "x-bad"]

field_values = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    st.sampled_from(["", "<>", "{}", "[]", "null", '{"to": ["critical@vendor.example"]}']),
    st.builds(
        lambda d: json.dumps(d),
        st.dictionaries(
            st.sampled_from(["to", "from", "text", "subject"]), st.sampled_from(CHARSET_NAMES)
        ),
    ),
)


@settings(max_examples=200, deadline=None, database=None)
@given(subject=st.text(max_size=300), text=st.text(max_size=1000))
def test_classify_severity_never_raises(subject, text):
    verdict = classify_severity(subject, text)
    assert verdict.severity in {None, 1, 2, 3, 4}
    assert verdict.reason


@settings(max_examples=200, deadline=None, database=None)
@given(form=st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=len(FIELDS)))
def test_parse_sendgrid_raises_only_email_parse_error(form):
    try:
        mail = parse_sendgrid(form)
    except EmailParseError:
        return
    assert mail.from_address == mail.from_address.casefold()
    for value in (mail.subject, mail.text, mail.from_raw, mail.from_name):
        value.encode("utf-8")  # no lone surrogates
        assert "\x00" not in value
    classify_severity(mail.subject, mail.text)
    is_auto_generated(mail)
    case_number_from_subject(mail.subject)
    message_ids(mail)


@settings(max_examples=150, deadline=None, database=None)
@given(
    from_=st.one_of(st.text(max_size=80), st.just('"Wile" <wile+x@acme.example>')),
    headers=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Subject",
                    "To",
                    "Auto-Submitted",
                    "In-Reply-To",
                    "Content-Type",
                    "Return-Path",
                    "List-Id",
                    "References",
                ]
            ),
            st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=60),
        ),
        max_size=6,
    ),
    body=st.binary(max_size=300),
)
def test_parse_mime_raises_only_email_parse_error(from_, headers, body):
    head = "".join(f"{name}: {value}\r\n" for name, value in [("From", from_), *headers])
    raw = head.encode("utf-8", "surrogatepass") + b"\r\n" + body
    try:
        mail = parse_mime(raw)
    except EmailParseError:
        return
    mail.text.encode("utf-8")  # no lone surrogates
    assert "\x00" not in mail.text
    assert mail.from_address == mail.from_address.casefold()
    reason = is_auto_generated(mail)
    assert reason is None or (isinstance(reason, str) and reason)


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(max_size=120))
def test_address_helpers_never_raise(value):
    normalised = normalise_address(value)
    assert normalised == normalised.casefold()
    display_name(value)


@settings(max_examples=100, deadline=None, database=None)
@given(body=st.binary(max_size=400), boundary=st.sampled_from(["x", "xYzZY", ""]))
def test_raw_form_fields_never_raise(body, boundary):
    fields = raw_form_fields(body, f"multipart/form-data; boundary={boundary}")
    assert all(isinstance(v, bytes) for v in fields.values())


def werkzeug_and_raw(body: bytes, boundary: str = "xYzZY"):
    """What the web layer has: werkzeug's form and files, whether they are exact, the raw bytes."""
    content_type = f"multipart/form-data; boundary={boundary}"
    environ = EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ()
    with Request(environ) as request:
        data = request.get_data(cache=True)
        values = [value for _, value in request.form.items(multi=True)]
        parts = len(values) + len(list(request.files.items(multi=True)))
        exact = form_is_exact(data, boundary, request.form, values, parts)
        form, files = request.form.to_dict(flat=True), dict(request.files)
        return form, files, exact, raw_form_fields(data, content_type)


def test_a_plain_post_needs_no_second_parse_and_latin1_does():
    fields = {
        "from": b"Wile E. Coyote <wile@acme.example>",
        "subject": b"Sev 1: production down",
        "text": b"All users affected.\r\n",
        "charsets": b'{"from": "UTF-8", "subject": "iso-8859-1", "text": "us-ascii"}',
        "envelope": b'{"to": ["critical@vendor.example"], "from": "wile@acme.example"}',
    }
    assert werkzeug_and_raw(multipart_body(fields))[2]
    utf8 = {"subject": "Störung".encode(), "charsets": b'{"subject": "UTF-8"}'}
    assert werkzeug_and_raw(multipart_body(fields | utf8))[2]
    mislabelled = {"subject": "Störung".encode()}  # UTF-8 bytes, "iso-8859-1" in charsets
    assert not werkzeug_and_raw(multipart_body(fields | mislabelled))[2]
    latin1 = multipart_body(fields | {"subject": "Störung".encode("latin-1")})
    assert not werkzeug_and_raw(latin1)[2]
    utf16 = fields | {"charsets": b'{"text": "utf-16-le"}', "text": "ok".encode("utf-16-le")}
    assert not werkzeug_and_raw(multipart_body(utf16))[2]


_CHARSETS = ["utf-8", "UTF-8", "us-ascii", "iso-8859-1", "utf-16", "cp500", "iso-2022-jp", "x"]


@settings(max_examples=300, deadline=None, database=None)
@given(
    values=st.dictionaries(
        st.sampled_from(["from", "subject", "text", "headers", "to", "email", "SPF"]),
        st.tuples(st.text(max_size=30), st.sampled_from(_CHARSETS)),
        min_size=1,
    ),
    labels=st.dictionaries(st.sampled_from(["from", "text"]), st.sampled_from(_CHARSETS)),
    part_header=st.sampled_from(["", "Content-Type: text/plain; charset=iso-8859-1\r\n",
                                 "Content-Transfer-Encoding: base64\r\n"]),
    line_end=st.sampled_from(["\r\n", "\n"]),
)  # fmt: skip
def test_werkzeugs_form_when_exact_reads_as_the_raw_bytes(values, labels, part_header, line_end):
    """Whenever the second parse is skipped, the mail read is the one it would have given."""
    body = b""
    for name, (text, charset) in values.items():
        head = f'--xYzZY{line_end}Content-Disposition: form-data; name="{name}"{line_end}'
        raw = text.encode(charset if charset != "x" else "utf-8", "replace")
        body += (head + part_header + line_end).encode() + raw + line_end.encode()
    charsets = json.dumps(labels).encode()
    body += b'--xYzZY\r\nContent-Disposition: form-data; name="charsets"\r\n\r\n' + charsets
    body += b"\r\n--xYzZY--\r\n"
    form, files, exact, raw = werkzeug_and_raw(body)
    event("werkzeug's form is exact" if exact else "the bytes are recovered")
    if not exact:
        return
    try:
        fast = parse_sendgrid(form, files)
    except EmailParseError:
        with pytest.raises(EmailParseError):
            parse_sendgrid({**form, **raw}, files)
        return
    assert fast == parse_sendgrid({**form, **raw}, files)
