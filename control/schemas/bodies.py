"""Request bodies of the control-plane endpoints (the send body lives in
mta.submission.send_request.request)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec


class DomainCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    domain: str
    dmarc_policy: Literal["none", "quarantine", "reject"] = "none"
    dmarc_rua_email: str | None = None


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    environment: Literal["live", "test"] = "live"
    scopes: list[str] = msgspec.field(default_factory=lambda: ["mail.send"])


class ApiKeyUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`PUT /v3/api_keys/{id}`: a new name, and new scopes when given."""

    name: str
    scopes: list[str] | None = None


class ApiKeyRename(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`PATCH /v3/api_keys/{id}`: a new name only."""

    name: str


class TemplateCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /v3/templates`; `generation` defaults to legacy as SendGrid's does; `id` is
    ours: a caller-chosen id, unique in the account."""

    name: str
    generation: Literal["legacy", "dynamic"] = "legacy"
    id: str | None = None


class TemplateRename(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str


class TemplateDuplicate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str | None = None


class VersionBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A version's fields as SendGrid takes them (`active` 0 or 1, `test_data` a JSON string).
    The read-only fields of SendGrid's version output are accepted and ignored, so a version
    read back can be sent again."""

    name: str | None = None
    subject: str | None = None
    html_content: str | None = None
    plain_content: str | None = None
    generate_plain_content: bool | None = None
    active: int | bool | None = None
    editor: Literal["code", "design"] | None = None
    test_data: str | None = None
    id: str | None = None
    template_id: str | None = None
    user_id: int | str | None = None
    updated_at: str | None = None
    thumbnail_url: str | None = None
    warnings: list[dict[str, str]] | None = None


# OAuth fields: absent keeps what is stored; "" or null on the client id and token URL clears.
OAuthField = str | None | msgspec.UnsetType


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str
    enabled_events: list[str]
    enabled: bool = True
    format: Literal["scaisend", "sendgrid"] = "scaisend"
    oauth_client_id: OAuthField = msgspec.UNSET
    oauth_client_secret: OAuthField = msgspec.UNSET
    oauth_token_url: OAuthField = msgspec.UNSET


class ParseSettingCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str
    hostname: str
    spam_check: bool = False
    send_raw: bool = False


class ParseSettingUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str | None = None
    spam_check: bool | None = None
    send_raw: bool | None = None


class WebhookUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str | None = None
    enabled_events: list[str] | None = None
    enabled: bool | None = None
    format: Literal["scaisend", "sendgrid"] | None = None
    oauth_client_id: OAuthField = msgspec.UNSET
    oauth_client_secret: OAuthField = msgspec.UNSET
    oauth_token_url: OAuthField = msgspec.UNSET


class WebhookSignedUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool


class EventWebhookSettings(
    msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """SendGrid's single event webhook (`/v3/user/webhooks/event/settings`): a URL, one
    flag per event type and SendGrid's OAuth client-credentials fields."""

    enabled: bool | None = None
    url: str | None = None
    processed: bool | None = None
    dropped: bool | None = None
    delivered: bool | None = None
    deferred: bool | None = None
    bounce: bool | None = None
    open: bool | None = None
    click: bool | None = None
    spam_report: bool | None = None
    unsubscribe: bool | None = None
    group_unsubscribe: bool | None = None
    group_resubscribe: bool | None = None
    oauth_client_id: OAuthField = msgspec.UNSET
    oauth_client_secret: OAuthField = msgspec.UNSET
    oauth_token_url: OAuthField = msgspec.UNSET


class EventWebhookTest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: str | None = None
    oauth_client_id: OAuthField = msgspec.UNSET
    oauth_client_secret: OAuthField = msgspec.UNSET
    oauth_token_url: OAuthField = msgspec.UNSET


class SubuserCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /v3/subusers`: SendGrid's fields. `password`, when given, makes the account's
    first admin user (its email signs in with it); `ips` is taken and not kept until IP
    pools exist."""

    username: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[\w.@+-]+$")]
    email: str
    password: str | None = None
    ips: list[str] = msgspec.field(default_factory=list)


class SubuserUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`PATCH /v3/subusers/{name}`: enable or disable the account."""

    disabled: bool


class SignIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /api/session`: a user's email and password."""

    email: str
    password: str
