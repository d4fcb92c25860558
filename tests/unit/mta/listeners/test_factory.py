"""The cheap protocol factory and the fast MAIL/RCPT path parser behave exactly like
aiosmtpd's own: same settings per connection, same parse results."""

from __future__ import annotations

import asyncio

import pytest
from aiosmtpd.smtp import SMTP

from config.settings import SmtpSettings
from mta.listeners.mx import MxHandler, MxSMTP, mx_factory
from mta.listeners.protocol import IngressSMTP


class NoInbound:
    async def accepts_domain(self, domain: str) -> bool:
        return False

    async def receive(
        self, mail_from: str, rcpt_tos: list[str], data: bytes, sender_ip: str = ""
    ) -> None:
        return None


PATHS = [
    "<bench@example.com>",
    "<bench@example.com> SIZE=100 BODY=8BITMIME",
    "<bench@example.com>  (comment) SIZE=100",
    "<bench@example.com>\tSIZE=1",
    "  <Mixed.Case+tag@Sub.Example.COM>",
    "<>",
    '<"quoted local"@example.com>',
    "<a..b@example.com>",
    "<user@example.com.>",
    "<user@[192.0.2.1]>",
    "<@hop.example:user@example.com>",
    "user@example.com",
    "<user@-bad.example.com>",
    "<üser@example.com>",
    "<user@example.com",
    "",
]


@pytest.mark.parametrize("arg", PATHS)
async def test_fast_path_parses_like_aiosmtpd(arg: str) -> None:
    loop = asyncio.get_running_loop()
    ours = IngressSMTP(MxHandler(NoInbound()), hostname="mx.test", loop=loop)
    assert ours._getaddr(arg) == SMTP._getaddr(ours, arg)


async def test_factory_protocols_match_a_freshly_built_one() -> None:
    loop = asyncio.get_running_loop()
    settings = SmtpSettings(hostname="mx.test")
    factory = mx_factory(settings, MxHandler(NoInbound()), None, loop=loop)  # type: ignore[arg-type]
    first, second = factory(), factory()
    assert isinstance(first, MxSMTP) and first is not second
    assert first.session_id != second.session_id
    assert first._stream_reader is not second._stream_reader  # type: ignore[attr-defined]
    for name, method in first._smtp_methods.items():
        assert method.__self__ is first, name
    for mechanism in first._auth_methods.values():
        if mechanism.is_builtin:
            assert mechanism.method.__self__ is first
    fresh = factory._template  # built by aiosmtpd's own __init__ with the same options
    # each protocol's own MAIL/RCPT line limits (aiosmtpd keeps one table on the class and
    # grows it at every EHLO)
    assert set(vars(first)) == set(vars(fresh)) | {"command_size_limits"}
    assert first.command_size_limits is not second.command_size_limits
    first.command_size_limits["MAIL"] += 36
    assert second.command_size_limits["MAIL"] == SMTP.command_size_limit
    for name, value in vars(fresh).items():
        if name in ("session_id", "_smtp_methods", "_auth_methods") or name.startswith(
            ("_stream", "_strong", "_client_connected", "_closed", "_drain")
        ):
            continue
        assert getattr(first, name) == value, name
    assert set(first._smtp_methods) == set(fresh._smtp_methods)
    assert set(first._auth_methods) == set(fresh._auth_methods)
