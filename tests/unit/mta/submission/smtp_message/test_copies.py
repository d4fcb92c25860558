"""The copies an SMTP message is spooled as: filters applied by the HTTP path's tracking code,
one copy for all recipients unless tracked links must each name their recipient."""

from __future__ import annotations

import email
import email.policy
import json
import re
import time
from email.message import EmailMessage
from typing import Any

from mta.core.model import new_id
from mta.submission.smtp_message.copies import smtp_copies
from mta.submission.smtp_message.submitted import take_submitted
from mta.tracking.content import Tracker
from mta.tracking.tokens import TrackingKey, parse_token
from queue_store.entries import Envelope, RecipientState

KEY = TrackingKey("secret")
TRACKER = Tracker(KEY, "https://links.example.com")
HTML = '<html><body><a href="https://shop.example.org/x">Buy</a></body></html>'


def raw(filters: dict[str, Any], extra: dict[str, Any] | None = None) -> bytes:
    header = json.dumps({"filters": filters, **(extra or {})})
    return (
        "From: hello@mail.example.com\r\nTo: ada@example.com\r\n"
        f"X-SMTPAPI: {header}\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nSee https://shop.example.org/x\r\n"
        f"--b\r\nContent-Type: text/html\r\n\r\n{HTML}\r\n--b--\r\n"
    ).encode()


def copies_of(data: bytes, recipients: int, at: float = 0.0) -> tuple[str, list[Any]]:
    submitted = take_submitted(data, time.time())
    message_id = new_id()
    envelope = Envelope(
        message_id=message_id,
        queue_id=message_id,
        account_id="acct",
        sender="hello@mail.example.com",
        sender_domain="mail.example.com",
        return_path_host="bounces.mail.example.com",
    )
    states = [RecipientState(email=f"r{i}@example.com", index=i) for i in range(recipients)]
    return message_id, smtp_copies(TRACKER, submitted, submitted.data, envelope, states, at)


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(data: bytes, kind: str) -> str:
    part = parsed(data).get_body((kind,))
    assert part is not None
    return str(part.get_content())


def on(**settings: Any) -> dict[str, Any]:
    return {"settings": {"enable": 1, **settings}}


def test_without_filters_one_copy_keeps_the_bytes() -> None:
    data = raw({"ganalytics": on()})
    message_id, copies = copies_of(data, 3)
    assert len(copies) == 1
    assert copies[0].entry.envelope.queue_id == message_id
    assert [s.index for s in copies[0].entry.recipients] == [0, 1, 2]
    assert copies[0].data == take_submitted(data, time.time()).data


def test_a_footer_alone_keeps_one_copy_for_everyone() -> None:
    footer = on(**{"text/plain": "-- Acme", "text/html": "<p>Acme</p>"})
    _, copies = copies_of(raw({"footer": footer}), 2)
    assert len(copies) == 1
    assert body(copies[0].data, "plain").rstrip().endswith("-- Acme")
    assert "<p>Acme</p></body>" in body(copies[0].data, "html")


def test_tracked_links_give_each_recipient_a_copy_naming_them() -> None:
    filters = {"clicktrack": on(enable_text=1), "opentrack": on(), "subscriptiontrack": on()}
    message_id, copies = copies_of(raw(filters), 3)
    assert [c.entry.envelope.queue_id for c in copies] == [f"{message_id}-{i}" for i in range(3)]
    for index, copy in enumerate(copies):
        assert [s.index for s in copy.entry.recipients] == [index]
        markup, text = body(copy.data, "html"), body(copy.data, "plain")
        tokens = re.findall(r"\?upn=([\w-]+)", markup + text)
        kinds = {claim.kind for claim in map(lambda t: parse_token(KEY, t), tokens) if claim}
        assert kinds == {"click", "open", "unsubscribe"}
        claims = [parse_token(KEY, token) for token in tokens]
        assert all(c and (c.message_id, c.recipient_index) == (message_id, index) for c in claims)
        assert "https://shop.example.org/x" not in markup + text
        headers = parsed(copy.data)
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_one_recipient_gets_one_tracked_copy_and_send_at_holds_it() -> None:
    message_id, copies = copies_of(raw({"opentrack": on()}, {"send_at": 2_000}), 1, at=1_000)
    (copy,) = copies
    assert copy.entry.envelope.queue_id == message_id
    assert copy.entry.envelope.send_at == 2_000
    assert "/wf/open?upn=" in body(copy.data, "html")
    assert "List-Unsubscribe" not in parsed(copy.data)  # no group, no subscription tracking


def test_open_tracking_replace_tag_takes_the_pixel() -> None:
    data = raw({"opentrack": on(replace="%open%")}).replace(b"Buy</a>", b"Buy</a>%open%")
    _, (copy,) = copies_of(data, 1)
    markup = body(copy.data, "html")
    assert "%open%" not in markup and re.search(r"</a><img src=\"[^\"]+/wf/open", markup)
