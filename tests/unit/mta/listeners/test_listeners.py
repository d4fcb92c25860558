"""Listener start-up: addresses (port 0, disabled listeners), hostname in the greeting, closing;
and the shared reply helpers.
"""

from __future__ import annotations

import ssl

import pytest

from mta.core.errors import NotFound, PermissionDenied, StorageUnavailable
from mta.listeners.protocol import error_reply, printable, reply, reverse_path
from mta.listeners.servers import bound_port, close_listeners, listen_address, start_listeners
from tests.unit.mta.listeners.support import (
    HOSTNAME,
    FakeInbound,
    FakeIntake,
    FakeKeys,
    client,
    loopback_settings,
    make_tls,
)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return make_tls(tmp_path_factory.mktemp("tls"))


async def test_empty_listen_address_disables_listener(tls: ssl.SSLContext) -> None:
    settings = loopback_settings()
    settings.smtps_listen = ""
    settings.mx_listen = ""
    servers = await start_listeners(settings, tls, FakeIntake(), FakeKeys(), FakeInbound())
    try:
        assert len(servers) == 1
        async with client(bound_port(servers[0]), start_tls=False) as smtp:
            assert smtp.supports_extension("starttls")
            assert smtp.supports_extension("size")
    finally:
        await close_listeners(servers)
    assert not servers[0].is_serving()


async def test_greeting_names_the_host(tls: ssl.SSLContext) -> None:
    settings = loopback_settings()
    servers = await start_listeners(settings, tls, FakeIntake(), FakeKeys(), FakeInbound())
    try:
        assert len({bound_port(server) for server in servers}) == 3
        for port, options in zip(
            map(bound_port, servers),
            [{"start_tls": False}, {"use_tls": True}, {"start_tls": False}],
            strict=True,
        ):
            async with client(port, **options) as smtp:
                response = await smtp.ehlo()
                assert response.message.splitlines()[0] == HOSTNAME
    finally:
        await close_listeners(servers)


async def test_a_failed_start_closes_what_was_started(tls: ssl.SSLContext) -> None:
    settings = loopback_settings()
    settings.mx_listen = "256.0.0.1:25"  # cannot be bound
    with pytest.raises(OSError):
        await start_listeners(settings, tls, FakeIntake(), FakeKeys(), FakeInbound())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::1]:0", ("::1", 0)),
        ("0.0.0.0:587", ("0.0.0.0", 587)),
        ("[::]:25", ("::", 25)),
    ],
)
def test_listen_address(value: str, expected: tuple[str, int]) -> None:
    assert listen_address(value) == expected


def test_listen_address_refuses_garbage() -> None:
    with pytest.raises(ValueError):
        listen_address("localhost")


def test_replies_are_single_line_ascii() -> None:
    assert reply(550, "5.7.1", "no\r\nway caf\u00e9") == "550 5.7.1 no way caf?"
    assert printable("x" * 1000) == "x" * 400


def test_error_reply_table() -> None:
    assert error_reply(PermissionDenied("nope")) == "550 5.7.1 nope"
    assert error_reply(StorageUnavailable("later")) == "451 4.3.0 later"
    assert error_reply(NotFound("unmapped")) is None
    assert error_reply(RuntimeError("boom")) is None


def test_reverse_path() -> None:
    assert reverse_path("<>") == ""
    assert reverse_path(None) == ""
    assert reverse_path("a@b.example") == "a@b.example"
