"""SendGrid's `tracking_settings` of a send request (and of X-SMTPAPI filters mapped onto
them): which tracking a message asks for, in SendGrid's field names."""

from __future__ import annotations

import msgspec


class ClickTracking(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enable: bool = False
    enable_text: bool = False


class OpenTracking(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enable: bool = False
    substitution_tag: str | None = None


class SubscriptionTracking(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enable: bool = False
    text: str | None = None
    html: str | None = None
    substitution_tag: str | None = None


class Ganalytics(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enable: bool = False
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    utm_campaign: str | None = None


class TrackingSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Accepted and kept as sent; tracking itself is built elsewhere."""

    click_tracking: ClickTracking | None = None
    open_tracking: OpenTracking | None = None
    subscription_tracking: SubscriptionTracking | None = None
    ganalytics: Ganalytics | None = None
