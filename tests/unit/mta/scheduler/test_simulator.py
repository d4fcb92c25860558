"""The mailbox simulator's policy: which outcome a magic address asks for, the reply of each
attempt (and the bounce it classifies as), the short retry for test keys, and the follow-up
events after a simulated delivery, with the message's categories and custom args."""

from __future__ import annotations

import pytest

from mta.core.events import (
    Bounce,
    Click,
    Deferred,
    Delivered,
    GroupUnsubscribe,
    Open,
    SpamReport,
    Unsubscribe,
    event_type,
)
from mta.core.model import Outcome
from mta.delivery.deliverer import SANDBOX_REPLY
from mta.scheduler.outcomes import outcome_event
from mta.scheduler.simulator import (
    FALLBACK_URL,
    RETRY_SECONDS,
    first_link,
    follow_ups,
    plan_for,
    retry_seconds,
    simulated_outcomes,
    simulated_reply,
    wants_content,
)
from queue_store.entries import Envelope, QueueEntry, RecipientState


def _entry(*emails: str, asm_group_id: int | None = None, sandbox: bool = True) -> QueueEntry:
    envelope = Envelope(
        message_id="msg1",
        queue_id="msg1-0",
        account_id="acct1",
        sender="s@example.com",
        sender_domain="example.com",
        return_path_host="bounces.example.com",
        sandbox=sandbox,
        categories=["receipts"],
        custom_args={"order": "42"},
        asm_group_id=asm_group_id,
    )
    states = [RecipientState(email=e, index=i) for i, e in enumerate(emails)]
    return QueueEntry(envelope=envelope, recipients=states)


@pytest.mark.parametrize(
    ("address", "plan"),
    [
        ("bounce@example.com", "bounce"),
        ("block@anything.test", "block"),
        ("defer@example.org", "defer"),
        ("complaint@example.com", "complaint"),
        ("unsubscribe@example.com", "unsubscribe"),
        ("open@example.com", "open"),
        ("click@example.com", "click"),
        ("BOUNCE@EXAMPLE.COM", "bounce"),
        ("Click@Example.com", "click"),
        ("bounce+case-17@example.com", "bounce"),
        ("open+@example.com", "open"),
        ("ada@example.com", "deliver"),
        ("bounces@example.com", "deliver"),
        ("x+bounce@example.com", "deliver"),
        ("bounce-1@example.com", "deliver"),
        ("bounce", "deliver"),
        ("", "deliver"),
    ],
)
def test_plan_for(address: str, plan: str) -> None:
    assert plan_for(address) == plan


@pytest.mark.parametrize(
    ("address", "attempts", "event", "fields"),
    [
        ("ada@example.com", 0, Delivered, {}),
        ("bounce@example.com", 0, Bounce, {"status": "5.1.1", "type": "bounce"}),
        ("bounce@example.com", 0, Bounce, {"bounce_classification": "Invalid Address"}),
        ("block@example.com", 0, Bounce, {"status": "5.7.1", "type": "blocked"}),
        ("block@example.com", 0, Bounce, {"bounce_classification": "Reputation"}),
        ("defer@example.com", 0, Deferred, {"status": "4.2.0"}),
        ("defer@example.com", 1, Deferred, {"status": "4.2.0"}),
        ("defer@example.com", 2, Delivered, {}),
        ("complaint@example.com", 0, Delivered, {}),
        ("unsubscribe@example.com", 0, Delivered, {}),
        ("open@example.com", 0, Delivered, {}),
        ("click@example.com", 0, Delivered, {}),
    ],
)
def test_each_attempt_goes_through_the_ordinary_outcome_path(
    address: str, attempts: int, event: type, fields: dict[str, str]
) -> None:
    entry = _entry(address)
    state = entry.recipients[0]
    state.attempts = attempts + 1  # as the scheduler counts the attempt before its event
    reply = simulated_reply(address, attempts)
    result = outcome_event(entry, state, Outcome(reply=reply), False, 1000)
    assert isinstance(result, event)
    assert {name: getattr(result, name) for name in fields} == fields
    if event is Delivered:
        assert reply == SANDBOX_REPLY


def test_simulated_outcomes_follow_each_recipients_attempts() -> None:
    entry = _entry("defer@example.com", "defer+b@example.com", "bounce@example.com")
    entry.recipients[1].attempts = 2
    replies = [o.reply.code for o in simulated_outcomes(entry.recipients)]
    assert replies == [451, 250, 550]


@pytest.mark.parametrize(("sandbox", "expected"), [(True, RETRY_SECONDS), (False, 300.0)])
def test_test_keys_retry_soon_and_live_mail_keeps_its_schedule(
    sandbox: bool, expected: float
) -> None:
    assert retry_seconds(_entry("a@x.test", sandbox=sandbox).envelope, 300.0) == expected


