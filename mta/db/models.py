"""SQLAlchemy models for accounts, domains, keys, templates, messages, events, webhooks.

Timestamps are Unix seconds (float); JSON columns hold lists and dicts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mta.db.sealed import SealedText


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, list[Any]: JSON}


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    # An operator's switch: keys refused, mail held, webhooks paused while set.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    email: Mapped[str | None] = mapped_column(String(254))


class Domain(Base):
    __tablename__ = "domains"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    domain: Mapped[str] = mapped_column(String(253))
    dkim_selector: Mapped[str] = mapped_column(String(63))
    dkim_private_key: Mapped[str] = mapped_column(SealedText)
    dkim_public_key: Mapped[str] = mapped_column(Text)
    return_path_host: Mapped[str] = mapped_column(String(253), index=True)
    dmarc_policy: Mapped[str] = mapped_column(String(16))
    dmarc_rua_email: Mapped[str | None] = mapped_column(String(254))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (
        Index("ix_domains_account_domain", "account_id", "domain", unique=True),
        # A domain is verified by one account only (mta/services/domains.py).
        Index(
            "uq_domains_verified_domain",
            "domain",
            unique=True,
            sqlite_where=text("verified"),
            postgresql_where=text("verified"),
        ),
    )


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(8))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)


class Template(Base):
    """A template id is unique within its account (ids may be chosen by the caller)."""

    __tablename__ = "templates"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    generation: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class TemplateVersion(Base):
    """At most one version of a template is active (the partial unique index)."""

    __tablename__ = "template_versions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32))
    template_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(Text)
    html_content: Mapped[str] = mapped_column(Text)
    plain_content: Mapped[str] = mapped_column(Text)
    generate_plain_content: Mapped[bool] = mapped_column(Boolean, default=True)
    editor: Mapped[str] = mapped_column(String(8), default="code")
    test_data: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "template_id"], ["templates.account_id", "templates.id"]
        ),
        Index("ix_template_versions_template", "account_id", "template_id"),
        Index(
            "ux_template_versions_active",
            "account_id",
            "template_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )


class Message(Base):
    """The message log: one row per accepted message, one per recipient below it."""

    __tablename__ = "messages"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    from_email: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(Text)
    template_id: Mapped[str | None] = mapped_column(String(64))
    categories: Mapped[list[str]] = mapped_column(JSON)
    custom_args: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    updated_at: Mapped[float] = mapped_column(Float)
    # Message log: kept by mta.events.stats.MessageActivitySink, one update per batch.
    last_event_time: Mapped[float | None] = mapped_column(Float, default=None)
    opens_count: Mapped[int] = mapped_column(Integer, default=0)
    clicks_count: Mapped[int] = mapped_column(Integer, default=0)


class MessageRecipient(Base):
    __tablename__ = "message_recipients"
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    status: Mapped[str] = mapped_column(String(16))


class Event(Base):
    __tablename__ = "events"
    # The account's events in id (time) order: the event feed pages through them.
    __table_args__ = (Index("ix_events_account_event", "account_id", "event_id"),)
    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(32), index=True)
    email: Mapped[str] = mapped_column(String(254))
    event_type: Mapped[str] = mapped_column(String(24))
    timestamp: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Webhook(Base):
    __tablename__ = "webhooks"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    enabled_events: Mapped[list[str]] = mapped_column(JSON)
    signing_secret: Mapped[str] = mapped_column(SealedText)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    # Webhooks: "scaisend" (one event a POST, HMAC) or "sendgrid" (JSON arrays, ECDSA).
    format: Mapped[str] = mapped_column(String(12), default="scaisend")
    # Webhooks: OAuth 2.0 client credentials (SendGrid's second mechanism); the secret is
    # sealed (it must be sent to the token URL, so it cannot be hashed), never shown again.
    oauth_client_id: Mapped[str | None] = mapped_column(String(255), default=None)
    oauth_client_secret: Mapped[str | None] = mapped_column(SealedText, default=None)
    oauth_token_url: Mapped[str | None] = mapped_column(Text, default=None)


class WebhookDelivery(Base):
    """The webhook outbox: one row per (webhook, event), kept after success or failure."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(24))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Webhooks: a sender claims a row (state "sending") until claimed_until; a claim
    # left by a dead sender is taken again after that.
    claimed_until: Mapped[float | None] = mapped_column(Float, default=None)
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_attempt_at: Mapped[float | None] = mapped_column(Float, default=None)
    # Webhooks: the last attempt's request headers, event count and answer (JSON of
    # mta.webhooks.jobs.Exchange, bounded), for the delivery log.
    last_exchange: Mapped[str | None] = mapped_column(Text, default=None)
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)


# Webhooks: the account's ECDSA P-256 key for SendGrid-format signed event webhooks.
class WebhookSigningKey(Base):
    __tablename__ = "webhook_signing_keys"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    private_key_pem: Mapped[str] = mapped_column(SealedText)
    public_key: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)


