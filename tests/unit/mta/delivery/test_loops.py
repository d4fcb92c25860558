"""Mail loops: a next hop that is one of our own listeners, and the Received hop count."""

from __future__ import annotations

import pytest

from config.settings import DeliverySettings
from mta.core.errors import MailLoop, PermanentFailure
from mta.delivery.deliverer import Deliverer, is_loop
from mta.delivery.routing import NextHop
from mta.submission.mime import received_count
from mta.submission.smtp_message.submitted import MAX_HOPS, check_hop_count


@pytest.mark.parametrize(
    ("hop", "own", "loops"),
    [
        (NextHop("mx", "127.0.0.1", 2525), [("127.0.0.1", 2525)], True),
        (NextHop("mx", "127.0.0.1", 2526), [("127.0.0.1", 2525)], False),
        (NextHop("mx", "127.0.0.2", 2525), [("127.0.0.1", 2525)], False),
        (NextHop("mx", "192.0.2.7", 25), [("0.0.0.0", 25)], True),
        (NextHop("mx", "2001:db8::1", 25), [("::", 25)], True),
        (NextHop("mx", "192.0.2.7", 25), [], False),
    ],
)
def test_is_loop(hop: NextHop, own: list[tuple[str, int]], loops: bool) -> None:
    assert is_loop(hop, own) is loops


async def test_delivery_to_our_own_listener_bounces_as_a_loop() -> None:
    class Unused:
        async def open(self, hop: NextHop, policy: str) -> None:
            raise AssertionError("a loop must not be connected to")

    settings = DeliverySettings(routes={"loop.test": "127.0.0.1:2525"})
    deliverer = Deliverer(
        settings,
        None,
        Unused(),  # type: ignore[arg-type]
        own_listeners=[("127.0.0.1", 2525)],
    )
    with pytest.raises(PermanentFailure) as failure:
        await deliverer.open("loop.test")
    assert failure.value.reply.enhanced == "5.4.6"


@pytest.mark.parametrize(
    ("data", "count"),
    [
        (b"Received: a\r\nreceived: b\r\nRECEIVED: c\r\nSubject: x\r\n\r\nReceived: body\r\n", 3),
        (b"Subject: x\r\nX-Received: no\r\n\r\n", 0),
        (b"Subject: x\r\n Received: folded continuation\r\n\r\n", 0),
    ],
)
def test_received_count(data: bytes, count: int) -> None:
    assert received_count(data) == count


def test_hop_count_limit() -> None:
    check_hop_count(b"Received: x\r\n" * MAX_HOPS + b"\r\n")
    with pytest.raises(MailLoop):
        check_hop_count(b"Received: x\r\n" * (MAX_HOPS + 1) + b"\r\n")
