"""The Activity page's pure parts: the search form as a message-log filter (errors named by
the form's fields), and a message's events and MIME bytes as the message page shows them."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from control.ui.pages.activity_message import (
    MAX_TEXT,
    attempts,
    sent_message,
    signatures,
    timeline,
    tls_of,
)
from control.ui.pages.activity_search import Search, like_escaped, message_filter, search_of
from mta.core.errors import ValidationError
from mta.services.message_filter import NO_FILTER, And, Like, Match, Not, TimeRange
from mta.services.messages import MessageEventView

DAY = 1765065600.0  # 2025-12-07T00:00:00Z


def test_each_field_becomes_its_condition() -> None:
    search = search_of(
        {
            "to_email": " Ada@Example.COM ",
            "subject": "50%_off",
            "status": "bounced",
            "categories": "news",
            "after": "2025-12-07",
            "before": "2025-12-07",
            "page": "3",
        }
    )
    assert message_filter(search) == And(
        (
            Like("subject", "50\\%\\_off%"),
            TimeRange(after=DAY, before=DAY + 86399.999999, field="created_at"),
            Match("to_email", ("Ada@example.com",)),
            Match("status", ("bounced",)),
            Match("categories", ("news",)),
        )
    )
    assert search.as_query()["to_email"] == "Ada@Example.COM" and "page" not in search.as_query()
    assert message_filter(Search()) == NO_FILTER and Search().is_empty


def test_the_advanced_query_joins_the_fields() -> None:
    found = message_filter(Search(query='NOT status = "delivered"', categories="news"))
    assert found == And((Not(Match("status", ("delivered",))), Match("categories", ("news",))))


@pytest.mark.parametrize(
    ("search", "field", "says"),
    [
        (Search(query='status = "lost"'), "query", "unknown status 'lost'"),
        (Search(query="subject ="), "query", "the query ends too early"),
        (Search(status="lost"), "status", "unknown status 'lost'"),
        (Search(after="yesterday"), "after", "'yesterday' is not a day"),
        (Search(before="2025-13-01"), "before", "is not a day (YYYY-MM-DD)"),
    ],
)
def test_bad_input_names_the_form_field(search: Search, field: str, says: str) -> None:
    with pytest.raises(ValidationError) as raised:
        message_filter(search)
    assert raised.value.field == field and says in raised.value.message


def test_a_typed_subject_matches_literally() -> None:
    assert like_escaped("a\\b%c_d") == "a\\\\b\\%c\\_d"


def event(kind: str, at: int, **data: object) -> MessageEventView:
    return MessageEventView(
        event_id=f"e{at}",
        event_type=kind,
        timestamp=at,
        email="ada@example.com",
        data=dict(data),
        reason=str(data.get("response") or data.get("reason") or "") or None,
        mx_server=str(data.get("mx") or "") or None,
        attempt_num=data.get("attempt"),  # type: ignore[arg-type]
    )


def test_the_timeline_and_attempts_say_what_happened() -> None:
    events = [
        event("processed", 100),
        event(
            "deferred",
            101,
            response="451 4.7.1 later",
            mx="mx.example.com",
            ip="192.0.2.7",
            attempt=1,
        ),
        event(
            "delivered",
            160,
            response="250 ok",
            mx="mx.example.com",
            ip="192.0.2.7",
            tls=True,
            tls_version="TLSv1.3",
            tls_cipher="TLS_AES_256_GCM_SHA384",
            attempt=2,
        ),
        event(
            "bounce",
            170,
            reason="550 5.1.1 no",
            type="bounce",
            bounce_classification="Invalid Address",
        ),
    ]
    steps = timeline(events)
    assert [s.label for s in steps] == ["Processed", "Deferred", "Delivered", "Bounced"]
    assert steps[3].detail == "550 5.1.1 no · bounce: Invalid Address"
    assert steps[0].at == "1970-01-01 00:01:40 UTC"
    tried = attempts(events)
    assert [(t.event, t.remote_host, t.source_ip, t.tls) for t in tried] == [
        ("deferred", "mx.example.com", "192.0.2.7", ""),
        ("delivered", "mx.example.com", "192.0.2.7", "TLSv1.3 (TLS_AES_256_GCM_SHA384)"),
        ("bounce", "", "", ""),
    ]
    assert tls_of({"tls": False, "mx": "mx.example.com"}) == "none"
    assert tls_of({"tls": False, "mx": ""}) == ""  # the simulator: no connection at all


def test_events_of_one_second_are_in_the_order_a_message_lives_them() -> None:
    events = [event("open", 101), event("delivered", 100), event("processed", 100)]
    assert [s.event for s in timeline(events)] == ["processed", "delivered", "open"]


def mime(html: str, text: str = "Plain words") -> bytes:
    message = EmailMessage()
    message["From"] = "hello@mail.example.com"
    message["Subject"] = "Hi"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.add_attachment(
        b"hello world", maintype="application", subtype="pdf", filename="notes.pdf"
    )
    signature = b"DKIM-Signature: v=1; a=rsa-sha256; d=mail.example.com;\r\n s=s1; b=y\r\n"
    return signature + message.as_bytes()


def test_the_message_as_sent_is_text_with_its_attachments() -> None:
    sent = sent_message(mime("<p>Hi</p><script>x()</script>"))
    assert [(b.kind, b.text.strip()) for b in sent.bodies] == [
        ("text/plain", "Plain words"),
        ("text/html", "<p>Hi</p><script>x()</script>"),
    ]
    assert [(a.name, a.type, a.size) for a in sent.attachments] == [
        ("notes.pdf", "application/pdf", 11)
    ]
    assert [(s.domain, s.selector, s.algorithm) for s in sent.signatures] == [
        ("mail.example.com", "s1", "rsa-sha256")
    ]
    assert sent.headers.startswith("DKIM-Signature:") and "Subject: Hi" in sent.headers


def test_a_long_body_is_cut_with_a_count() -> None:
    sent = sent_message(mime("<p>ok</p>", "x" * (MAX_TEXT + 500)))
    plain = sent.bodies[0]
    assert len(plain.text) == MAX_TEXT and plain.cut >= 500
    assert sent.bodies[1].cut == 0


def test_signatures_without_tags_are_still_listed() -> None:
    assert signatures(["v=1; d=a.example"])[0].selector == ""
