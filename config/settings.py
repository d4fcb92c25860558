"""The settings schema: one msgspec Struct per TOML section, every key with a default.

Validation that needs more than a type (addresses, URLs) lives in `__post_init__`, so a bad
value is refused with the key's path in the message.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from config.checks import (
    at_least_one,
    check_listen,
    check_networks,
    is_fernet_key,
    parse_hostport,
)


class HttpSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    listen: str = "127.0.0.1:8080"
    max_body_bytes: int = 31_457_280
    rate_limit_per_second: float = 600.0
    rate_limit_burst: int = 1200
    metrics_token: str = ""  # set: GET /metrics wants "Authorization: Bearer <token>"
    # one /v3/mail/send: every personalization's message together, and the time to build them
    max_send_build_bytes: int = 268_435_456
    max_send_build_seconds: float = 10.0

    def __post_init__(self) -> None:
        check_listen("listen", self.listen)
        at_least_one(self, "max_body_bytes", "max_send_build_bytes")
        if not self.max_send_build_seconds > 0:
            raise ValueError("max_send_build_seconds: must be more than 0")
        if not 0 < self.rate_limit_per_second <= 1_000_000:
            raise ValueError("rate_limit_per_second: must be above 0 and at most 1000000")
        if not 1 <= self.rate_limit_burst <= 10_000_000:
            raise ValueError("rate_limit_burst: must be between 1 and 10000000")


ListenerName = Literal["submission", "smtps", "mx"]


def _check_smtp_limits(smtp: SmtpSettings) -> None:
    """The abuse limits and the PROXY protocol keys of [smtp]."""
    at_least_one(
        smtp,
        "max_connections",
        "max_connections_per_client",
        "max_messages_per_connection",
        "auth_failure_limit",
        "auth_failure_window_seconds",
    )
    if not 0 <= smtp.auth_failure_delay_seconds <= 60:
        raise ValueError("auth_failure_delay_seconds: must be between 0 and 60")
    if not 0 < smtp.proxy_protocol_timeout_seconds <= 300:
        raise ValueError("proxy_protocol_timeout_seconds: must be above 0 and at most 300")
    check_networks("proxy_networks", smtp.proxy_networks)
    if smtp.proxy_protocol and not smtp.proxy_networks:
        # Trusting a PROXY header from anyone would let any client pick its own address.
        raise ValueError("proxy_networks: must list the proxies when proxy_protocol is set")


class SmtpSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    hostname: str = "localhost"
    submission_listen: str = "127.0.0.1:2587"
    smtps_listen: str = "127.0.0.1:2465"
    mx_listen: str = "127.0.0.1:2525"
    tls_cert: str = ""
    tls_key: str = ""
    inbound_domains: list[str] = msgspec.field(default_factory=list)
    max_message_bytes: int = 31_457_280
    max_recipients: int = 1000
    max_data_memory_bytes: int = 536_870_912
    command_timeout_seconds: float = 300.0
    session_timeout_seconds: float = 3600.0
    relay_networks: list[str] = msgspec.field(default_factory=list)
    relay_account: str = ""
    max_connections: int = 1000
    max_connections_per_client: int = 50
    max_messages_per_connection: int = 1000
    auth_failure_limit: int = 5
    auth_failure_window_seconds: int = 300
    auth_failure_delay_seconds: float = 0.5
    proxy_protocol: list[ListenerName] = msgspec.field(default_factory=list)
    proxy_protocol_timeout_seconds: float = 5.0
    proxy_networks: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        for key in ("submission_listen", "smtps_listen", "mx_listen"):
            if getattr(self, key):  # empty disables that listener
                check_listen(key, getattr(self, key))
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_key: tls_cert and tls_key must be set together")
        at_least_one(
            self,
            "max_message_bytes",
            "max_recipients",
            "command_timeout_seconds",
            "session_timeout_seconds",
        )
        if self.max_data_memory_bytes < self.max_message_bytes:
            raise ValueError("max_data_memory_bytes: must be at least max_message_bytes")
        if not self.hostname or " " in self.hostname:
            raise ValueError(f"hostname: bad hostname {self.hostname!r}")
        check_networks("relay_networks", self.relay_networks)
        if self.relay_networks and not self.relay_account:
            raise ValueError("relay_account: must name an account when relay_networks is set")
        _check_smtp_limits(self)


class StorageSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    data_dir: str = "./var"
    database_url: str = ""
    message_retention_days: int = 30
    event_retention_days: int = 30
    retention_interval_seconds: float = 3600.0
    # the message as sent, kept on disk after delivery this long, at most this much (0: not)
    keep_sent_hours: float = 72.0
    keep_sent_megabytes: int = 2048
    # the keys sealing secrets at rest, the first sealing; empty: the file data_dir/secrets_keys
    secrets_keys: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if self.database_url and "://" not in self.database_url:
            raise ValueError(f"database_url: {self.database_url!r} is not a URL")
        for key in self.secrets_keys:
            if not is_fernet_key(key):
                raise ValueError(
                    "secrets_keys: each key is 32 random bytes in URL-safe base64 (44 "
                    "characters, e.g. `python3 -c 'import base64,os; "
                    "print(base64.urlsafe_b64encode(os.urandom(32)).decode())'`)"
                )
        for key in ("message_retention_days", "event_retention_days"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key}: must be 0 (keep forever) or more")
        for key in ("keep_sent_hours", "keep_sent_megabytes"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key}: must be 0 (keep none) or more")
        if not self.retention_interval_seconds > 0:
            raise ValueError("retention_interval_seconds: must be more than 0")


JWT_SECRET_MIN_BYTES = 32  # HS256 keys at least as long as the hash (RFC 7518 §3.2)


class AuthSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    jwt_secret: str = ""  # empty: one generated into data_dir

    def __post_init__(self) -> None:
        size = len(self.jwt_secret.encode())
        if 0 < size < JWT_SECRET_MIN_BYTES:
            raise ValueError(
                f"jwt_secret: must be at least {JWT_SECRET_MIN_BYTES} bytes (this one has "
                f"{size}), or unset to have one generated"
            )


class DnsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    nameservers: list[str] = msgspec.field(default_factory=list)
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        for server in self.nameservers:
            try:
                parse_hostport(server, default_port=53)
            except ValueError as exc:
                raise ValueError(f"nameservers: {exc}") from None


TlsPolicy = Literal["none", "opportunistic", "require", "verify"]


class DestinationPolicy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-destination overrides of the delivery defaults."""

    concurrency: int | None = None
    messages_per_connection: int | None = None
    tls_policy: TlsPolicy | None = None

    def __post_init__(self) -> None:
        at_least_one(self, "concurrency", "messages_per_connection")


