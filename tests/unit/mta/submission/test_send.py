"""Intake.send with fakes around it: per-personalization senders, sandbox mode, and that a
refused request leaves nothing in the spool, the scheduler or the message log."""

from __future__ import annotations

import base64
import email
import email.policy
import logging
from email.message import EmailMessage
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mta.core.errors import PermissionDenied, ValidationError
from mta.db.models import Domain
from mta.services.identity import Principal
from mta.submission.pipeline import Intake
from mta.submission.send_request.request import MailSend
from queue_store.entries import QueueEntry

PEM = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)
PRINCIPAL = Principal(
    account_id="acc", kind="api_key", subject="k", scopes=frozenset({"mail.send"}), api_key_id="k1"
)


def _domain(name: str, verified: bool = True) -> Domain:
    return Domain(
        id=f"id-{name}",
        domain=name,
        dkim_selector="s1",
        dkim_private_key=PEM,
        return_path_host=f"rp.{name}",
        verified=verified,
    )


class Fakes:
    def __init__(self) -> None:
        self.put: list[tuple[QueueEntry, bytes]] = []
        self.enqueued: list[QueueEntry] = []
        self.logged: list[Any] = []
        self.events: list[Any] = []
        self.domains = {
            d.domain: d for d in (_domain("mail.example.com"), _domain("news.example.com"))
        }

    async def put_entry(self, entry: QueueEntry, content: bytes) -> None:
        self.put.append((entry, content))

    async def remove(self, queue_id: str) -> None:
        self.put = [p for p in self.put if p[0].envelope.queue_id != queue_id]

    def enqueue(self, entry: QueueEntry, content: bytes | None = None) -> None:
        self.enqueued.append(entry)

    def accepted(self, entry: Any) -> None:
        self.logged.append(entry)

    def emit(self, event: Any) -> None:
        self.events.append(event)

    async def sending_domain(self, account_id: str, domain: str) -> Domain | None:
        return self.domains.get(domain)

    async def active_version(self, account_id: str, template_id: str) -> Any:
        raise ValidationError("no such template", field="template_id")

    @property
    def untouched(self) -> bool:
        return not (self.put or self.enqueued or self.logged or self.events)


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
def intake(fakes: Fakes) -> Intake:
    store = type("Store", (), {"put": fakes.put_entry, "remove": fakes.remove})()
    return Intake(store, fakes, fakes, fakes, fakes)  # type: ignore[arg-type]


def _request(**overrides: Any) -> MailSend:
    data: dict[str, Any] = {
        "personalizations": [
            {"to": [{"email": "ada@example.com"}], "cc": [{"email": "cc@example.com"}]},
            {
                "to": [{"email": "bob@example.com"}],
                "from": {"email": "editor@news.example.com", "name": "News"},
                "substitutions": {"-name-": "Bob"},
            },
        ],
        "from": {"email": "hello@mail.example.com"},
        "subject": "Hi -name-",
        "content": [
            {"type": "text/plain", "value": "Hello -name-"},
            {"type": "text/html", "value": "<p>Hello -name- <img src='cid:logo'></p>"},
        ],
        "attachments": [
            {
                "content": base64.b64encode(b"\x89PNG").decode(),
                "filename": "logo.png",
                "type": "image/png",
                "disposition": "inline",
                "content_id": "logo",
            },
            {
                "content": base64.b64encode(b"%PDF").decode(),
                "filename": "r\u00e9sum\u00e9.pdf",
                "type": "application/pdf",
            },
        ],
    }
    data.update(overrides)
    return msgspec.convert(data, MailSend)


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_each_personalization_is_sent_from_its_own_sender(
    intake: Intake, fakes: Fakes
) -> None:
    message_id = await intake.send(PRINCIPAL, _request())
    assert message_id is not None
    assert [e.envelope.queue_id for e, _ in fakes.put] == [f"{message_id}-0", f"{message_id}-1"]
    first, second = (entry for entry, _ in fakes.put)
    assert (first.envelope.sender, first.envelope.sender_domain) == (
        "hello@mail.example.com",
        "mail.example.com",
    )
    assert (second.envelope.sender, second.envelope.return_path_host) == (
        "editor@news.example.com",
        "rp.news.example.com",
    )
    assert [(r.email, r.index) for e in (first, second) for r in e.recipients] == [
        ("ada@example.com", 0),
        ("cc@example.com", 1),
        ("bob@example.com", 2),
    ]
    one, two = (_parse(content) for _, content in fakes.put)
    assert "d=mail.example.com;" in str(one["DKIM-Signature"]).replace(" ", "")
    assert "d=news.example.com;" in str(two["DKIM-Signature"]).replace(" ", "")
    assert (one["From"], two["From"]) == (
        "hello@mail.example.com",
        "News <editor@news.example.com>",
    )
    assert (one["Subject"], two["Subject"]) == ("Hi -name-", "Hi Bob")
    assert [p.get_content_type() for p in two.walk()] == [
        "multipart/mixed",
        "multipart/related",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "image/png",
        "application/pdf",
    ]
    assert fakes.logged[0].from_email == "hello@mail.example.com"
    assert len(fakes.enqueued) == 2 and len(fakes.events) == 3


