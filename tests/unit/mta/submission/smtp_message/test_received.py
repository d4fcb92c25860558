"""The Received header for SMTP submissions: Postfix's layout, RFC 3848 protocol names, TLS
details, a safe EHLO name, and a value the email package parses back."""

from __future__ import annotations

import email.policy
import email.utils
from datetime import UTC, datetime, timedelta, timezone
from email.parser import BytesParser

import pytest

from mta.core.model import SessionTrace
from mta.submission.mime import received_count, stamp_submitted
from mta.submission.smtp_message.received import address_text, helo_text, protocol, received_header

WHEN = datetime(2024, 3, 18, 10, 15, 43, tzinfo=UTC)
TLS13 = {"tls_version": "TLSv1.3", "tls_cipher": "TLS_AES_256_GCM_SHA384", "tls_bits": 256}


def trace(**fields: object) -> SessionTrace:
    base: dict[str, object] = {
        "helo": "client.example",
        "client_ip": "192.0.2.1",
        "hostname": "smtp.scaisend.example",
    }
    return SessionTrace(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {**TLS13, "authenticated": True},
            "Received: from client.example (unknown [192.0.2.1])\r\n"
            "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
            "\tby smtp.scaisend.example (ScaiSend) with ESMTPSA id m1;\r\n"
            "\tMon, 18 Mar 2024 10:15:43 +0000",
        ),
        (
            {
                "tls_version": "TLSv1.2",
                "tls_cipher": "ECDHE-RSA-AES128-GCM-SHA256",
                "tls_bits": 128,
            },
            "Received: from client.example (unknown [192.0.2.1])\r\n"
            "\t(using TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits))\r\n"
            "\tby smtp.scaisend.example (ScaiSend) with ESMTPS id m1;\r\n"
            "\tMon, 18 Mar 2024 10:15:43 +0000",
        ),
        (
            {"client_ip": "2001:db8::1"},
            "Received: from client.example (unknown [IPv6:2001:db8::1])\r\n"
            "\tby smtp.scaisend.example (ScaiSend) with ESMTP id m1;\r\n"
            "\tMon, 18 Mar 2024 10:15:43 +0000",
        ),
        (
            {"helo": "", "client_ip": "", "esmtp": False},
            "Received: from unknown (unknown unknown)\r\n"
            "\tby smtp.scaisend.example (ScaiSend) with SMTP id m1;\r\n"
            "\tMon, 18 Mar 2024 10:15:43 +0000",
        ),
    ],
)
def test_received_header(fields: dict[str, object], expected: str) -> None:
    assert received_header(trace(**fields), "m1", WHEN) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "ESMTP"),
        ({"esmtp": False}, "SMTP"),
        ({"tls_version": "TLSv1.3"}, "ESMTPS"),
        ({"authenticated": True}, "ESMTPA"),
        ({"tls_version": "TLSv1.3", "authenticated": True}, "ESMTPSA"),
        ({"esmtp": False, "tls_version": "TLSv1.3", "authenticated": True}, "SMTPSA"),
    ],
)
def test_protocol(fields: dict[str, object], expected: str) -> None:
    assert protocol(trace(**fields)) == expected


@pytest.mark.parametrize(
    ("helo", "expected"),
    [
        ("client.example", "client.example"),
        ("[192.0.2.1]", "[192.0.2.1]"),
        ("[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]"),
        ("  spaced.example ", "spaced.example"),
        ("evil (x); Mon, 1 Jan 2024", "evil??x???Mon??1?Jan?2024"),
        ("caf\u00e9.example", "caf?.example"),
        ("a" * 300, "a" * 255),
        ("", "unknown"),
    ],
)
def test_helo_text(helo: str, expected: str) -> None:
    assert helo_text(helo) == expected


@pytest.mark.parametrize(
    ("ip", "expected"),
    [("192.0.2.1", "[192.0.2.1]"), ("::1", "[IPv6:::1]"), ("", "unknown")],
)
def test_address_text(ip: str, expected: str) -> None:
    assert address_text(ip) == expected


def test_the_date_is_converted_to_the_given_zone() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert received_header(trace(), "m1", local).endswith("Mon, 18 Mar 2024 12:15:43 +0200")


def test_stamped_message_carries_one_parseable_received_on_top() -> None:
    original = b"Received: from earlier.example by relay.example\r\nFrom: a@b.example\r\n\r\nhi\r\n"
    header = received_header(trace(**TLS13, authenticated=True), "m1", WHEN)
    stamped = stamp_submitted(
        original, message_id="m1", domain="b.example", present={}, received=header
    )
    assert received_count(original) == 1 and received_count(stamped) == 2
    message = BytesParser(policy=email.policy.SMTP).parsebytes(stamped)
    top = str(message.get_all("Received", [])[0])
    assert top.startswith("from client.example (unknown [192.0.2.1])")
    assert "with ESMTPSA id m1;" in top
    date = top.rpartition(";")[2].strip()
    assert email.utils.parsedate_to_datetime(date) == WHEN
    assert stamped.splitlines()[0].startswith(b"Received: from client.example")
