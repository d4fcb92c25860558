"""The Inbound Parse form: what SendGrid's own helper (`sendgrid.helpers.inbound.parse.Parse`)
reads from our multipart body, parsed and raw, with attachments, inline images and odd names."""

from __future__ import annotations

import base64
import io
import json
from email.message import EmailMessage
from typing import Any

from sendgrid.helpers.inbound.parse import Parse
from werkzeug.wrappers import Request

from mta.inbound_mail.parse_form import ParseEnvelope, Verdicts, encoded, form_of

ENVELOPE = ParseEnvelope(
    mail_from="ada@sender.example", rcpt_tos=["reply+42@parse.acme.example"], sender_ip="192.0.2.7"
)
VERDICTS = Verdicts(dkim="{@sender.example : pass}", spf="pass")
KEYS = [
    "from", "attachments", "headers", "text", "envelope", "to", "html", "sender_ip",
    "attachment-info", "subject", "dkim", "SPF", "charsets", "content-ids", "spam_report",
    "spam_score", "email", "cc",
]  # fmt: skip


class Config:
    keys = KEYS


def message() -> bytes:
    mail = EmailMessage()
    mail["From"] = "Ada <ada@sender.example>"
    mail["To"] = "reply+42@parse.acme.example"
    mail["Cc"] = "team@acme.example"
    mail["Subject"] = "Re: Ticket 42, résumé"
    mail.set_content("Thanks, that fixed it.\n")
    mail.add_alternative('<p>Thanks <img src="cid:logo@x"></p>', subtype="html")
    mail.get_payload()[1].add_related(b"\x89PNG...", "image", "png", cid="<logo@x>")
    mail.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename='we"ird.csv')
    return bytes(mail)


def received(form_body: bytes, content_type: str) -> Parse:
    request = Request.from_values(
        input_stream=io.BytesIO(form_body),
        content_length=len(form_body),
        content_type=content_type,
        method="POST",
    )
    return Parse(Config(), request)


def test_the_parsed_form_is_read_by_sendgrids_helper() -> None:
    body, content_type = encoded(form_of(message(), ENVELOPE, VERDICTS, send_raw=False))
    parse = received(body, content_type)
    values: dict[str, Any] = parse.key_values()
    assert values["from"] == "Ada <ada@sender.example>"
    assert values["to"] == "reply+42@parse.acme.example" and values["cc"] == "team@acme.example"
    assert values["subject"] == "Re: Ticket 42, résumé"
    assert values["text"].strip() == "Thanks, that fixed it."
    assert values["html"].startswith("<p>Thanks")
    assert json.loads(values["envelope"]) == {
        "to": ["reply+42@parse.acme.example"],
        "from": "ada@sender.example",
    }
    assert values["sender_ip"] == "192.0.2.7" and values["SPF"] == "pass"
    assert values["dkim"] == "{@sender.example : pass}"
    assert "Subject: Re: Ticket 42" in values["headers"] or "Subject: =?utf-8?" in values["headers"]
    assert values["attachments"] == "2"
    info = json.loads(values["attachment-info"])
    assert (
        info["attachment1"]["type"] == "image/png" and info["attachment1"]["content-id"] == "logo@x"
    )
    assert json.loads(values["content-ids"]) == {"logo@x": "attachment1"}
    assert info["attachment2"]["filename"] == 'we"ird.csv'
    files = {a["type"]: a for a in parse.attachments()}
    assert base64.b64decode(files["text/csv"]["contents"]) == b"a,b\n1,2\n"
    assert base64.b64decode(files["image/png"]["contents"]) == b"\x89PNG..."
    assert "email" not in values and "spam_score" not in values


def test_send_raw_carries_the_whole_message_in_email() -> None:
    raw = message()
    body, content_type = encoded(form_of(raw, ENVELOPE, VERDICTS, send_raw=True))
    parse = received(body, content_type)
    values = parse.key_values()
    assert "headers" not in values and "text" not in values
    original = parse.get_raw_email()
    assert original is not None and original["From"] == "Ada <ada@sender.example>"
    assert original.get_content_type() == "multipart/mixed"
    names = [a["file_name"] for a in parse.attachments()]
    assert 'we"ird.csv' in names
    assert values["subject"] == "Re: Ticket 42, résumé"


def test_a_spam_score_is_posted_only_when_scanned() -> None:
    scanned = Verdicts(dkim="none", spf="none", spam_score="5.1", spam_report="BAYES_99 ...")
    body, content_type = encoded(form_of(message(), ENVELOPE, scanned, send_raw=False))
    values = received(body, content_type).key_values()
    assert values["spam_score"] == "5.1" and values["spam_report"] == "BAYES_99 ..."


def test_parts_beyond_the_limit_are_not_walked() -> None:
    mail = EmailMessage()
    mail["Subject"] = "many"
    mail.set_content("body")
    for index in range(300):
        mail.add_attachment(
            b"x", maintype="application", subtype="octet-stream", filename=f"{index}"
        )
    form = form_of(bytes(mail), ENVELOPE, VERDICTS, send_raw=False)
    assert 0 < len(form.files) <= 100