class RouteAuth(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """SMTP AUTH credentials for a next hop (a smarthost), sent only over TLS."""

    username: str
    password: str


class DeliverySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    smtp_port: int = 25
    routes: dict[str, str] = msgspec.field(default_factory=dict)
    concurrency: int = 100
    destination_concurrency: int = 20
    messages_per_connection: int = 100
    tls_policy: TlsPolicy = "opportunistic"
    tls_ca_file: str = ""
    destinations: dict[str, DestinationPolicy] = msgspec.field(default_factory=dict)
    route_auth: dict[str, RouteAuth] = msgspec.field(default_factory=dict)
    destination_failure_limit: int = 3
    destination_backoff_seconds: int = 60
    connection_idle_seconds: float = 2.0
    connect_timeout_seconds: float = 30.0
    command_timeout_seconds: float = 60.0
    retry_schedule_seconds: list[int] = msgspec.field(
        default_factory=lambda: [60, 300, 900, 1800, 3600, 7200, 14400]
    )
    max_queue_lifetime_seconds: int = 259_200

    def __post_init__(self) -> None:
        if not 0 < self.smtp_port < 65536:
            raise ValueError(f"smtp_port: bad port {self.smtp_port}")
        self.routes = {domain.lower().rstrip("."): hop for domain, hop in self.routes.items()}
        for domain, hop in self.routes.items():
            try:
                parse_hostport(hop, default_port=self.smtp_port)
            except ValueError as exc:
                raise ValueError(f"routes: route for {domain!r}: {exc}") from None
        at_least_one(
            self,
            "concurrency",
            "destination_concurrency",
            "messages_per_connection",
            "destination_failure_limit",
            "destination_backoff_seconds",
        )
        self.destinations = {
            domain.lower().rstrip("."): policy for domain, policy in self.destinations.items()
        }
        if not self.retry_schedule_seconds:
            raise ValueError("retry_schedule_seconds: must not be empty")
        for hop in self.route_auth:
            try:
                parse_hostport(hop)
            except ValueError as exc:
                raise ValueError(f"route_auth: {exc}") from None

    def limits_for(self, key: str) -> tuple[int, int]:
        """(concurrency, messages per connection) for a destination key."""
        policy = self.destinations.get(key.strip("[]"), DestinationPolicy())
        return (
            policy.concurrency or self.destination_concurrency,
            policy.messages_per_connection or self.messages_per_connection,
        )

    def tls_for(self, key: str) -> TlsPolicy:
        """The outbound TLS policy for a destination key (a domain or "[host:port]")."""
        policy = self.destinations.get(key.strip("[]"), DestinationPolicy())
        return policy.tls_policy or self.tls_policy


class WebhookSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    allow_private_targets: bool = False
    timeout_seconds: float = 30.0
    retry_schedule_seconds: list[int] = msgspec.field(
        default_factory=lambda: [60, 300, 900, 3600, 7200]
    )
    max_concurrency: int = 64  # POSTs in flight, all webhooks together
    per_webhook_concurrency: int = 16  # the most to one webhook; it adapts below this
    lease_seconds: float = 120.0
    allowed_ports: list[int] = msgspec.field(default_factory=lambda: [80, 443, 8080, 8443])
    sendgrid_batch_size: int = 100
    sendgrid_batch_seconds: float = 1.0  # a SendGrid-format batch not full waits this long

    def __post_init__(self) -> None:
        at_least_one(self, "max_concurrency", "per_webhook_concurrency", "sendgrid_batch_size")
        if self.lease_seconds <= self.timeout_seconds:
            raise ValueError("lease_seconds: must be longer than timeout_seconds")
        if not 0 <= self.sendgrid_batch_seconds <= 60:
            raise ValueError("sendgrid_batch_seconds: expected 0 to 60")


class TrackingSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Open / click / unsubscribe links: their public base URL ("" → http://<[http] listen>)."""

    base_url: str = ""
    secret: str = ""  # "" → derived from the server's JWT secret

    def __post_init__(self) -> None:
        scheme, _, rest = self.base_url.partition("://")
        if self.base_url and (scheme not in ("http", "https") or not rest.strip("/")):
            raise ValueError(
                f"base_url: expected http(s)://host[:port][/path], not {self.base_url!r}"
            )


class LogSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    level: str = "info"
    format: str = "logfmt"

    def __post_init__(self) -> None:
        if self.level.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError(f"level: bad level {self.level!r}")
        if self.format not in {"logfmt", "json"}:
            raise ValueError(f"format: bad format {self.format!r} (logfmt or json)")


MAX_WORKERS = 64


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    shutdown_grace_seconds: float = 30.0
    workers: int = 1  # event-loop processes on this host (mta/server/supervisor.py when above 1)

    def __post_init__(self) -> None:
        if not self.shutdown_grace_seconds >= 0:
            raise ValueError("shutdown_grace_seconds: must be 0 or more")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ValueError(f"workers: must be between 1 and {MAX_WORKERS}")


class InboundSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the MX trusts in a received report (docs/inbound-service.md).

    `return_path_keys`: the VERP MAC keys, the first signing and every one verifying; empty
    means the keys file `data_dir/return_path_keys`. `fbl_addresses`: the addresses
    registered with providers' feedback loops, where an ARF report counts only when DKIM-
    signed by its From domain. `spamd`: host:port of a SpamAssassin spamd that scores
    Inbound Parse mail whose setting asks for spam_check (empty: none, spam_check refused)."""

    return_path_keys: list[str] = msgspec.field(default_factory=list)
    fbl_addresses: list[str] = msgspec.field(default_factory=list)
    spamd: str = ""
    # Inbound Parse posts that fail are tried again after these delays (the last repeating)
    # until parse_give_up_hours after the message arrived
    parse_retry_schedule_seconds: list[int] = msgspec.field(
        default_factory=lambda: [60, 300, 900, 1800, 3600, 7200, 14_400]
    )
    parse_give_up_hours: float = 72.0

    def __post_init__(self) -> None:
        if any(len(key) < MIN_RETURN_PATH_KEY_CHARS for key in self.return_path_keys):
            raise ValueError(
                f"return_path_keys: each key needs at least {MIN_RETURN_PATH_KEY_CHARS} "
                "characters (e.g. `openssl rand -hex 32`)"
            )
        for address in self.fbl_addresses:
            local, at, domain = address.rpartition("@")
            if not at or not local or "." not in domain or " " in address:
                raise ValueError(f"fbl_addresses: {address!r} is not an address")
        self.fbl_addresses = [address.lower().rstrip(".") for address in self.fbl_addresses]
        if not self.parse_retry_schedule_seconds or min(self.parse_retry_schedule_seconds) < 1:
            raise ValueError("parse_retry_schedule_seconds: one or more delays of 1 s or more")
        if self.spamd and not re.fullmatch(r"\[?[\w.:-]+\]?:\d{1,5}", self.spamd):
            raise ValueError(f"spamd: expected host:port, not {self.spamd!r}")
        if self.parse_give_up_hours <= 0:
            raise ValueError("parse_give_up_hours: must be more than 0")


MIN_RETURN_PATH_KEY_CHARS = 32


class TemplateSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What rendering one part of one personalization's dynamic template may cost; over
    any limit the send is refused with 400 naming the template and the limit."""

    max_steps: int = 100_000  # data reads, {{#each}} iterations, helper calls, text emitted
    max_output_bytes: int = 10_485_760
    max_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.max_steps < 1 or self.max_output_bytes < 1:
            raise ValueError("max_steps and max_output_bytes: must be 1 or more")
        if not self.max_seconds > 0:
            raise ValueError("max_seconds: must be more than 0")


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    smtp: SmtpSettings = msgspec.field(default_factory=SmtpSettings)
    storage: StorageSettings = msgspec.field(default_factory=StorageSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    dns: DnsSettings = msgspec.field(default_factory=DnsSettings)
    delivery: DeliverySettings = msgspec.field(default_factory=DeliverySettings)
    webhooks: WebhookSettings = msgspec.field(default_factory=WebhookSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    tracking: TrackingSettings = msgspec.field(default_factory=TrackingSettings)
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    inbound: InboundSettings = msgspec.field(default_factory=InboundSettings)
    templates: TemplateSettings = msgspec.field(default_factory=TemplateSettings)
