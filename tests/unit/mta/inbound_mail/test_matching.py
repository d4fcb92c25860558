"""Which message and recipient an inbound report is about, whether the reference may speak
for that message's account, and which events follow: tables of cases."""

from __future__ import annotations

import pytest

from mta.core.events import Bounce, Deferred, SpamReport, event_type
from mta.core.return_path import ReturnPathKeys, new_key, verp_address
from mta.inbound_mail.matching import (
    Candidate,
    Reference,
    authorised,
    bare_address,
    events_for,
    references,
    reported_for,
)
from mta.inbound_mail.parsing.report import Report, ReportRecipient

MSG = "018f00000000aaaabbbbccccdddd"
HOST = "bounces.mail.acme.test"
KEYS = ReturnPathKeys((new_key(),))
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


def signed(index: int, host: str = HOST, message_id: str = MSG) -> str:
    return verp_address(message_id, index, host, KEYS)


@pytest.mark.parametrize(
    ("rcpt_tos", "headers", "fbl", "expected", "refused"),
    [
        ([signed(1)], {}, False, [Reference(message_id=MSG, index=1, host=HOST, via="rcpt")], 0),
        (
            [signed(0, "Bounces.Mail.Acme.Test.").upper()],
            {},
            False,
            [Reference(message_id=MSG, index=0, host=HOST, via="rcpt")],
            0,
        ),
        # the old unsigned form, a changed index, another install's key: refused
        ([f"bounces+{MSG}.1@{HOST}"], {}, False, [], 1),
        ([signed(0).replace(f"{MSG}.0.", f"{MSG}.1.")], {}, False, [], 1),
        ([verp_address(MSG, 1, HOST, ReturnPathKeys((new_key(),)))], {}, False, [], 1),
        # headers alone never name a message, signed or not, unless from a trusted FBL
        (["fbl@in.test"], {"x-scaisend-message-id": f"<{MSG}>"}, False, [], 1),
        (["fbl@in.test"], {"return-path": f"<{signed(1)}>"}, False, [], 0),
        (
            ["fbl@in.test"],
            {"return-path": f"<{signed(1)}>", "x-scaisend-message-id": MSG},
            True,
            [Reference(message_id=MSG, index=1, host=HOST, via="return-path")],
            0,
        ),
        (["fbl@in.test"], {"return-path": f"<bounces+{MSG}.1@{HOST}>"}, True, [], 1),
        (
            [signed(1)],
            {"return-path": f"<{signed(1)}>"},
            True,
            [Reference(message_id=MSG, index=1, host=HOST, via="rcpt")],
            0,
        ),
        (["postmaster@in.test"], {"return-path": "<someone@else.test>"}, True, [], 0),
        (["bounces+nodot@in.test"], {}, False, [], 0),
    ],
)
def test_references(
    rcpt_tos: list[str],
    headers: dict[str, str],
    fbl: bool,
    expected: list[Reference],
    refused: int,
) -> None:
    report = Report(kind="dsn", original_headers=headers)
    found, notes = references(report, rcpt_tos, KEYS, trusted_fbl=fbl)
    assert found == expected
    assert len(notes) == refused, notes


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (HOST, True),
        # another account's return-path host naming our message: a forged cross-account VERP
        ("bounces.evil.test", False),
    ],
)
def test_authorised(host: str, expected: bool) -> None:
    assert authorised(Reference(message_id=MSG, index=0, host=host, via="rcpt"), candidate()) is (
        expected
    )


@pytest.mark.parametrize(
    ("reported", "email", "expected"),
    [
        (["ada@example.com"], "ada@example.com", 0),
        # a DSN to ada's return path naming bob says nothing about bob, nor ada
        (["bob@example.com"], "ada@example.com", None),
        # several recipients in one DSN: only the return path's own
        (["bob@example.com", "ADA@example.com"], "ada@example.com", 1),
        # a sole recipient rewritten by forwarding: the return path's own recipient
        (["ada.forwarded@elsewhere.test"], "ada@example.com", 0),
        # several unknown addresses: no guessing
        (["x@elsewhere.test", "y@elsewhere.test"], "ada@example.com", None),
        ([], "ada@example.com", None),
    ],
)
def test_reported_for(reported: list[str], email: str, expected: int | None) -> None:
    items = [rr(a) for a in reported]
    found = reported_for(items, email, frozenset({"bob@example.com"}))
    assert found is (items[expected] if expected is not None else None)


def test_a_failed_recipient_bounces_with_the_report_s_verdict() -> None:
    item = rr(
        "bob@example.com",
        diagnostic="550 5.1.1 user unknown",
        classification="Invalid Address",
        bounce_type="bounce",
        hard=True,
    )
    [event] = events_for(Report(kind="dsn", recipients=[item]), candidate(), 1)
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
    assert events_for(report, bounced, 0) == []
    events = events_for(report, bounced, 1)
    assert [(event_type(e), e.recipient_index) for e in events] == [("bounce", 1)]


def test_an_index_the_message_does_not_have_gives_nothing() -> None:
    assert events_for(Report(kind="dsn", recipients=[rr("ada@example.com")]), candidate(), 7) == []


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
        # redacted, or naming someone else: the return path's own recipient all the same
        (Report(kind="arf", recipients=[rr("redacted", "", "")]), frozenset(), [1]),
        (Report(kind="arf", recipients=[rr("ada@example.com", "", "")]), frozenset(), [1]),
        # already complained: nothing new
        (
            Report(kind="arf", recipients=[rr("bob@example.com", "", "")]),
            frozenset({"bob@example.com"}),
            [],
        ),
        # a DMARC failure report is no complaint
        (Report(kind="arf", feedback_type="auth-failure"), frozenset(), []),
        # autoreplies and other mail give no events even when they name a recipient
        (Report(kind="autoreply", recipients=[rr("bob@example.com")]), frozenset(), []),
        (Report(kind="other", recipients=[rr("bob@example.com")]), frozenset(), []),
    ],
)
def test_complaints(report: Report, complained: frozenset[str], expected: list[int]) -> None:
    events = events_for(report, candidate(complained=complained), 1)
    assert [e.recipient_index for e in events] == expected
    for event in events:
        assert isinstance(event, SpamReport)
        assert event.feedback_type == (report.feedback_type or "abuse")
        assert event.source == report.reporter
