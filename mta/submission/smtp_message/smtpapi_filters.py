"""X-SMTPAPI `filters` (SendGrid's SMTP names) decoded into typed settings and mapped onto the
`/v3/mail/send` mail_settings and tracking_settings, so SMTP mail takes the HTTP path's code."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Generic, Literal, TypeVar

import msgspec

from mta.core.errors import ValidationError
from mta.submission.send_request.request import Footer, MailSettings, Setting, field_path
from mta.tracking.settings import (
    ClickTracking,
    OpenTracking,
    SubscriptionTracking,
    TrackingSettings,
)

# SendGrid writes 0/1 or "0"/"1"; JSON booleans are taken too.
Switch = bool | Literal[0, 1, "0", "1"]
SWITCH_WORDS = 'must be 0, 1, "0", "1", true or false'
BYPASSES = (
    "bypass_list_management",
    "bypass_spam_management",
    "bypass_bounce_management",
    "bypass_unsubscribe_management",
)
# Accepted and ignored: ganalytics as over HTTP; every message is already DKIM-signed with
# its From domain's key, which the account must own.
IGNORED = frozenset({"ganalytics", "dkim"})
# SendGrid filters this MTA does not implement: refused when enabled, never silently dropped.
UNSUPPORTED: Mapping[str, str] = MappingProxyType(
    {
        "bcc": "list every recipient in RCPT TO",
        "templates": "use template_id over /v3/mail/send",
        "template": "no legacy templates here",
        "spamcheck": "no spam checking here",
        "forwardspam": "no spam forwarding here",
        "gravatar": "no gravatars here",
        "domainkeys": "obsolete; every message is DKIM-signed",
        "sandbox_mode": "a test-environment API key sends nothing",
    }
)


def on(value: Switch) -> bool:
    return value in (True, "1")  # True == 1


class Enable(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enable: Switch = False


class Loose(msgspec.Struct, kw_only=True):
    """An unknown, unsupported or ignored filter: only its `enable` is read."""

    enable: Switch = False


class ClickTrack(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enable: Switch = False
    enable_text: Switch = False


class OpenTrack(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enable: Switch = False
    replace: str | None = None


class SubscriptionTrack(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enable: Switch = False
    html: str | None = msgspec.field(default=None, name="text/html")
    text: str | None = msgspec.field(default=None, name="text/plain")
    replace: str | None = None


class FooterFilter(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enable: Switch = False
    html: str | None = msgspec.field(default=None, name="text/html")
    text: str | None = msgspec.field(default=None, name="text/plain")


S = TypeVar("S")


class Filter(msgspec.Struct, Generic[S], kw_only=True):
    """One filter as SendGrid nests it: `{"settings": {…}}`; without settings it is off."""

    settings: S | None = None


class Filters(msgspec.Struct, kw_only=True):
    """The `filters` this MTA applies, typed; other names are checked by FilterNames."""

    clicktrack: Filter[ClickTrack] | None = None
    opentrack: Filter[OpenTrack] | None = None
    subscriptiontrack: Filter[SubscriptionTrack] | None = None
    footer: Filter[FooterFilter] | None = None
    bypass_list_management: Filter[Enable] | None = None
    bypass_spam_management: Filter[Enable] | None = None
    bypass_bounce_management: Filter[Enable] | None = None
    bypass_unsubscribe_management: Filter[Enable] | None = None


class FilterNames(msgspec.Struct):
    """The header read a second time for the names of its filters: a typed Struct cannot
    keep the names it does not know. Each unknown one is then read as Filter[Loose]."""

    filters: dict[str, msgspec.Raw] = msgspec.field(default_factory=dict)


class FilterSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What the filters ask for, in the `/v3/mail/send` request's own types."""

    mail: MailSettings = msgspec.field(default_factory=MailSettings)
    tracking: TrackingSettings = msgspec.field(default_factory=TrackingSettings)


NO_FILTERS = FilterSettings()
KNOWN = frozenset(field.name for field in msgspec.structs.fields(Filters))


def switch_words(text: str, path: str | None) -> str:
    """Our words for a bad `enable`: msgspec's would list the Literal's values."""
    return SWITCH_WORDS if path and path.endswith(("enable", "enable_text")) else text


def check_filter_names(names: FilterNames) -> None:
    """An unknown or unsupported filter is refused when enabled, never silently dropped."""
    for name, raw in names.filters.items():
        if name in KNOWN:
            continue  # read, typed, with the header
        found = _loose(name, raw)
        if name in IGNORED or found is None or found.settings is None:
            continue
        if on(found.settings.enable):
            where = f"(at filters.{name}.settings.enable)"
            hint = UNSUPPORTED.get(name)
            if hint is None:
                raise invalid(f"unknown filter `{name}` {where}")
            raise invalid(f"filter `{name}` is not supported: {hint} {where}")


def check_bypasses(filters: Filters) -> None:
    """The bypass combination the HTTP path refuses (check_mail_settings) is refused here."""
    if _enabled(filters.bypass_list_management) is None:
        return
    for name in BYPASSES[1:]:
        if _enabled(getattr(filters, name)):
            raise invalid(f"bypass_list_management cannot be combined with {name} (at filters)")


def _loose(name: str, raw: msgspec.Raw) -> Filter[Loose] | None:
    try:
        return msgspec.json.decode(raw, type=Filter[Loose] | None)
    except msgspec.ValidationError as exc:
        text, path = field_path(str(exc))
        where = f"filters.{name}" + (f".{path}" if path else "")
        raise invalid(f"{switch_words(text, path).rstrip('.')} (at {where})") from None


def filter_settings(filters: Filters) -> FilterSettings:
    """The (checked) filters as mail_settings and tracking_settings."""
    if filters == Filters():
        return NO_FILTERS
    bypass = {name: _setting(getattr(filters, name)) for name in BYPASSES}
    footer = _enabled(filters.footer)
    mail = MailSettings(
        **bypass,
        footer=Footer(enable=True, text=footer.text, html=footer.html) if footer else None,
    )
    return FilterSettings(mail=mail, tracking=_tracking(filters))


def _tracking(filters: Filters) -> TrackingSettings:
    click = _enabled(filters.clicktrack)
    opened = _enabled(filters.opentrack)
    subscription = _enabled(filters.subscriptiontrack)
    return TrackingSettings(
        click_tracking=ClickTracking(enable=True, enable_text=on(click.enable_text))
        if click
        else None,
        open_tracking=OpenTracking(enable=True, substitution_tag=opened.replace)
        if opened
        else None,
        subscription_tracking=SubscriptionTracking(
            enable=True,
            text=subscription.text,
            html=subscription.html,
            substitution_tag=subscription.replace,
        )
        if subscription
        else None,
    )


E = TypeVar("E", ClickTrack, OpenTrack, SubscriptionTrack, FooterFilter, Enable)


def _enabled(found: Filter[E] | None) -> E | None:
    """The filter's settings when it is on."""
    if found is None or found.settings is None or not on(found.settings.enable):
        return None
    return found.settings


def _setting(found: Filter[Enable] | None) -> Setting | None:
    return Setting(enable=True) if _enabled(found) else None


def invalid(reason: str) -> ValidationError:
    return ValidationError(f"Invalid X-SMTPAPI header: {reason}", field="X-SMTPAPI")