# Inbound mail: what the MX received (DSNs, ARF reports, autoreplies) and what it did.
class InboundMessage(Base):
    """One message received on the MX: its kind, authentication, matched message and the
    events it gave (`note` says why none, e.g. unmatched, duplicate, foreign)."""

    __tablename__ = "inbound_messages"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    received_at: Mapped[float] = mapped_column(Float, index=True)
    mail_from: Mapped[str] = mapped_column(String(254))
    rcpt: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    dkim: Mapped[str] = mapped_column(String(16))
    authres: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(32), index=True)
    account_id: Mapped[str | None] = mapped_column(String(32), index=True)
    events: Mapped[list[str]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)


# Message log and stats: the indexes the message filters use, the categories side
# table, and the daily stats aggregates (category "" is the account's total).
Index("ix_messages_account_created", Message.account_id, Message.created_at)
Index("ix_messages_account_status", Message.account_id, Message.status, Message.created_at)
Index("ix_messages_account_from", Message.account_id, Message.from_email, Message.created_at)
Index("ix_messages_account_subject", Message.account_id, Message.subject, Message.created_at)
Index("ix_messages_account_template", Message.account_id, Message.template_id, Message.created_at)
Index("ix_messages_account_key", Message.account_id, Message.api_key_id, Message.created_at)
Index("ix_messages_account_last_event", Message.account_id, Message.last_event_time)
Index("ix_events_timestamp", Event.timestamp)


class MessageCategory(Base):
    __tablename__ = "message_categories"
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(255), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (
        Index("ix_message_categories_lookup", "account_id", "category", "created_at"),
    )


class DailyStats(Base):
    __tablename__ = "stats_daily"
    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    blocks: Mapped[int] = mapped_column(Integer, default=0)
    bounce_drops: Mapped[int] = mapped_column(Integer, default=0)
    bounces: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    deferred: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    invalid_emails: Mapped[int] = mapped_column(Integer, default=0)
    opens: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    spam_report_drops: Mapped[int] = mapped_column(Integer, default=0)
    spam_reports: Mapped[int] = mapped_column(Integer, default=0)
    unique_clicks: Mapped[int] = mapped_column(Integer, default=0)
    unique_opens: Mapped[int] = mapped_column(Integer, default=0)
    unsubscribe_drops: Mapped[int] = mapped_column(Integer, default=0)
    unsubscribes: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (Index("ix_stats_daily_day", "account_id", "day"),)


# Suppressions: SendGrid's suppression lists and unsubscribe groups (ASM).
class AsmGroup(Base):
    """An unsubscribe group; ids are integers, as SendGrid's."""

    __tablename__ = "asm_groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[int] = mapped_column(Integer)


class Suppression(Base):
    """One address on one list: bounces, blocks, invalid_emails, spam_reports, unsubscribes
    (global) or group (`group_id` > 0; 0 for the account-wide lists, so the unique index
    holds). `event_id` is the event that added it; None when added over the API."""

    __tablename__ = "suppressions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32))
    list: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[int] = mapped_column(Integer, default=0)
    email: Mapped[str] = mapped_column(String(254))
    created: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    event_id: Mapped[str | None] = mapped_column(String(32))
    event_type: Mapped[str | None] = mapped_column(String(24))
    message_id: Mapped[str | None] = mapped_column(String(32))
    __table_args__ = (
        Index("ux_suppressions_entry", "account_id", "list", "group_id", "email", unique=True),
        Index("ix_suppressions_email", "account_id", "email"),
        Index("ix_suppressions_created", "account_id", "list", "created"),
    )


class MailBatch(Base):
    """A batch id from `POST /v3/mail/batch`; `status` is its pause or cancel, if any."""

    __tablename__ = "mail_batches"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    status: Mapped[str | None] = mapped_column(String(8), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class RateLimitBucket(Base):
    """One caller's HTTP token bucket, shared by the nodes of a PostgreSQL deployment
    (control/ratelimit_sql.py); `allowed` is the verdict of its last request."""

    __tablename__ = "rate_limit_buckets"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float, index=True)
    allowed: Mapped[bool] = mapped_column(Boolean)


class User(Base):
    """A person who signs in (the dashboard): an account's admin, developer or support, or
    with no account the instance's operator. The password is an argon2id hash."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)


class UserSession(Base):
    """A signed-in session: the cookie's SHA-256 (never the cookie), its CSRF token, and
    when it ends (expiry, logout or revocation)."""

    __tablename__ = "user_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)


class SignInFailure(Base):
    """A failed sign-in, counted against its email (`user:<email>`) and its client address
    (`addr:<ip>`) by every process (mta/services/login_throttle.py); rows older than the
    throttle's window are deleted as new ones come."""

    __tablename__ = "sign_in_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[float] = mapped_column(Float, index=True)
    __table_args__ = (Index("ix_sign_in_failures_key_at", "key", "at"),)


# The inbound reports' and Inbound Parse tables share Base from their own modules (this one
# is at its size limit); importing them here keeps them in Base.metadata wherever the models
# are loaded.
from mta.db import parse_models as _parse_models  # noqa: E402,F401
from mta.db import report_models as _report_models  # noqa: E402,F401
