"""What a reload takes over: the changed keys split into applied and needs-restart, and the
settings the server runs on afterwards (restart-only keys at their old value)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from config.loader import settings_from_mapping
from config.reload import SettingsChange, diff_settings, effective_settings, reloadable
from config.settings import Settings

BASE: dict[str, Any] = {
    "http": {"listen": "127.0.0.1:8080"},
    "smtp": {"hostname": "mx.example.com"},
}


def settings(**sections: dict[str, Any]) -> Settings:
    data = {name: dict(keys) for name, keys in BASE.items()}
    for name, keys in sections.items():
        data.setdefault(name, {}).update(keys)
    return settings_from_mapping(data)


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        ({}, SettingsChange()),
        (
            {"delivery": {"routes": {"example.com": "relay.test:2525"}}},
            SettingsChange(applied=("delivery.routes",)),
        ),
        (
            {"delivery": {"destinations": {"example.com": {"tls_policy": "verify"}}}},
            SettingsChange(applied=("delivery.destinations",)),
        ),
        (
            {"delivery": {"destination_concurrency": 2, "tls_policy": "require"}},
            SettingsChange(applied=("delivery.destination_concurrency", "delivery.tls_policy")),
        ),
        (
            {"http": {"rate_limit_per_second": 1.0, "rate_limit_burst": 3}},
            SettingsChange(applied=("http.rate_limit_per_second", "http.rate_limit_burst")),
        ),
        (
            {"smtp": {"max_connections_per_client": 3, "auth_failure_limit": 2}},
            SettingsChange(applied=("smtp.max_connections_per_client", "smtp.auth_failure_limit")),
        ),
        (
            {"smtp": {"relay_networks": ["10.0.0.0/8"], "relay_account": "relay"}},
            SettingsChange(applied=("smtp.relay_networks", "smtp.relay_account")),
        ),
        (
            {"log": {"level": "debug", "format": "json"}},
            SettingsChange(applied=("log.level", "log.format")),
        ),
        (
            {"server": {"shutdown_grace_seconds": 5.0}},
            SettingsChange(("server.shutdown_grace_seconds",)),
        ),
        ({"http": {"listen": "127.0.0.1:9090"}}, SettingsChange(restart=("http.listen",))),
        ({"http": {"metrics_token": "t"}}, SettingsChange(restart=("http.metrics_token",))),
        ({"smtp": {"hostname": "mx2.example.com"}}, SettingsChange(restart=("smtp.hostname",))),
        (
            {"smtp": {"submission_listen": "127.0.0.1:2588", "max_message_bytes": 1000}},
            SettingsChange(restart=("smtp.submission_listen", "smtp.max_message_bytes")),
        ),
        (
            {"storage": {"data_dir": "/srv/x", "database_url": "sqlite+aiosqlite:///x.db"}},
            SettingsChange(restart=("storage.data_dir", "storage.database_url")),
        ),
        ({"auth": {"jwt_secret": "s" * 32}}, SettingsChange(restart=("auth.jwt_secret",))),
        ({"dns": {"timeout_seconds": 1.0}}, SettingsChange(restart=("dns.timeout_seconds",))),
        ({"tracking": {"secret": "t"}}, SettingsChange(restart=("tracking.secret",))),
        (
            {"webhooks": {"max_concurrency": 2}},
            SettingsChange(restart=("webhooks.max_concurrency",)),
        ),
        (
            {"log": {"level": "warning"}, "storage": {"data_dir": "/srv/x"}},
            SettingsChange(applied=("log.level",), restart=("storage.data_dir",)),
        ),
    ],
)
def test_diff_settings(new: dict[str, Any], expected: SettingsChange) -> None:
    assert diff_settings(settings(), settings(**new)) == expected


def test_every_key_is_one_or_the_other_and_listen_addresses_need_a_restart() -> None:
    defaults = Settings()
    keys = [
        f"{section}.{key}"
        for section in defaults.__struct_fields__
        for key in getattr(defaults, section).__struct_fields__
    ]
    restart = {key for key in keys if not reloadable(key)}
    assert {"http.listen", "smtp.mx_listen", "storage.data_dir", "smtp.tls_cert"} <= restart
    assert {"delivery.routes", "log.level", "http.rate_limit_burst"}.isdisjoint(restart)


def test_effective_settings_keep_restart_only_keys() -> None:
    old = settings()
    new = settings(
        http={"listen": "127.0.0.1:9090", "rate_limit_burst": 5},
        storage={"data_dir": "/elsewhere"},
        delivery={"routes": {"Example.COM.": "relay.test"}},
        log={"level": "debug"},
    )
    running = effective_settings(old, new)
    assert running.http.listen == "127.0.0.1:8080"
    assert running.storage.data_dir == old.storage.data_dir
    assert running.http.rate_limit_burst == 5
    assert running.delivery.routes == {"example.com": "relay.test"}
    assert running.log.level == "debug"
    assert diff_settings(old, running) == SettingsChange(
        applied=("http.rate_limit_burst", "delivery.routes", "log.level")
    )


def test_effective_settings_are_valid_settings() -> None:
    old = settings(smtp={"proxy_protocol": ["mx"], "proxy_networks": ["10.0.0.1/32"]})
    new = settings(smtp={"relay_networks": ["192.0.2.0/24"], "relay_account": "relay"})
    running = effective_settings(old, new)
    assert running.smtp.proxy_protocol == ["mx"] and running.smtp.proxy_networks == ["10.0.0.1/32"]
    assert running.smtp.relay_networks == ["192.0.2.0/24"]
    assert msgspec.convert(msgspec.to_builtins(running), Settings) == running


def test_unchanged_settings_reload_to_themselves() -> None:
    old = settings(delivery={"routes": {"*": "smarthost.test:587"}})
    assert effective_settings(old, old) == old
    assert diff_settings(old, old) == SettingsChange()
