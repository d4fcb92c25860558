"""The Webhooks page's view data: which webhook SendGrid's single event webhook API shows,
a delivery's status line, bounded bodies and the form's fields as the API's JSON."""

from __future__ import annotations

from control.ui.pages.webhooks_view import (
    bounded,
    event_fields,
    settings_hook_id,
    status_of,
    targets,
    when,
)
from mta.webhooks import DeliveryView, WebhookView


def hook(id: str, format: str, created_at: float) -> WebhookView:
    return WebhookView(
        id=id, url=f"https://{id}.example/", enabled_events=["delivered"], enabled=True,
        created_at=created_at, format=format,
    )  # fmt: skip


def test_the_first_sendgrid_format_webhook_is_the_settings_one() -> None:
    views = [hook("a", "scaisend", 1), hook("c", "sendgrid", 3), hook("b", "sendgrid", 3)]
    assert settings_hook_id(views) == "b"  # created together: the smaller id, as the API
    assert [t.settings_hook for t in targets(views)] == [False, False, True]
    assert settings_hook_id([hook("a", "scaisend", 1)]) is None


def delivery(state: str, status: int | None) -> DeliveryView:
    return DeliveryView(
        id="d", event_id="e", event_type="delivered", state=state, attempts=1, created_at=0,
        last_attempt_at=None, last_status=status, last_error=None, next_attempt_at=None,
    )  # fmt: skip


def test_status_lines_and_times() -> None:
    assert status_of(delivery("failed", 500)) == "failed (HTTP 500)"
    assert status_of(delivery("pending", None)) == "pending"
    assert when(0) == "1970-01-01 00:00:00 UTC" and when(None) == ""


def test_bodies_are_bounded() -> None:
    body = bounded("x" * 10, limit=4)
    assert body.text == "xxxx" and body.total == 10 and body.truncated
    assert not bounded("short").truncated


def test_form_fields_as_the_json_body() -> None:
    posted = {"url": [" https://h.example/ "], "enabled_events": ["open", "click"]}
    assert event_fields(posted) == {
        "url": "https://h.example/",
        "enabled_events": ["open", "click"],
        "format": "scaisend",
    }
