"""The Webhooks page's view data: the webhook list's rows (which one SendGrid's single event
webhook API shows), the delivery log's rows, and bounded bodies (pure functions)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from mta.core.events import EVENT_TYPES
from mta.webhooks import DeliveryView, WebhookView

SLUG = "webhooks"
EVENTS = sorted(EVENT_TYPES)
FORMATS = (("scaisend", "ScaiSend: one event a POST"), ("sendgrid", "SendGrid: JSON arrays"))
BODY_SHOWN = 4000  # characters of an event body the delivery page shows
DONE = {  # what a redirect after a change says (a fixed text per key: nothing is reflected)
    "test": "A test event is queued; it appears in the delivery log below.",
    "saved": "Saved.",
    "enabled": "Enabled.",
    "disabled": "Disabled: events are kept for it and sent once it is enabled again.",
    "deleted": "Deleted, with its delivery log.",
    "redeliver": "The delivery is queued again with a fresh retry schedule.",
}


# A change to make: (account, form) → the page to go back to.
Change = Callable[[str, dict[str, str]], Awaitable[str]]


class Target(msgspec.Struct, frozen=True):
    """A webhook as the list shows it."""

    view: WebhookView
    created: str
    settings_hook: bool  # the one SendGrid's /v3/user/webhooks/event/settings shows


class DeliveryRow(msgspec.Struct, frozen=True):
    view: DeliveryView
    created: str
    last_attempt: str
    status: str


class Body(msgspec.Struct, frozen=True):
    text: str
    total: int  # characters in all; more than shown when truncated

    @property
    def truncated(self) -> bool:
        return self.total > len(self.text)


def when(stamp: float | None) -> str:
    if stamp is None:
        return ""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def settings_hook_id(views: list[WebhookView]) -> str | None:
    """The account's first SendGrid-format webhook: what SendGrid's single event webhook API
    reads and changes (mta/webhooks/sendgrid_settings)."""
    sendgrid = [v for v in views if v.format == "sendgrid"]
    return min(sendgrid, key=lambda v: (v.created_at, v.id)).id if sendgrid else None


def targets(views: list[WebhookView]) -> list[Target]:
    chosen = settings_hook_id(views)
    return [Target(v, when(v.created_at), v.id == chosen) for v in views]


def status_of(view: DeliveryView) -> str:
    answered = f"HTTP {view.last_status}" if view.last_status is not None else ""
    return f"{view.state} ({answered})" if answered else view.state


def delivery_row(view: DeliveryView) -> DeliveryRow:
    return DeliveryRow(view, when(view.created_at), when(view.last_attempt_at), status_of(view))


def bounded(text: str, limit: int = BODY_SHOWN) -> Body:
    return Body(text[:limit], len(text))


def event_fields(lists: dict[str, list[str]]) -> dict[str, Any]:
    """The form's fields as the API's JSON body would carry them."""
    first = {key: values[-1] for key, values in lists.items() if values}
    return {
        "url": first.get("url", "").strip(),
        "enabled_events": lists.get("enabled_events", []),
        "format": first.get("format", "scaisend"),
    }


def saved_fields(hook: WebhookView) -> dict[str, Any]:
    """The change form's fields as the webhook stands."""
    return {"url": hook.url, "enabled_events": hook.enabled_events, "format": hook.format}
