"""A reload of `[delivery]`: the deliverer routes and picks TLS policies by the new settings for
the sessions it opens next, and the scheduler's destinations take the new limits."""

from __future__ import annotations

from config.settings import DeliverySettings, DestinationPolicy
from mta.delivery.deliverer import Deliverer
from mta.delivery.routing import NextHop
from mta.scheduler.scheduler import Scheduler


class Recorder:
    """A connector that records what it was asked to open."""

    def __init__(self) -> None:
        self.opened: list[tuple[NextHop, str]] = []

    async def open(self, hop: NextHop, policy: str) -> object:
        self.opened.append((hop, policy))
        return object()


async def test_new_routes_and_tls_policies_apply_to_the_next_session() -> None:
    connector = Recorder()
    before = DeliverySettings(routes={"example.com": "192.0.2.1:2525"})
    deliverer = Deliverer(before, None, connector)  # type: ignore[arg-type]
    assert deliverer.destination_key("example.com") == "[192.0.2.1:2525]"
    deliverer.apply_settings(
        DeliverySettings(
            routes={"example.com": "192.0.2.9:2526"},
            destinations={"192.0.2.9:2526": DestinationPolicy(tls_policy="require")},
        )
    )
    assert deliverer.destination_key("example.com") == "[192.0.2.9:2526]"
    await deliverer.open("example.com")
    assert connector.opened == [(NextHop("192.0.2.9", "192.0.2.9", 2526), "require")]


def test_known_destinations_take_the_new_limits() -> None:
    settings = DeliverySettings(destination_concurrency=20, messages_per_connection=100)
    deliverer = Deliverer(settings, None, Recorder())  # type: ignore[arg-type]
    scheduler = Scheduler(None, deliverer, None, settings)  # type: ignore[arg-type]
    destination = scheduler._connections.destination("example.com")
    assert (destination.concurrency, destination.messages_per_connection) == (20, 100)
    scheduler.apply_settings(
        DeliverySettings(
            destination_concurrency=2,
            destinations={"example.com": DestinationPolicy(messages_per_connection=5)},
        )
    )
    assert (destination.concurrency, destination.messages_per_connection) == (2, 5)
    assert scheduler._connections.destination("other.example").concurrency == 2
