"""The check `scaisend serve` makes before it opens anything: every configured listen
address can be bound, or one line naming the first that cannot and its config key."""

from __future__ import annotations

import socket

from config.settings import HttpSettings, Settings, SmtpSettings
from mta.server.listen_check import configured_listens, unusable_listen


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(http: int, mx: int, smtps: str = "") -> Settings:
    return Settings(
        http=HttpSettings(listen=f"127.0.0.1:{http}"),
        smtp=SmtpSettings(
            submission_listen=f"127.0.0.1:{_free_port()}",
            smtps_listen=smtps,
            mx_listen=f"127.0.0.1:{mx}",
        ),
    )


def test_free_addresses_pass_and_a_disabled_listener_is_not_checked() -> None:
    settings = _settings(_free_port(), _free_port())
    assert [key for key, _ in configured_listens(settings)] == [
        "[http] listen",
        "[smtp] submission_listen",
        "[smtp] mx_listen",
    ]
    assert unusable_listen(settings) is None


def test_a_busy_address_is_named_with_its_key() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = unusable_listen(_settings(_free_port(), port))
    assert line == (
        f"scaisend: cannot listen on 127.0.0.1:{port} ([smtp] mx_listen): address already in use"
    )


def test_one_address_configured_twice_is_caught() -> None:
    port = _free_port()
    line = unusable_listen(_settings(port, _free_port(), smtps=f"127.0.0.1:{port}"))
    assert line == (
        f"scaisend: cannot listen on 127.0.0.1:{port} ([smtp] smtps_listen): address already in use"
    )


def test_an_address_not_of_this_host_is_refused_with_the_reason() -> None:
    settings = _settings(_free_port(), _free_port())
    settings.http.listen = "192.0.2.1:8080"  # TEST-NET-1: no interface has it
    line = unusable_listen(settings)
    assert line == (
        "scaisend: cannot listen on 192.0.2.1:8080 ([http] listen): cannot assign requested address"
    )