@pytest.mark.parametrize(
    ("emails", "wanted"),
    [(("ada@x.test", "open@x.test"), False), (("ada@x.test", "Click+1@x.test"), True)],
)
def test_wants_content_only_for_click(emails: tuple[str, ...], wanted: bool) -> None:
    assert wants_content(_entry(*emails).recipients) is wanted


HTML_MAIL = (
    b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=B\r\n\r\n"
    b"--B\r\nContent-Type: text/plain\r\n\r\nSee https://plain.example/first.\r\n"
    b"--B\r\nContent-Type: text/html\r\n\r\n"
    b'<p><a name="top">x</a><a href="mailto:a@b">m</a>'
    b'<a href="https://shop.example/a?x=1&amp;y=2">buy</a></p>\r\n--B--\r\n'
)


@pytest.mark.parametrize(
    ("content", "link"),
    [
        (HTML_MAIL, ("https://shop.example/a?x=1&y=2", "html")),
        (
            b"Content-Type: text/plain\r\n\r\nGo to <https://plain.example/p>, now.\r\n",
            ("https://plain.example/p", "text"),
        ),
        (
            b"Content-Type: text/plain\r\n\r\nsee https://a.example/x.\r\n",
            ("https://a.example/x", "text"),
        ),
        (b"Content-Type: text/plain\r\n\r\nNo links here.\r\n", (FALLBACK_URL, "html")),
        (
            b"Content-Type: text/plain; charset=x-unknown\r\n\r\nhttps://a.example/\r\n",
            (FALLBACK_URL, "html"),
        ),
        (b"", (FALLBACK_URL, "html")),
        (None, (FALLBACK_URL, "html")),
    ],
)
def test_first_link(content: bytes | None, link: tuple[str, str]) -> None:
    assert first_link(content) == link


def _delivered(entry: QueueEntry) -> QueueEntry:
    for state in entry.recipients:
        state.status = "delivered"
    return entry


COMMON = ("acct1", "msg1", ["receipts"], {"order": "42"}, 1000)


def test_follow_ups_after_delivery_carry_the_message_fields() -> None:
    emails = ["ada@x.test", "complaint@x.test", "open@x.test", "click@x.test", "unsubscribe@x"]
    entry = _delivered(_entry(*emails))
    events = follow_ups(entry, entry.recipients, HTML_MAIL, 1000)
    assert [event_type(e) for e in events] == ["spam_report", "open", "click", "unsubscribe"]
    assert [e.email for e in events] == emails[1:]
    assert [e.recipient_index for e in events] == [1, 2, 3, 4]
    for event in events:
        assert (
            event.account_id,
            event.message_id,
            event.categories,
            event.custom_args,
            event.timestamp,
        ) == COMMON
    spam, opened, click, unsubscribe = events
    assert isinstance(spam, SpamReport) and spam.source == "simulator"
    assert isinstance(opened, Open) and not opened.machine_open
    assert isinstance(click, Click) and click.url == "https://shop.example/a?x=1&y=2"
    assert click.url_offset == {"index": 0, "type": "html"}
    assert isinstance(unsubscribe, Unsubscribe) and unsubscribe.method == "simulator"


def test_unsubscribe_with_a_group_is_a_group_unsubscribe() -> None:
    entry = _delivered(_entry("unsubscribe@x.test", asm_group_id=7))
    (event,) = follow_ups(entry, entry.recipients, None, 1000)
    assert isinstance(event, GroupUnsubscribe)
    assert (event.asm_group_id, event.method, event.email) == (7, "simulator", "unsubscribe@x.test")


def test_no_follow_up_before_delivery() -> None:
    entry = _entry("open@x.test", "click@x.test", "complaint@x.test")
    entry.recipients[0].status = "bounced"  # pending and bounced recipients get nothing
    assert follow_ups(entry, entry.recipients, None, 1000) == []


def _nested(depth: int) -> bytes:
    parts = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
        for i in range(depth)
    )
    html = b'--b%d\r\nContent-Type: text/html\r\n\r\n<a href="https://deep.example/">x</a>\r\n'
    return b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n" + parts + html % depth


def _many(count: int) -> bytes:
    part = b'--b\r\nContent-Type: text/html\r\n\r\n<a href="https://many.example/">x</a>\r\n'
    return b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + part * count + b"--b--\r\n"


def test_first_link_of_a_hostile_structure_is_the_fallback() -> None:
    assert first_link(_nested(20)) == ("https://deep.example/", "html")
    assert first_link(_nested(1000)) == (FALLBACK_URL, "html")  # it was a RecursionError
    assert first_link(_many(50)) == ("https://many.example/", "html")
    assert first_link(_many(100_000)) == (FALLBACK_URL, "html")  # it was 36 s of parsing
