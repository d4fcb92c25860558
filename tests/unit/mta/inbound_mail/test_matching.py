"""Which message and recipient an inbound report is about, whether the reference may speak
for that message's account, and which events follow: tables of cases."""

from __future__ import annotations

import pytest

from mta.core.events import Bounce, Deferred, SpamReport, event_type
from mta.inbound_mail.matching import (
    Candidate,
    Reference,
    authorised,
    bare_address,
    events_for,
    match_recipients,
    references,
)
from mta.inbound_mail.parsing.report import Report, ReportRecipient

MSG = "018f00000000aaaabbbbccccdddd"
HOST = "bounces.mail.acme.test"
RECIPIENTS = [(0, "ada@example.com", "delivered"), (1, "bob@example.com", "delivered")]


def rr(
    address: str, action: str = "failed", status: str = "5.1.1", **kw: object
) -> ReportRecipient:
    return ReportRecipient(address=address, action=action, status=status, **kw)  # type: ignore[arg-type]


def candidate(**kw: object) -> Candidate:
    fields: dict[str, object] = dict(
        message_id=MSG,
        account_id="acme",
        hosts=frozenset({HOST}),
        recipients=list(RECIPIENTS),
        categories=["c"],
        custom_args={"order": "42"},
    )
    fields.update(kw)
    return Candidate(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rfc822; Ada@Example.com", "ada@example.com"),
        ("<ada@example.com>", "ada@example.com"),
        ("Ada Lovelace <ADA@example.com>", "ada@example.com"),
        ("ada@example.com", "ada@example.com"),
        ("redacted", ""),
        ("", ""),
    ],
)
def test_bare_address(value: str, expected: str) -> None:
    assert bare_address(value) == expected


@pytest.mark.parametrize(
    ("rcpt_tos", "headers", "expected"),
    [
        (
            [f"bounces+{MSG}.1@{HOST}"],
            {},
            [Reference(message_id=MSG, index=1, host=HOST, via="rcpt")],
        ),
        (
            [f"bounces+{MSG}.0@Bounces.Mail.Acme.Test."],
            {},
            [Reference(message_id=MSG, index=0, host=HOST, via="rcpt")],
        ),
        (
            ["fbl@in.test"],
            {"x-scaisend-message-id": f"<{MSG}>"},
            [Reference(message_id=MSG, via="header")],
        ),
        (
            ["fbl@in.test"],
            {"return-path": f"<bounces+{MSG}.1@{HOST}>", "x-scaisend-message-id": MSG},
            [
                Reference(message_id=MSG, index=1, host=HOST, via="return-path"),
                Reference(message_id=MSG, via="header"),
            ],
        ),
        (
            [f"bounces+{MSG}.1@{HOST}"],
            {"return-path": f"<bounces+{MSG}.1@{HOST}>"},
            [Reference(message_id=MSG, index=1, host=HOST, via="rcpt")],
        ),
        (["postmaster@in.test"], {"return-path": "<someone@else.test>"}, []),
        (["bounces+nodot@in.test"], {}, []),
    ],
)
def test_references(
    rcpt_tos: list[str], headers: dict[str, str], expected: list[Reference]
) -> None:
    assert references(Report(kind="dsn", original_headers=headers), rcpt_tos) == expected


@pytest.mark.parametrize(
    ("ref", "rcpt_domains", "expected"),
    [
        (Reference(message_id=MSG, index=0, host=HOST, via="rcpt"), [HOST], True),
        # another account's return-path host naming our message: a forged cross-account VERP
        (
            Reference(message_id=MSG, index=0, host="bounces.evil.test", via="rcpt"),
            ["bounces.evil.test"],
            False,
        ),
        (
            Reference(message_id=MSG, index=0, host="bounces.evil.test", via="return-path"),
            [HOST],
            False,
        ),
        # found through the original's header: it must have come to the account or to us
        (Reference(message_id=MSG, via="header"), ["fbl.scaisend.test"], True),
        (Reference(message_id=MSG, via="header"), [HOST], True),
        (Reference(message_id=MSG, via="header"), ["bounces.evil.test"], False),
    ],
)
def test_authorised(ref: Reference, rcpt_domains: list[str], expected: bool) -> None:
    assert authorised(ref, candidate(), ["FBL.scaisend.test"], rcpt_domains) is expected


