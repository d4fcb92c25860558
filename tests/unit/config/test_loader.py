"""Loading settings: the example file equals the defaults, environment overrides, and every
error naming the key it is about."""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from config.loader import (
    ConfigError,
    apply_env_overrides,
    load_settings,
    parse_env_value,
    settings_from_mapping,
)
from config.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "scaisend.example.toml"


def test_example_file_loads_to_the_defaults() -> None:
    """With its data_dir, relative in the file, relative to the file's directory."""
    loaded = load_settings(EXAMPLE, environ={})
    assert loaded.storage.data_dir == str(EXAMPLE.parent / "var")
    loaded.storage.data_dir = Settings().storage.data_dir
    assert loaded == Settings()


def test_example_file_documents_every_key_with_its_default() -> None:
    with EXAMPLE.open("rb") as handle:
        documented = tomllib.load(handle)
    assert documented == msgspec.to_builtins(Settings())


def test_no_file_and_no_environment_is_the_defaults() -> None:
    assert load_settings(None, environ={}) == Settings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25", 25),
        ("2.5", 2.5),
        ("true", True),
        ("false", False),
        ('["127.0.0.1:5353"]', ["127.0.0.1:5353"]),
        ("[60, 120]", [60, 120]),
        ('{ "a.example" = "relay:2525" }', {"a.example": "relay:2525"}),
        ('"12345"', "12345"),
        ("'quoted'", "quoted"),
        ("mail.example.com", "mail.example.com"),
        ("127.0.0.1:9000", "127.0.0.1:9000"),
        ("postgresql+asyncpg://u:p@db/x", "postgresql+asyncpg://u:p@db/x"),
        ("two words", "two words"),
        ("", ""),
        ("2024-01-02", datetime.date(2024, 1, 2)),
    ],
)
def test_parse_env_value(text: str, expected: Any) -> None:
    value = parse_env_value(text)
    assert value == expected
    assert type(value) is type(expected)


def _get(settings: Settings, path: str) -> Any:
    section, key = path.split(".")
    return getattr(getattr(settings, section), key)


@pytest.mark.parametrize(
    ("environ", "path", "expected"),
    [
        ({"SCAISEND__DELIVERY__SMTP_PORT": "2526"}, "delivery.smtp_port", 2526),
        ({"SCAISEND__SMTP__HOSTNAME": "mail.example.com"}, "smtp.hostname", "mail.example.com"),
        ({"SCAISEND__HTTP__LISTEN": "0.0.0.0:8081"}, "http.listen", "0.0.0.0:8081"),
        ({"SCAISEND__HTTP__LISTEN": "[::1]:8081"}, "http.listen", "[::1]:8081"),
        ({"SCAISEND__SMTP__MX_LISTEN": ""}, "smtp.mx_listen", ""),
        (
            {"SCAISEND__WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true"},
            "webhooks.allow_private_targets",
            True,
        ),
        (
            {"SCAISEND__DNS__NAMESERVERS": '["127.0.0.1:5353"]'},
            "dns.nameservers",
            ["127.0.0.1:5353"],
        ),
        ({"SCAISEND__DNS__TIMEOUT_SECONDS": "0.5"}, "dns.timeout_seconds", 0.5),
        ({"SCAISEND__DNS__TIMEOUT_SECONDS": "2"}, "dns.timeout_seconds", 2.0),
        (
            {"SCAISEND__SMTP__INBOUND_DOMAINS": '["a.example", "b.example"]'},
            "smtp.inbound_domains",
            ["a.example", "b.example"],
        ),
        (
            {"SCAISEND__DELIVERY__ROUTES": '{ "*" = "smarthost:2525" }'},
            "delivery.routes",
            {"*": "smarthost:2525"},
        ),
        (
            {"SCAISEND__DELIVERY__RETRY_SCHEDULE_SECONDS": "[1, 2]"},
            "delivery.retry_schedule_seconds",
            [1, 2],
        ),
        (
            {"SCAISEND__AUTH__JWT_SECRET": '"0123456789abcdef0123456789abcdef"'},
            "auth.jwt_secret",
            "0123456789abcdef0123456789abcdef",
        ),
        ({"SCAISEND__LOG__FORMAT": "json"}, "log.format", "json"),
        ({"SCAISEND__log__level": "debug"}, "log.level", "debug"),
        ({"SCAISEND__Storage__Data_Dir": "/srv/scaisend"}, "storage.data_dir", "/srv/scaisend"),
    ],
)
def test_environment_overrides(environ: dict[str, str], path: str, expected: Any) -> None:
    settings = load_settings(None, environ=environ)
    assert _get(settings, path) == expected
    # Nothing else moved.
    defaults = msgspec.to_builtins(Settings())
    section, key = path.split(".")
    defaults[section][key] = msgspec.to_builtins(expected)
    assert msgspec.to_builtins(settings) == defaults