async def test_a_personalization_sender_must_be_authorised(intake: Intake, fakes: Fakes) -> None:
    request = _request()
    assert request.personalizations[1].from_ is not None
    request.personalizations[1].from_.email = "x@elsewhere.example.org"
    with pytest.raises(PermissionDenied) as failure:
        await intake.send(PRINCIPAL, request)
    assert failure.value.field == "personalizations.1.from"
    assert fakes.untouched


async def test_an_unverified_personalization_sender_needs_a_test_key(
    intake: Intake, fakes: Fakes
) -> None:
    fakes.domains["news.example.com"] = _domain("news.example.com", verified=False)
    with pytest.raises(PermissionDenied, match="not verified"):
        await intake.send(PRINCIPAL, _request())
    assert fakes.untouched
    test_key = msgspec.structs.replace(PRINCIPAL, environment="test")
    assert await intake.send(test_key, _request()) is not None


async def test_sandbox_mode_checks_everything_and_queues_nothing(
    intake: Intake, fakes: Fakes
) -> None:
    sandbox = {"sandbox_mode": {"enable": True}}
    assert await intake.send(PRINCIPAL, _request(mail_settings=sandbox)) is None
    assert fakes.untouched
    bad = _request(mail_settings=sandbox)
    bad.attachments[1].content = "not base64!"
    with pytest.raises(ValidationError) as failure:
        await intake.send(PRINCIPAL, bad)
    assert failure.value.field == "attachments.1.content"
    injected = _request(mail_settings=sandbox)
    injected.personalizations[1].substitutions["-name-"] = "Bob\r\nBcc: victim@example.org"
    with pytest.raises(ValidationError):
        await intake.send(PRINCIPAL, injected)
    assert fakes.untouched


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda r: r.personalizations[1].substitutions.update(
                {"-name-": "B\nBcc: v@example.org"}
            ),
            "personalizations.1.substitutions",
        ),
        (lambda r: setattr(r, "subject", "Hi\r\nBcc: v@example.org"), "subject"),
        (lambda r: r.headers.update({"X-A": "b\r\nBcc: v@example.org"}), "headers.X-A"),
        (lambda r: r.headers.update({"X-A\r\nBcc": "v@example.org"}), "headers.X-A\r\nBcc"),
        (
            lambda r: setattr(r.personalizations[0].to[0], "name", "A\u2028Bcc: v@example.org"),
            "personalizations.0.to.0.name",
        ),
        (lambda r: setattr(r.attachments[0], "filename", "a\r\nb.png"), "attachments.0.filename"),
        (lambda r: setattr(r.attachments[0], "content_id", "l\nogo"), "attachments.0.content_id"),
        (lambda r: r.categories.append("c\r\nX: y"), "categories.0"),
        (lambda r: r.custom_args.update({"k": "v\0"}), "custom_args.k"),
    ],
)
async def test_injection_is_refused_before_anything_is_queued(
    intake: Intake, fakes: Fakes, change: Any, field: str
) -> None:
    request = _request()
    change(request)
    with pytest.raises(ValidationError) as failure:
        await intake.send(PRINCIPAL, request)
    assert failure.value.field == field
    assert fakes.untouched


async def test_each_processed_recipient_is_logged_with_its_queue_id_and_destination(
    intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="mta.submission.pipeline"):
        message_id = await intake.send(PRINCIPAL, _request())
    lines = [r.getMessage() for r in caplog.records if "event=processed" in r.getMessage()]
    assert lines == [
        f"event=processed message_id={message_id} queue_id={message_id}-0 rcpt_index=0 "
        "destination=example.com",
        f"event=processed message_id={message_id} queue_id={message_id}-0 rcpt_index=1 "
        "destination=example.com",
        f"event=processed message_id={message_id} queue_id={message_id}-1 rcpt_index=2 "
        "destination=example.com",
    ]
