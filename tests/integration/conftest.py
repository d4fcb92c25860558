"""Fixtures more than one integration scenario uses: a server whose MX listener relays for
127.0.0.1 without AUTH, as the account acme (`[smtp] relay_networks`)."""

from __future__ import annotations

import pytest

from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory


@pytest.fixture
def relay_server(make_server: ServerFactory) -> ScaisendServer:
    return make_server({"smtp": {"relay_networks": ["127.0.0.1/32"], "relay_account": "acme"}})