@pytest.mark.parametrize(
    ("reported", "index", "recipients", "expected"),
    [
        # the VERP index and the address agree
        (["ada@example.com"], 0, RECIPIENTS, [0]),
        # the address names another recipient than the VERP index: the address wins
        (["bob@example.com"], 0, RECIPIENTS, [1]),
        # several recipients in one DSN: each to its own, by address
        (["bob@example.com", "ADA@example.com"], 0, RECIPIENTS, [1, 0]),
        # a sole recipient rewritten by forwarding: the VERP index
        (["ada.forwarded@elsewhere.test"], 1, RECIPIENTS, [1]),
        # an index that does not fit, and no address that does: nothing
        (["stranger@elsewhere.test"], 7, RECIPIENTS, []),
        # several unknown addresses: no guessing
        (["x@elsewhere.test", "y@elsewhere.test"], 0, RECIPIENTS, []),
        # no VERP index (matched by header): by address, or the sole recipient
        (["bob@example.com"], None, RECIPIENTS, [1]),
        (["redacted"], None, RECIPIENTS, []),
        (["redacted"], None, RECIPIENTS[:1], [0]),
        # one recipient named twice counts once
        (["ada@example.com", "ada@example.com"], 0, RECIPIENTS, [0]),
        ([], 0, RECIPIENTS, []),
    ],
)
def test_match_recipients(
    reported: list[str],
    index: int | None,
    recipients: list[tuple[int, str, str]],
    expected: list[int],
) -> None:
    pairs = match_recipients([rr(a) for a in reported], index, recipients)
    assert [i for _, i in pairs] == expected


def test_a_failed_recipient_bounces_with_the_report_s_verdict() -> None:
    item = rr(
        "bob@example.com",
        diagnostic="550 5.1.1 user unknown",
        classification="Invalid Address",
        bounce_type="bounce",
        hard=True,
    )
    [event] = events_for(Report(kind="dsn", recipients=[item]), candidate(), 0)
    assert isinstance(event, Bounce)
    assert (event.message_id, event.recipient_index, event.email) == (MSG, 1, "bob@example.com")
    assert event.reason == "5.1.1 550 5.1.1 user unknown" and event.status == "5.1.1"
    assert event.bounce_classification == "Invalid Address" and event.type == "bounce"
    assert event.account_id == "acme" and event.custom_args == {"order": "42"}
    assert event.categories == ["c"]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (rr("ada@example.com", "failed", "5.2.2"), "bounce"),
        (rr("ada@example.com", "delayed", "4.4.1"), "deferred"),
        # expired: a failure even though the status is 4.x.x
        (rr("ada@example.com", "failed", "4.4.7", hard=True, reason="expired"), "bounce"),
        (rr("ada@example.com", "delayed", "4.4.7", hard=True, reason="expired"), "bounce"),
        (rr("ada@example.com", "delivered", "2.0.0"), None),
        (rr("ada@example.com", "relayed", "2.0.0"), None),
        (rr("ada@example.com", "expanded", "2.0.0"), None),
    ],
)
def test_dsn_actions(item: ReportRecipient, expected: str | None) -> None:
    events = events_for(Report(kind="dsn", recipients=[item]), candidate(), 0)
    assert [event_type(e) for e in events] == ([expected] if expected else [])


def test_a_delay_is_a_deferred_event() -> None:
    item = rr("ada@example.com", "delayed", "4.4.1", diagnostic="451 4.4.1 no answer")
    [event] = events_for(Report(kind="dsn", recipients=[item]), candidate(), 0)
    assert isinstance(event, Deferred)
    assert event.status == "4.4.1" and event.response == "4.4.1 451 4.4.1 no answer"


def test_an_already_bounced_recipient_is_not_bounced_again() -> None:
    bounced = candidate(recipients=[(0, "ada@example.com", "bounced"), RECIPIENTS[1]])
    report = Report(kind="dsn", recipients=[rr("ada@example.com"), rr("bob@example.com")])
    events = events_for(report, bounced, 0)
    assert [(event_type(e), e.recipient_index) for e in events] == [("bounce", 1)]


@pytest.mark.parametrize(
    ("report", "complained", "expected"),
    [
        (
            Report(
                kind="arf",
                feedback_type="abuse",
                reporter="fbl.isp.test",
                recipients=[rr("bob@example.com", "", "")],
            ),
            frozenset(),
            [1],
        ),
        # redacted recipient: the original's To header
        (Report(kind="arf", original_headers={"to": "Bob <bob@example.com>"}), frozenset(), [1]),
        # already complained: nothing new
        (
            Report(kind="arf", recipients=[rr("bob@example.com", "", "")]),
            frozenset({"bob@example.com"}),
            [],
        ),
        # autoreplies and other mail give no events even when they name a recipient
        (Report(kind="autoreply", recipients=[rr("bob@example.com")]), frozenset(), []),
        (Report(kind="other", recipients=[rr("bob@example.com")]), frozenset(), []),
    ],
)
def test_complaints(report: Report, complained: frozenset[str], expected: list[int]) -> None:
    events = events_for(report, candidate(complained=complained), None)
    assert [e.recipient_index for e in events] == expected
    for event in events:
        assert isinstance(event, SpamReport)
        assert event.feedback_type == (report.feedback_type or "abuse")
        assert event.source == report.reporter
