"""X-SMTPAPI `filters`: SendGrid's SMTP filter names and 0/1 settings decoded into the
`/v3/mail/send` settings, and every malformed, unknown or unsupported enabled filter refused."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from mta.core.errors import ValidationError
from mta.submission.send_request.request import Footer, MailSettings, Setting
from mta.submission.smtp_message.smtpapi import check_smtpapi, decode_smtpapi
from mta.submission.smtp_message.smtpapi_filters import NO_FILTERS, FilterSettings, filter_settings
from mta.submission.smtp_message.submitted import take_submitted
from mta.submission.suppressed import Bypass, bypass_from
from mta.tracking.settings import (
    ClickTracking,
    OpenTracking,
    SubscriptionTracking,
    TrackingSettings,
)


def decoded(filters: dict[str, Any]) -> FilterSettings:
    """The filters as read from a header, checked, and made settings."""
    api = decode_smtpapi(json.dumps({"filters": filters}).encode())
    check_smtpapi(api, now=0)
    return filter_settings(api.filters)


def on(**settings: Any) -> dict[str, Any]:
    return {"settings": settings}


ON = Setting(enable=True)


@pytest.mark.parametrize(
    ("filters", "mail", "tracking"),
    [
        ({}, MailSettings(), TrackingSettings()),
        (
            {"clicktrack": on(enable=1)},
            MailSettings(),
            TrackingSettings(click_tracking=ClickTracking(enable=True)),
        ),
        (
            {"clicktrack": on(enable="1", enable_text=True)},
            MailSettings(),
            TrackingSettings(click_tracking=ClickTracking(enable=True, enable_text=True)),
        ),
        ({"clicktrack": on(enable=0, enable_text=1)}, MailSettings(), TrackingSettings()),
        ({"clicktrack": on(enable="0")}, MailSettings(), TrackingSettings()),
        ({"clicktrack": on(enable=False)}, MailSettings(), TrackingSettings()),
        ({"clicktrack": {}, "opentrack": None, "nope": None}, MailSettings(), TrackingSettings()),
        (
            {"opentrack": on(enable=1, replace="%open%")},
            MailSettings(),
            TrackingSettings(open_tracking=OpenTracking(enable=True, substitution_tag="%open%")),
        ),
        (
            {
                "subscriptiontrack": on(
                    enable=1, **{"text/html": "<% here %>", "text/plain": "out: <% %>"}
                )
            },
            MailSettings(),
            TrackingSettings(
                subscription_tracking=SubscriptionTracking(
                    enable=True, html="<% here %>", text="out: <% %>"
                )
            ),
        ),
        (
            {"subscriptiontrack": on(enable=1, replace="[unsub]")},
            MailSettings(),
            TrackingSettings(
                subscription_tracking=SubscriptionTracking(enable=True, substitution_tag="[unsub]")
            ),
        ),
        (
            {"footer": on(enable=1, **{"text/plain": "Acme", "text/html": "<p>Acme</p>"})},
            MailSettings(footer=Footer(enable=True, text="Acme", html="<p>Acme</p>")),
            TrackingSettings(),
        ),
        ({"footer": on(enable=0, **{"text/plain": "Acme"})}, MailSettings(), TrackingSettings()),
        (
            {"bypass_list_management": on(enable=1)},
            MailSettings(bypass_list_management=ON),
            TrackingSettings(),
        ),
        (
            {
                "bypass_spam_management": on(enable=1),
                "bypass_bounce_management": on(enable="1"),
                "bypass_unsubscribe_management": on(enable=True),
            },
            MailSettings(
                bypass_spam_management=ON,
                bypass_bounce_management=ON,
                bypass_unsubscribe_management=ON,
            ),
            TrackingSettings(),
        ),
        (  # accepted and ignored whatever they say, as over HTTP / as every mail is signed
            {"ganalytics": on(enable=1, utm_source="x"), "dkim": on(domain="a.example")},
            MailSettings(),
            TrackingSettings(),
        ),
        (  # unknown and unsupported filters are accepted while off
            {"templates": on(enable=0, template_id="t"), "nope": on(enable="0"), "bcc": {}},
            MailSettings(),
            TrackingSettings(),
        ),
    ],
)
def test_filters_become_the_http_settings(
    filters: dict[str, Any], mail: MailSettings, tracking: TrackingSettings
) -> None:
    settings = decoded(filters)
    assert (settings.mail, settings.tracking) == (mail, tracking)


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        (
            {"clicktrack": on(enable=2)},
            'must be 0, 1, "0", "1", true or false (at filters.clicktrack.settings.enable)',
        ),
        ({"clicktrack": on(enable="yes")}, "at filters.clicktrack.settings.enable"),
        ({"clicktrack": on(enable=None)}, "at filters.clicktrack.settings.enable"),
        ({"clicktrack": on(enable=1, enable_text=5)}, "at filters.clicktrack.settings.enable_text"),
        ({"clicktrack": on(enable=1, colour=1)}, "Unknown field 'colour'"),
        ({"clicktrack": True}, "got `bool` (at filters.clicktrack)"),
        ({"nope": True}, "Expected `object | null`, got `bool` (at filters.nope)"),
        ({"clicktrack": {"settings": [1]}}, "at filters.clicktrack.settings"),
        ({"opentrack": on(enable=1, replace=7)}, "at filters.opentrack.settings.replace"),
        ({"footer": on(enable=1, **{"text/plain": 5})}, "at filters.footer.settings.text/plain"),
        (
            {"subscriptiontrack": on(enable=1, **{"text/html": ["x"]})},
            "at filters.subscriptiontrack.settings.text/html",
        ),
        ({"bypass_spam_management": on(enable=3)}, "must be 0, 1"),
        (
            {"bypass_list_management": on(enable=1), "bypass_spam_management": on(enable=1)},
            "bypass_list_management cannot be combined with bypass_spam_management",
        ),
        ({"nope": on(enable=1)}, "unknown filter `nope` (at filters.nope.settings.enable)"),
        ({"nope": on(enable=4)}, "at filters.nope.settings.enable"),
        ({"templates": on(enable=1, template_id="t")}, "filter `templates` is not supported"),
        ({"spamcheck": on(enable="1")}, "filter `spamcheck` is not supported"),
        ({"bcc": on(enable=1, email="x@example.com")}, "list every recipient in RCPT TO"),
        ({"sandbox_mode": on(enable=1)}, "a test-environment API key sends nothing"),
        ({"ganalytics": on(enable=7)}, "at filters.ganalytics.settings.enable"),
    ],
)
def test_malformed_unknown_or_unsupported_filters_are_refused(
    filters: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        decoded(filters)
    assert refused.value.message.startswith("Invalid X-SMTPAPI header: ")
    assert reason in refused.value.message
    assert refused.value.field == "X-SMTPAPI"


def test_no_filters_is_the_shared_default() -> None:
    assert decoded({}) is NO_FILTERS
    assert bypass_from(NO_FILTERS.mail) == Bypass()


def test_bypass_filters_give_the_http_bypass() -> None:
    settings = decoded({"bypass_bounce_management": on(enable=1)})
    assert bypass_from(settings.mail) == Bypass(bounce=True)


def test_a_submitted_message_carries_its_filters_and_loses_the_header() -> None:
    header = json.dumps({"filters": {"opentrack": on(enable=1)}, "category": "c"})
    data = f"From: a@mail.example.com\r\nX-SMTPAPI: {header}\r\nSubject: s\r\n\r\nHi\r\n"
    submitted = take_submitted(data.encode(), time.time())
    assert submitted.settings.tracking.open_tracking == OpenTracking(enable=True)
    assert b"X-SMTPAPI" not in submitted.data


def test_a_submitted_message_with_a_bad_filter_is_refused() -> None:
    header = json.dumps({"filters": {"spamcheck": on(enable=1)}})
    data = f"From: a@mail.example.com\r\nX-SMTPAPI: {header}\r\n\r\nHi\r\n"
    with pytest.raises(ValidationError, match="spamcheck"):
        take_submitted(data.encode(), time.time())
