"""Event webhooks: endpoints and their settings, the SSRF guard, OAuth credentials, the outbox
sender and its transport, and SendGrid's webhook format and settings API.

Code outside this package imports only the names below (the import contract in pyproject.toml
holds it to that); the modules behind them are this package's own business.
"""

from mta.webhooks.http_client import WebhookClient
from mta.webhooks.oauth import OAuthInput
from mta.webhooks.sender import WebhookSender
from mta.webhooks.sendgrid_settings import SendGridEventWebhook, SignedView
from mta.webhooks.service import (
    DeliveryDetail,
    DeliveryPage,
    DeliveryQuery,
    DeliveryView,
    WebhookChanges,
    WebhookService,
    WebhookView,
)

__all__ = [
    "DeliveryDetail",
    "DeliveryPage",
    "DeliveryQuery",
    "DeliveryView",
    "OAuthInput",
    "SendGridEventWebhook",
    "SignedView",
    "WebhookChanges",
    "WebhookClient",
    "WebhookSender",
    "WebhookService",
    "WebhookView",
]
