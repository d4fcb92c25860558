"""Webhook URL policy: the SSRF address guard, URL checks and event-name normalisation."""

from __future__ import annotations

import pytest

from mta.core.errors import ValidationError
from mta.core.events import EVENT_TYPES
from mta.webhooks.guard import target_allowed
from mta.webhooks.sendgrid_settings import apply_flags, settings_view
from mta.webhooks.service import check_url, normalise_events

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
    "2002:c0a8:101::",  # 6to4 of 192.168.1.1
    "::127.0.0.1",  # IPv4-compatible (deprecated) loopback
    "::ffff:7f00:1",  # mapped loopback, hex spelling
    "::ffff:0:7f00:1",  # IPv4-translated (RFC 2765) loopback
    "64:ff9b:1::a00:1",  # local-use NAT64 (RFC 8215)
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001::f5ff:fffe",  # Teredo with a private client address
    "fd00::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "100.100.100.200",  # metadata on some clouds (CGNAT)
    "240.0.0.1",  # reserved
    "not-an-address",
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
        ("https://[2606:2800:220:1:248:1893:25c8:1946]/hook", False),
        ("https://hooks.example.com./trailing-dot", False),
        ("https://0x7f.example.com/hook", False),  # a name, not a number
        ("http://127.0.0.1:9000/hook", True),
        ("https://localhost/hook", True),
    ],
)
def test_check_url_accepts(url: str, allow_private: bool) -> None:
    assert check_url(url, allow_private) == url


@pytest.mark.parametrize(
    ("url", "allow_private", "stored"),
    [
        ("https://b\u00fccher.example/hook", False, "https://xn--bcher-kva.example/hook"),
        (
            "https://\uff28\uff2f\uff2f\uff2b\uff33.example.com:8443/x",
            False,
            "https://hooks.example.com:8443/x",
        ),
        ("http://\u2460\u2461\u2466.0.0.1:9000/hook", True, "http://127.0.0.1:9000/hook"),
        ("https://my_hooks.example.com/x", False, "https://my_hooks.example.com/x"),
    ],
)
def test_check_url_stores_the_idna_form_of_the_host(
    url: str, allow_private: bool, stored: str
) -> None:
    assert check_url(url, allow_private) == stored


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
        ("https://127.0.0.1/x", False, "not allowed"),
        ("https://127.0.0.1./x", False, "not allowed"),
        ("https://0.0.0.0/x", False, "not allowed"),
        ("https://[::1]/x", False, "not allowed"),
        ("https://[::]/x", False, "not allowed"),
        ("https://[::ffff:127.0.0.1]/x", False, "not allowed"),
        ("https://[::ffff:7f00:1]/x", False, "not allowed"),
        ("https://[64:ff9b::7f00:1]/x", False, "not allowed"),
        ("https://[64:ff9b::a9fe:a9fe]/x", False, "not allowed"),
        ("https://[2002:7f00:1::]/x", False, "not allowed"),
        ("https://[::127.0.0.1]/x", False, "not allowed"),
        ("https://[fd00::1]/x", False, "not allowed"),
        ("https://169.254.169.254/latest/meta-data", False, "not allowed"),
        ("https://100.64.0.1/x", False, "not allowed"),
        ("https://[fe80::1%25lo]/x", False, "IPv6 zone"),
        ("https://[fe80::1%25lo]/x", True, "IPv6 zone"),
        ("https://2130706433/x", False, "non-standard spelling"),
        ("https://0x7f000001/x", False, "non-standard spelling"),
        ("https://0177.0.0.1/x", False, "non-standard spelling"),
        ("https://127.1/x", False, "non-standard spelling"),
        ("https://0x7f.0.0.1/x", False, "non-standard spelling"),
        ("https://localhost/x", False, "localhost"),
        ("https://LOCALHOST./x", False, "localhost"),
        ("https://api.localhost/x", False, "localhost"),
        ("https://hooks.example.com:22/x", False, "port 22"),
        ("https://hooks.example.com:99999/x", False, "not a valid URL"),
        # Hosts judged in their IDNA (UTS 46) form, as clients connect to them.
        ("https://\u2460\u2461\u2466.0.0.1/x", False, "127.0.0.1 is not allowed"),
        ("https://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/x", False, "not allowed"),
        ("https://\u2460\u2461\u2466.1/x", False, "non-standard spelling"),
        ("https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/x", False, "localhost"),
        ("https://hooks..example.com/x", False, "not a valid host name"),
        ("https://xn--zz.example.com/x", False, "not a valid host name"),
        ("https://-hooks.example.com/x", False, "not a valid host name"),
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


@pytest.mark.parametrize(
    ("current", "flags", "expected"),
    [
        ([], {"delivered": True}, ["delivered"]),
        (["delivered"], {"delivered": False, "bounce": True}, ["bounce"]),
        (["open"], {"spam_report": True, "oauth_client_id": True}, ["open", "spam_report"]),
        (["open"], {}, ["open"]),
    ],
)
def test_sendgrid_event_flags(
    current: list[str], flags: dict[str, bool], expected: list[str]
) -> None:
    assert apply_flags(current, flags) == expected


def test_sendgrid_settings_view_has_a_flag_per_event_type() -> None:
    view = settings_view(None)
    assert view["enabled"] is False and view["url"] == ""
    assert {k for k, v in view.items() if v is False} >= set(EVENT_TYPES)
