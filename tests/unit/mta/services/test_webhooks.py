"""Webhook URL policy: the SSRF address guard, URL checks and event-name normalisation."""

from __future__ import annotations

import pytest

from mta.errors import ValidationError
from mta.events.model import EVENT_TYPES
from mta.services.webhooks import check_url, normalise_events, target_allowed

PUBLIC = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2001:4860:4860::8888",
    "::ffff:93.184.216.34",  # IPv4-mapped public address
]

REFUSED = [
    "127.0.0.1",  # loopback
    "127.1.2.3",
    "10.0.0.1",  # RFC 1918
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",  # link-local, cloud metadata
    "100.64.0.1",  # CGNAT shared space
    "100.127.255.254",
    "0.0.0.0",
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456:789a::1",
    "ff02::1",
    "ff0e::1",  # global-scope multicast
    "2001:db8::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:1::",  # 6to4 of 10.0.0.1
]


@pytest.mark.parametrize("address", PUBLIC)
def test_public_targets_are_allowed(address: str) -> None:
    assert target_allowed(address, allow_private=False) is True


@pytest.mark.parametrize("address", REFUSED)
def test_private_targets_are_refused(address: str) -> None:
    assert target_allowed(address, allow_private=False) is False


@pytest.mark.parametrize("address", PUBLIC + REFUSED)
def test_allow_private_allows_everything(address: str) -> None:
    assert target_allowed(address, allow_private=True) is True


@pytest.mark.parametrize(
    ("url", "allow_private"),
    [
        ("https://hooks.example.com/scaisend", False),
        ("https://hooks.example.com:8443/x?y=1", False),
        ("HTTPS://Hooks.Example.com/", False),
        ("https://93.184.216.34/hook", False),
        ("https://[2001:db8::1]/hook", False),
        ("http://127.0.0.1:9000/hook", True),
        ("https://localhost/hook", True),
    ],
)
def test_check_url_accepts(url: str, allow_private: bool) -> None:
    assert check_url(url, allow_private) == url


@pytest.mark.parametrize(
    ("url", "allow_private", "message"),
    [
        ("http://hooks.example.com/x", False, "must use https"),
        ("ftp://hooks.example.com/x", False, "must use https"),
        ("ftp://hooks.example.com/x", True, "must use https"),
        ("file:///etc/passwd", True, "must use https"),
        ("hooks.example.com/x", False, "must use https"),
        ("", False, "must use https"),
        ("https://user:secret@hooks.example.com/x", False, "no credentials"),
        ("https://user@hooks.example.com/x", False, "no credentials"),
        ("http://user:pw@127.0.0.1/x", True, "no credentials"),
        ("https:///path-only", False, "must name a host"),
        ("https://", False, "must name a host"),
    ],
)
def test_check_url_refuses(url: str, allow_private: bool, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as failure:
        check_url(url, allow_private)
    assert failure.value.field == "url"


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (["delivered"], ["delivered"]),
        (["processed", "delivered", "bounce"], ["bounce", "delivered", "processed"]),
        (["spamreport"], ["spam_report"]),
        (["spam_report", "spamreport", "spam_report"], ["spam_report"]),
        (
            ["unsubscribe", "group_unsubscribe", "open", "click"],
            ["click", "group_unsubscribe", "open", "unsubscribe"],
        ),
        (sorted(EVENT_TYPES), sorted(EVENT_TYPES)),
    ],
)
def test_normalise_events(events: list[str], expected: list[str]) -> None:
    assert normalise_events(events) == expected


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "must not be empty"),
        (["bogus"], "unknown event type 'bogus'"),
        (["delivered", "Delivered"], "unknown event type 'Delivered'"),
        (["delivered", "bounced"], "unknown event type 'bounced'"),
        (["spam-report"], "unknown event type 'spam-report'"),
    ],
)
def test_normalise_events_refuses(events: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as failure:
        normalise_events(events)
    assert failure.value.field == "enabled_events"
