"""Request bodies of the control-plane endpoints (the send body lives in mta.intake.request)."""

from __future__ import annotations

from typing import Literal

import msgspec


class DomainCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    domain: str
    dmarc_policy: Literal["none", "quarantine", "reject"] = "none"
    dmarc_rua_email: str | None = None


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    environment: Literal["live", "test"] = "live"
    scopes: list[str] = msgspec.field(default_factory=lambda: ["mail.send"])


class TemplateCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    generation: Literal["legacy", "dynamic"] = "dynamic"
    id: str | None = None


class VersionCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    subject: str = ""
    html_content: str = ""
    plain_content: str = ""
    active: int | bool | None = None


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: str
    enabled_events: list[str]