@pytest.mark.parametrize(
    "environ",
    [
        {"PATH": "/usr/bin", "HOME": "/root"},
        {"SCAISEND_SMTP_HOSTNAME": "not-ours"},  # single underscores: not our prefix
        {"XSCAISEND__SMTP__HOSTNAME": "not-ours"},
        {"scaisend__smtp__hostname": "lower-case prefix is not ours"},
    ],
)
def test_unrelated_variables_are_ignored(environ: dict[str, str]) -> None:
    assert load_settings(None, environ=environ) == Settings()


def test_environment_wins_over_file_and_keeps_the_rest_of_the_section(tmp_path: Path) -> None:
    path = tmp_path / "scaisend.toml"
    path.write_text("[delivery]\nsmtp_port = 2000\nconcurrency = 3\n", encoding="utf-8")
    settings = load_settings(path, environ={"SCAISEND__DELIVERY__SMTP_PORT": "3000"})
    assert settings.delivery.smtp_port == 3000
    assert settings.delivery.concurrency == 3


def test_file_values_are_read(tmp_path: Path) -> None:
    path = tmp_path / "scaisend.toml"
    path.write_text(
        '[smtp]\nhostname = "mx.example.org"\ninbound_domains = ["in.example.org"]\n'
        '[delivery]\nroutes = { "example.net" = "relay.local:2525" }\n',
        encoding="utf-8",
    )
    settings = load_settings(path, environ={})
    assert settings.smtp.hostname == "mx.example.org"
    assert settings.smtp.inbound_domains == ["in.example.org"]
    assert settings.delivery.routes == {"example.net": "relay.local:2525"}
    assert settings.http == Settings().http


def test_apply_env_overrides_does_not_mutate_its_input() -> None:
    data: dict[str, Any] = {"smtp": {"hostname": "a.example"}}
    merged = apply_env_overrides(data, {"SCAISEND__SMTP__HOSTNAME": "b.example"})
    assert merged == {"smtp": {"hostname": "b.example"}}
    assert data == {"smtp": {"hostname": "a.example"}}


@pytest.mark.parametrize(
    "name",
    [
        "SCAISEND__SMTP",
        "SCAISEND__SMTP__TLS__CERT",
        "SCAISEND____HOSTNAME",
        "SCAISEND__SMTP__",
        "SCAISEND__",
    ],
)
def test_bad_variable_names_are_refused_by_name(name: str) -> None:
    with pytest.raises(ConfigError) as failure:
        load_settings(None, environ={name: "x"})
    assert str(failure.value).startswith(f"{name}: expected SCAISEND__SECTION__KEY")


