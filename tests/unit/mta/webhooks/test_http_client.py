"""The webhook POST client against a real DNS server and real HTTP(S) receivers on loopback:
names resolving to private addresses are refused, the checked address is the one connected to
(one lookup, none of aiohttp's own), connections are kept alive, and TLS still verifies the
certificate for the host name."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import DnsSettings
from mta.core.dns import DnsResolver
from mta.webhooks.http_client import Answer, WebhookClient
from tests.support.certs import make_ca_and_leaf
from tests.support.dns_server import DnsServer
from tests.support.webhook_receiver import WebhookReceiver

HOOK_HOST = "hooks.customer.test"


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer("127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver("127.0.0.1").start()
    yield receiver
    receiver.stop()


def client_for(
    dns_server: DnsServer, allow_private: bool, verify: ssl.SSLContext | None = None
) -> WebhookClient:
    host, port = dns_server.address
    dns = DnsResolver(DnsSettings(nameservers=[f"{host}:{port}"], timeout_seconds=2.0))
    return WebhookClient(dns, allow_private, max_connections=4, timeout=5.0, verify=verify)


async def post(client: WebhookClient, url: str) -> Answer:
    try:
        return await client.post(url, b"{}", {"Content-Type": "application/json"})
    finally:
        await client.close()


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.9"])
async def test_a_name_resolving_to_a_private_address_is_refused(
    dns_server: DnsServer, receiver: WebhookReceiver, address: str
) -> None:
    dns_server.add(HOOK_HOST, "A", address)
    client = client_for(dns_server, allow_private=False)
    answer = await post(client, f"http://{HOOK_HOST}:{receiver.port}/hook")
    assert answer.status is None
    assert answer.error == f"TargetRefused: target address {address} is not allowed"
    assert receiver.count() == 0


async def test_one_private_address_among_public_ones_refuses_the_name(
    dns_server: DnsServer, receiver: WebhookReceiver
) -> None:
    dns_server.set(HOOK_HOST, "A", ["93.184.216.34", "127.0.0.1"])
    answer = await post(client_for(dns_server, False), f"http://{HOOK_HOST}:{receiver.port}/h")
    assert answer.status is None and "127.0.0.1 is not allowed" in (answer.error or "")
    assert receiver.count() == 0


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "[::1]", "2130706433", "0x7f000001", "127.1", "localhost", "[::ffff:127.0.0.1]"],
)
async def test_literal_and_disguised_loopback_urls_are_refused_without_dns(
    dns_server: DnsServer, receiver: WebhookReceiver, host: str
) -> None:
    answer = await post(client_for(dns_server, False), f"http://{host}:{receiver.port}/hook")
    assert answer.status is None and (answer.error or "").startswith("TargetRefused: ")
    assert receiver.count() == 0
    assert dns_server.queries == []


async def test_the_pinned_address_is_the_one_connected_to_and_kept_alive(
    dns_server: DnsServer,
) -> None:
    receiver = WebhookReceiver("127.0.0.1", keep_alive=True).start()
    dns_server.add(HOOK_HOST, "A", "127.0.0.1")
    client = client_for(dns_server, allow_private=True)
    url = f"http://{HOOK_HOST}:{receiver.port}/hook"
    try:
        answers = [await client.post(url, b"{}", {}) for _ in range(3)]
    finally:
        await client.close()
        receiver.stop()
    assert [a.status for a in answers] == [200, 200, 200]
    assert list(client.resolver.pinned) == [(HOOK_HOST, "127.0.0.1")]  # one connection
    assert receiver.deliveries[0].headers["host"] == f"{HOOK_HOST}:{receiver.port}"
    # One resolution (A and AAAA) by our resolver; the HTTP client made none of its own.
    assert sorted(q[1] for q in dns_server.queries if q[0].rstrip(".") == HOOK_HOST) == [
        "A",
        "AAAA",
    ]


async def test_a_name_with_no_address_is_refused(dns_server: DnsServer) -> None:
    answer = await post(client_for(dns_server, True), "http://nowhere.customer.test:80/hook")
    assert answer.status is None
    assert "cannot resolve" in (answer.error or "") or "no address" in (answer.error or "")


async def test_a_redirect_is_not_followed(dns_server: DnsServer, receiver: WebhookReceiver) -> None:
    receiver.status = 302
    answer = await post(client_for(dns_server, True), receiver.url)
    assert answer.status == 302 and not answer.delivered
    assert receiver.count() == 1


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[WebhookReceiver, Path]]:
    ca, leaf, key = make_ca_and_leaf(tmp_path, HOOK_HOST)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(leaf, key)
    receiver = WebhookReceiver("127.0.0.1", ssl_context=context).start()
    yield receiver, ca
    receiver.stop()


async def test_tls_verifies_the_certificate_for_the_host_name_not_the_address(
    dns_server: DnsServer, tls_receiver: tuple[WebhookReceiver, Path]
) -> None:
    receiver, ca = tls_receiver
    dns_server.add(HOOK_HOST, "A", "127.0.0.1")
    dns_server.add("other.customer.test", "A", "127.0.0.1")
    verify = ssl.create_default_context(cafile=str(ca))
    client = client_for(dns_server, True, verify)
    answer = await post(client, f"https://{HOOK_HOST}:{receiver.port}/hook")
    assert answer.status == 200
    assert list(client.resolver.pinned) == [(HOOK_HOST, "127.0.0.1")]
    # The same address under a name the certificate does not cover fails verification.
    other = await post(
        client_for(dns_server, True, verify), f"https://other.customer.test:{receiver.port}/hook"
    )
    assert other.status is None and "certificate" in (other.error or "").lower()
    # And an unknown CA fails too.
    plain = await post(client_for(dns_server, True), f"https://{HOOK_HOST}:{receiver.port}/hook")
    assert plain.status is None and "certificate" in (plain.error or "").lower()
    assert receiver.count() == 1


async def test_an_internationalised_name_is_pinned_in_its_idna_form(
    dns_server: DnsServer, receiver: WebhookReceiver
) -> None:
    dns_server.add("xn--bcher-kva.customer.test", "A", "127.0.0.1")
    client = client_for(dns_server, allow_private=True)
    answer = await post(client, f"http://bücher.customer.test:{receiver.port}/hook")
    assert answer.status == 200
    assert list(client.resolver.pinned) == [("xn--bcher-kva.customer.test", "127.0.0.1")]
