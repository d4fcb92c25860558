"""The settings schema: `parse_hostport` and the per-section checks in `__post_init__`."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from config.settings import (
    DeliverySettings,
    DnsSettings,
    HttpSettings,
    LogSettings,
    Settings,
    SmtpSettings,
    StorageSettings,
    parse_hostport,
)


@pytest.mark.parametrize(
    ("value", "default_port", "expected"),
    [
        ("127.0.0.1:25", None, ("127.0.0.1", 25)),
        ("mail.example.com:2525", None, ("mail.example.com", 2525)),
        ("  mail.example.com:587  ", None, ("mail.example.com", 587)),
        ("h:1", None, ("h", 1)),
        ("h:65535", None, ("h", 65535)),
        ("[::1]:25", None, ("::1", 25)),
        ("[2001:db8::1]:2525", None, ("2001:db8::1", 2525)),
        ("[::1]", 53, ("::1", 53)),
        ("::1", 53, ("::1", 53)),
        ("2001:db8::53", 53, ("2001:db8::53", 53)),
        ("10.0.0.53", 53, ("10.0.0.53", 53)),
        ("relay.example.net", 25, ("relay.example.net", 25)),
        ("relay.example.net:2526", 25, ("relay.example.net", 2526)),
    ],
)
def test_parse_hostport_accepts(
    value: str, default_port: int | None, expected: tuple[str, int]
) -> None:
    assert parse_hostport(value, default_port) == expected


@pytest.mark.parametrize(
    ("value", "default_port", "message"),
    [
        ("mail.example.com", None, "expected host:port"),
        ("[::1]", None, "expected host:port"),
        ("::1", None, "expected host:port"),
        ("h:0", None, "bad port"),
        ("h:65536", None, "bad port"),
        ("h:99999", 25, "bad port"),
        ("h:-1", None, "bad port"),
        ("h:+25", None, "bad port"),
        ("h:abc", None, "bad port"),
        ("h: 25", None, "bad port"),
        ("[::1]:0", None, "bad port"),
        ("[::1]:x", None, "bad port"),
        (":25", None, "no host"),
        ("", 25, "no host"),
        ("   ", 25, "no host"),
        ("[]:25", None, "no host"),
        ("[::1", 25, "bad address"),
        ("[::1]25", 25, "bad address"),
        ("[::1]x:25", 25, "bad address"),
    ],
)
def test_parse_hostport_refuses(value: str, default_port: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hostport(value, default_port)


def test_parse_hostport_refuses_non_ascii_digits() -> None:
    with pytest.raises(ValueError, match="bad port"):
        parse_hostport("h:\u0663", 25)  # ARABIC-INDIC DIGIT THREE


@pytest.mark.parametrize("value", ["relay.example.net:", "[::1]:"])
def test_parse_hostport_refuses_empty_port_after_colon(value: str) -> None:
    with pytest.raises(ValueError):
        parse_hostport(value, 25)


def _refusal(kind: type[Any], data: dict[str, Any]) -> str:
    with pytest.raises(msgspec.ValidationError) as failure:
        msgspec.convert(data, kind)
    return str(failure.value)


@pytest.mark.parametrize(
    ("kind", "data", "starts_with"),
    [
        (HttpSettings, {"listen": "localhost"}, "listen: bad address"),
        (HttpSettings, {"listen": ""}, "listen: bad address"),
        (HttpSettings, {"max_body_bytes": 0}, "max_body_bytes: must be at least 1"),
        (HttpSettings, {"rate_limit_per_second": 0}, "rate_limit_per_second: must be above 0"),
        (HttpSettings, {"rate_limit_per_second": -1.5}, "rate_limit_per_second: must be above"),
        (HttpSettings, {"rate_limit_per_second": 2e6}, "rate_limit_per_second: must be above"),
        (HttpSettings, {"rate_limit_burst": 0}, "rate_limit_burst: must be between 1"),
        (HttpSettings, {"rate_limit_burst": 10**8}, "rate_limit_burst: must be between 1"),
        (SmtpSettings, {"submission_listen": "x:0"}, "submission_listen: bad port"),
        (SmtpSettings, {"smtps_listen": "nohost"}, "smtps_listen: bad address"),
        (SmtpSettings, {"mx_listen": "[::1"}, "mx_listen: bad address"),
        (SmtpSettings, {"tls_cert": "/c.pem"}, "tls_key: tls_cert and tls_key"),
        (SmtpSettings, {"tls_key": "/k.pem"}, "tls_key: tls_cert and tls_key"),
        (SmtpSettings, {"hostname": ""}, "hostname: bad hostname"),
        (SmtpSettings, {"hostname": "mail example"}, "hostname: bad hostname"),
        (SmtpSettings, {"max_connections": 0}, "max_connections: must be at least 1"),
        (SmtpSettings, {"max_connections_per_client": 0}, "max_connections_per_client: must"),
        (SmtpSettings, {"max_messages_per_connection": -1}, "max_messages_per_connection: must"),
        (SmtpSettings, {"auth_failure_limit": 0}, "auth_failure_limit: must be at least 1"),
        (SmtpSettings, {"auth_failure_window_seconds": 0}, "auth_failure_window_seconds: must"),
        (SmtpSettings, {"auth_failure_delay_seconds": -0.5}, "auth_failure_delay_seconds: must"),
        (SmtpSettings, {"proxy_protocol_timeout_seconds": 0}, "proxy_protocol_timeout_seconds:"),
        (SmtpSettings, {"proxy_networks": ["10.0.0.0/33"]}, "proxy_networks: '10.0.0.0/33'"),
        (SmtpSettings, {"proxy_protocol": ["mx"]}, "proxy_networks: must list the proxies"),
        (SmtpSettings, {"proxy_protocol": ["pop3"]}, "Invalid enum value 'pop3'"),
        (StorageSettings, {"database_url": "scaisend.db"}, "database_url:"),
        (DnsSettings, {"nameservers": ["1.1.1.1", "1.1.1.1:0"]}, "nameservers: bad port"),
        (DnsSettings, {"nameservers": [":53"]}, "nameservers: bad address"),
        (DeliverySettings, {"smtp_port": 0}, "smtp_port: bad port"),
        (DeliverySettings, {"smtp_port": 65536}, "smtp_port: bad port"),
        (DeliverySettings, {"routes": {"a.example": "h:x"}}, "routes: route for 'a.example'"),
        (DeliverySettings, {"concurrency": 0}, "concurrency: must be at least 1"),
        (DeliverySettings, {"retry_schedule_seconds": []}, "retry_schedule_seconds: must not"),
        (LogSettings, {"level": "verbose"}, "level: bad level"),
        (LogSettings, {"format": "text"}, "format: bad format"),
    ],
)
def test_section_checks_name_the_key(
    kind: type[Any], data: dict[str, Any], starts_with: str
) -> None:
    assert _refusal(kind, data).startswith(starts_with)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (HttpSettings, {"rate_limit_per_second": 0.2, "rate_limit_burst": 1}),
        (HttpSettings, {"rate_limit_per_second": 1_000_000.0, "rate_limit_burst": 10_000_000}),
        (SmtpSettings, {"submission_listen": "", "smtps_listen": "", "mx_listen": ""}),
        (SmtpSettings, {"tls_cert": "/c.pem", "tls_key": "/k.pem"}),
        (SmtpSettings, {"proxy_protocol": ["smtps", "mx"], "proxy_networks": ["10.0.0.0/8"]}),
        (SmtpSettings, {"auth_failure_delay_seconds": 0.0, "max_connections_per_client": 1}),
        (StorageSettings, {"database_url": "postgresql+asyncpg://u:p@db/scaisend"}),
        (DnsSettings, {"nameservers": ["127.0.0.1:5353", "::1", "[::1]:53", "9.9.9.9"]}),
        (DeliverySettings, {"routes": {"*": "smarthost", "a.example": "[::1]:2525"}}),
        (LogSettings, {"level": "DEBUG", "format": "json"}),
    ],
)
def test_section_checks_accept(kind: type[Any], data: dict[str, Any]) -> None:
    converted = msgspec.convert(data, kind)
    for key, value in data.items():
        assert getattr(converted, key) == value


def test_defaults_pass_their_own_checks() -> None:
    settings = Settings()
    assert settings.delivery.smtp_port == 25
    assert settings.smtp.hostname == "localhost"
    assert msgspec.convert(msgspec.to_builtins(settings), Settings) == settings