def test_variable_into_a_non_section_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^SCAISEND__HTTP__LISTEN: \[http\] is not a section$"):
        apply_env_overrides({"http": 5}, {"SCAISEND__HTTP__LISTEN": "127.0.0.1:1"})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"smtp": {"bogus": 1}}, "smtp.bogus: unknown key"),
        ({"delivery": {"smtp_prot": 25}}, "delivery.smtp_prot: unknown key"),
        ({"bogus": {"key": 1}}, "bogus: unknown section"),
        (
            {"smtp": {"tls_cert": "/etc/c.pem"}},
            "smtp.tls_key: tls_cert and tls_key must be set together",
        ),
        (
            {"smtp": {"tls_key": "/etc/k.pem"}},
            "smtp.tls_key: tls_cert and tls_key must be set together",
        ),
        ({"smtp": {"hostname": "bad host"}}, "smtp.hostname: bad hostname 'bad host'"),
        ({"http": {"listen": "nohost"}}, "http.listen: bad address 'nohost': expected host:port"),
        ({"smtp": {"mx_listen": "0.0.0.0:0"}}, "smtp.mx_listen: bad port in '0.0.0.0:0'"),
        (
            {"dns": {"nameservers": ["1.2.3.4:99999"]}},
            "dns.nameservers: bad port in '1.2.3.4:99999'",
        ),
        (
            {"delivery": {"routes": {"a.example": "relay:0"}}},
            "delivery.routes: route for 'a.example': bad port in 'relay:0'",
        ),
        ({"delivery": {"smtp_port": 70000}}, "delivery.smtp_port: bad port 70000"),
        ({"log": {"level": "loud"}}, "log.level: bad level 'loud'"),
        ({"storage": {"database_url": "x.db"}}, "storage.database_url: 'x.db' is not a URL"),
        (
            {"auth": {"jwt_secret": "a"}},
            "auth.jwt_secret: must be at least 32 bytes (this one has 1), or unset to have one"
            " generated",
        ),
        (
            {"auth": {"jwt_secret": "\u00e9" * 15 + "x"}},  # 31 bytes in UTF-8
            "auth.jwt_secret: must be at least 32 bytes (this one has 31), or unset to have one"
            " generated",
        ),
        ({"delivery": {"smtp_port": "x"}}, "delivery.smtp_port: Expected `int`, got `str`"),
        (
            {"webhooks": {"allow_private_targets": "yes"}},
            "webhooks.allow_private_targets: Expected `bool`, got `str`",
        ),
        ({"dns": {"nameservers": ["ok:53", 5]}}, "dns.nameservers.1: Expected `str`, got `int`"),
        ({"http": 5}, "http: Expected `object`, got `int`"),
    ],
)
def test_errors_name_the_key_path(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as failure:
        settings_from_mapping(data)
    assert str(failure.value) == message


def test_wrong_type_inside_a_table_names_the_table() -> None:
    with pytest.raises(ConfigError) as failure:
        settings_from_mapping({"delivery": {"routes": {"a.example": 25}}})
    assert str(failure.value).startswith("delivery.routes")
    assert "Expected `str`, got `int`" in str(failure.value)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SCAISEND__SMTP__BOGUS": "1"}, "smtp.bogus: unknown key"),
        ({"SCAISEND__NOPE__KEY": "1"}, "nope: unknown section"),
        ({"SCAISEND__DELIVERY__SMTP_PORT": "abc"}, "delivery.smtp_port: Expected `int`, got `str`"),
        (
            {"SCAISEND__SMTP__TLS_CERT": "/c.pem"},
            "smtp.tls_key: tls_cert and tls_key must be set together",
        ),
        ({"SCAISEND__DNS__NAMESERVERS": '["[::1"]'}, "dns.nameservers: bad address '[::1'"),
        (
            {"SCAISEND__DNS__NAMESERVERS": "127.0.0.1"},
            "dns.nameservers: Expected `array`, got `str`",
        ),
    ],
)
def test_environment_errors_name_the_key_path(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as failure:
        load_settings(None, environ=environ)
    assert str(failure.value) == message


def test_bad_value_in_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "scaisend.toml"
    path.write_text('[smtp]\nhostnme = "typo"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^smtp\.hostnme: unknown key$"):
        load_settings(path, environ={})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match=r"^cannot read config .*absent\.toml"):
        load_settings(path, environ={})


def test_directory_instead_of_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_settings(tmp_path, environ={})


@pytest.mark.parametrize(
    "text",
    [
        "[smtp\nhostname = 'x'\n",
        "[smtp]\nhostname = \n",
        "[smtp]\nhostname = 'a'\nhostname = 'b'\n",
        "not toml at all",
    ],
)
def test_malformed_toml_is_a_config_error_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as failure:
        load_settings(path, environ={})
    assert str(failure.value).startswith(f"{path}: ")


def test_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("[smtp]\nhostname = 'caf\u00e9'\n".encode("latin-1"))
    with pytest.raises(ConfigError):
        load_settings(path, environ={})
