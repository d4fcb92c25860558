"""The abuse limits of one listener set: connections per client address and in total, messages
per session, trusted PROXY senders, and AUTH failures per client address in a time window.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from config.settings import SmtpSettings
from mta.listeners.data import DataBudget

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SERVER_BUSY = "421 4.7.0 Too many connections, server busy"
TOO_MANY_FROM_CLIENT = "421 4.7.0 Too many connections from your address"
TOO_MANY_MESSAGES = "421 4.7.0 Too many messages in this session"
TOO_MANY_AUTH_FAILURES = "421 4.7.0 Too many authentication failures"
UNTRUSTED_PROXY = "421 4.7.0 Connections here must come through a trusted proxy"

MAX_AUTH_DELAY = 5.0  # seconds; longer only ties up our own connection slots
MAX_TRACKED_CLIENTS = 100_000  # AUTH failure entries kept (about 150 bytes each)


def auth_failure_delay(failures: int, step: float, cap: float = MAX_AUTH_DELAY) -> float:
    """Seconds to hold back the reply to a client's `failures`-th AUTH failure in its window:
    none for the first (a typo), then `step` times failures, at most `cap`."""
    if failures <= 1:
        return 0.0
    return min(step * failures, cap)


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDR strings (already validated by the settings) as networks."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def in_networks(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    """Whether the IP address `address` (text, maybe with a %zone) lies in one of `networks`."""
    if not networks or not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # an IPv4 client on a dual-stack socket
    return any(ip in network for network in networks)


class ConnectionLimits:
    """Connections open per client address and in total over one listener set, with the
    per-session message cap, the trusted PROXY senders and the memory all DATA sections
    being received may hold; owned by `start_listeners`.

    Only admitted connections are counted, so the per-client map never holds more than
    `max_total` entries.
    """

    def __init__(
        self,
        *,
        max_total: int,
        max_per_client: int,
        max_messages: int,
        proxy_networks: tuple[IPNetwork, ...] = (),
        data_memory: int,
    ) -> None:
        self.max_total = max_total
        self.max_per_client = max_per_client
        self.max_messages = max_messages
        self.proxy_networks = proxy_networks
        self.data_memory = DataBudget(data_memory)
        self.open = 0
        self._per_client: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: SmtpSettings) -> ConnectionLimits:
        return cls(
            max_total=settings.max_connections,
            max_per_client=settings.max_connections_per_client,
            max_messages=settings.max_messages_per_connection,
            proxy_networks=parse_networks(settings.proxy_networks),
            data_memory=settings.max_data_memory_bytes,
        )

    def apply_settings(self, settings: SmtpSettings) -> None:
        """A reload: new connection and message caps; connections already open stay (a
        session past the new message cap gets 421 at its next MAIL)."""
        self.max_total = settings.max_connections
        self.max_per_client = settings.max_connections_per_client
        self.max_messages = settings.max_messages_per_connection

    def acquire(self, client: str) -> str | None:
        """Count a new connection from `client`: None when admitted (release it when it
        ends), else the 421 reply to close it with (then it is not counted)."""
        if self.open >= self.max_total:
            return SERVER_BUSY
        count = self._per_client.get(client, 0)
        if count >= self.max_per_client:
            return TOO_MANY_FROM_CLIENT
        self._per_client[client] = count + 1
        self.open += 1
        return None

    def release(self, client: str) -> None:
        """Uncount one admitted connection from `client`."""
        count = self._per_client.pop(client, 0)
        if count > 1:
            self._per_client[client] = count - 1
        if count:
            self.open -= 1

    def open_from(self, client: str) -> int:
        return self._per_client.get(client, 0)


class AuthFailures:
    """AUTH failures per client address, each address counted in a window that starts at its
    first failure; owned by `start_listeners`, shared by both submission listeners.

    Bounded: entries are kept in the order they expire (one window length for all), expired
    ones are dropped on every new failure, and beyond `max_clients` the oldest is dropped.
    """

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        delay_step: float,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_TRACKED_CLIENTS,
    ) -> None:
        self.limit = limit
        self.window = window
        self.delay_step = delay_step
        self._clock = clock
        self._max_clients = max_clients
        self._entries: OrderedDict[str, tuple[float, int]] = OrderedDict()  # → (expiry, count)

    @classmethod
    def from_settings(
        cls, settings: SmtpSettings, clock: Callable[[], float] = time.monotonic
    ) -> AuthFailures:
        return cls(
            clock=clock,
            limit=settings.auth_failure_limit,
            window=settings.auth_failure_window_seconds,
            delay_step=settings.auth_failure_delay_seconds,
        )

    def apply_settings(self, settings: SmtpSettings) -> None:
        """A reload: the new limit, window and delay; failures counted so far are kept."""
        self.limit = settings.auth_failure_limit
        self.window = settings.auth_failure_window_seconds
        self.delay_step = settings.auth_failure_delay_seconds

    def blocked(self, client: str) -> bool:
        """Whether `client` has reached the limit within its current window."""
        entry = self._entries.get(client)
        return entry is not None and entry[1] >= self.limit and entry[0] > self._clock()

    def record(self, client: str) -> int:
        """Count one failure from `client`; returns its failures in the window so far."""
        now = self._clock()
        entries = self._entries
        while entries and next(iter(entries.values()))[0] <= now:
            entries.popitem(last=False)
        entry = entries.get(client)
        if entry is None:
            if len(entries) >= self._max_clients:
                entries.popitem(last=False)
            entry = (now + self.window, 0)
        entries[client] = (entry[0], entry[1] + 1)  # an existing key keeps its place
        return entry[1] + 1

    def delay(self, failures: int) -> float:
        """Seconds to wait before answering the `failures`-th failure."""
        return auth_failure_delay(failures, self.delay_step)

    @property
    def tracked(self) -> int:
        """How many client addresses are counted now."""
        return len(self._entries)
