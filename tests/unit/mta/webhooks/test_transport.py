"""The pinned webhook transport against a real DNS server and real HTTP(S) receivers on loopback:
names resolving to private addresses are refused, the checked address is the one connected to
(one lookup, no second resolution), and TLS still verifies the certificate for the host name."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.settings import DnsSettings
from mta.core.dns import DnsResolver
from mta.webhooks.transport import PinnedTransport, TargetRefused
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


def resolver_for(dns_server: DnsServer) -> DnsResolver:
    host, port = dns_server.address
    return DnsResolver(DnsSettings(nameservers=[f"{host}:{port}"], timeout_seconds=2.0))


async def post(transport: PinnedTransport, url: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=transport, timeout=5, follow_redirects=False) as client:
        return await client.post(url, content=b"{}")


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.9"])
async def test_a_name_resolving_to_a_private_address_is_refused(
    dns_server: DnsServer, receiver: WebhookReceiver, address: str
) -> None:
    dns_server.add(HOOK_HOST, "A", address)
    transport = PinnedTransport(resolver_for(dns_server), allow_private=False)
    with pytest.raises(TargetRefused, match=f"target address {address} is not allowed"):
        await post(transport, f"http://{HOOK_HOST}:{receiver.port}/hook")
    assert receiver.count() == 0
    assert transport.backend.connected == []


async def test_one_private_address_among_public_ones_refuses_the_name(
    dns_server: DnsServer, receiver: WebhookReceiver
) -> None:
    dns_server.set(HOOK_HOST, "A", ["93.184.216.34", "127.0.0.1"])
    transport = PinnedTransport(resolver_for(dns_server), allow_private=False)
    with pytest.raises(TargetRefused, match=r"127\.0\.0\.1"):
        await post(transport, f"http://{HOOK_HOST}:{receiver.port}/hook")
    assert receiver.count() == 0


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "[::1]", "2130706433", "0x7f000001", "127.1", "localhost", "[::ffff:127.0.0.1]"],
)
async def test_literal_and_disguised_loopback_urls_are_refused_without_dns(
    dns_server: DnsServer, receiver: WebhookReceiver, host: str
) -> None:
    transport = PinnedTransport(resolver_for(dns_server), allow_private=False)
    with pytest.raises(TargetRefused):
        await post(transport, f"http://{host}:{receiver.port}/hook")
    assert receiver.count() == 0
    assert dns_server.queries == []


async def test_the_pinned_address_is_the_one_connected_to(
    dns_server: DnsServer, receiver: WebhookReceiver
) -> None:
    dns_server.add(HOOK_HOST, "A", "127.0.0.1")
    transport = PinnedTransport(resolver_for(dns_server), allow_private=True)
    response = await post(transport, f"http://{HOOK_HOST}:{receiver.port}/hook")
    assert response.status_code == 200
    assert transport.backend.connected == [(HOOK_HOST, "127.0.0.1", receiver.port)]
    assert receiver.deliveries[0].headers["host"] == f"{HOOK_HOST}:{receiver.port}"
    # One resolution (A and AAAA) by our resolver; the HTTP client made none of its own.
    assert sorted(q[1] for q in dns_server.queries if q[0].rstrip(".") == HOOK_HOST) == [
        "A",
        "AAAA",
    ]


async def test_a_name_with_no_address_is_refused(dns_server: DnsServer) -> None:
    transport = PinnedTransport(resolver_for(dns_server), allow_private=True)
    with pytest.raises(TargetRefused, match=r"cannot resolve|no address"):
        await post(transport, f"http://nowhere.customer.test:{80}/hook")
    assert transport.backend.connected == []


async def test_a_redirect_is_not_followed(dns_server: DnsServer, receiver: WebhookReceiver) -> None:
    receiver.status = 302
    transport = PinnedTransport(resolver_for(dns_server), allow_private=True)
    response = await post(transport, receiver.url)
    assert response.status_code == 302
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
    transport = PinnedTransport(resolver_for(dns_server), allow_private=True, verify=verify)
    response = await post(transport, f"https://{HOOK_HOST}:{receiver.port}/hook")
    assert response.status_code == 200
    assert transport.backend.connected == [(HOOK_HOST, "127.0.0.1", receiver.port)]
    # The same address under a name the certificate does not cover fails verification.
    with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
        await post(transport, f"https://other.customer.test:{receiver.port}/hook")
    # And an unknown CA fails too.
    plain = PinnedTransport(resolver_for(dns_server), allow_private=True)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await post(plain, f"https://{HOOK_HOST}:{receiver.port}/hook")
    assert receiver.count() == 1


async def test_an_internationalised_name_is_pinned_in_its_idna_form(
    dns_server: DnsServer, receiver: WebhookReceiver
) -> None:
    dns_server.add("xn--bcher-kva.customer.test", "A", "127.0.0.1")
    transport = PinnedTransport(resolver_for(dns_server), allow_private=True)
    response = await post(transport, f"http://bücher.customer.test:{receiver.port}/hook")
    assert response.status_code == 200
    assert transport.backend.connected == [
        ("xn--bcher-kva.customer.test", "127.0.0.1", receiver.port)
    ]
