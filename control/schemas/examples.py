"""An example request body for every operation that reads one, keyed by (method, OpenAPI path):
shown by the API browser at /docs and sent by schemathesis. Where SendGrid's v3 reference has an
example for the same endpoint, ours has its shape.

Each must decode into the operation's body Struct and be accepted by the server: see
tests/unit/control/test_openapi.py and tests/integration/test_api_browser.py.
"""

from __future__ import annotations

from typing import Any

EMAILS = ["example1@example.com", "example2@example.com"]
RECIPIENT_EMAILS = {"recipient_emails": EMAILS}

MAIL_SEND: dict[str, Any] = {
    "personalizations": [
        {
            "to": [{"email": "john_doe@example.com", "name": "John Doe"}],
            "cc": [{"email": "jane_doe@example.com", "name": "Jane Doe"}],
            "subject": "Hello, World!",
        }
    ],
    "from": {"email": "orders@example.com", "name": "Example Order Confirmation"},
    "reply_to": {"email": "customer_service@example.com", "name": "Example Customer Service"},
    "subject": "Your Example Order Confirmation",
    "content": [
        {"type": "text/plain", "value": "Hello from ScaiSend!"},
        {"type": "text/html", "value": "<p>Hello from ScaiSend!</p>"},
    ],
    "categories": ["cake", "pie", "baking"],
    "custom_args": {"order_id": "1234"},
    "tracking_settings": {"click_tracking": {"enable": True}, "open_tracking": {"enable": True}},
}

EVENT_WEBHOOK_SETTINGS = {
    "enabled": True,
    "url": "https://example.com/webhook-endpoint",
    "processed": False,
    "dropped": True,
    "delivered": False,
    "deferred": True,
    "bounce": True,
    "open": True,
    "click": True,
    "spam_report": True,
    "unsubscribe": True,
    "group_unsubscribe": True,
    "group_resubscribe": True,
}

VERSION = {
    "template_id": "d-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
    "active": 1,
    "name": "order-confirmation",
    "subject": "Your order {{order_id}}",
    "html_content": "<p>Hello {{first_name}}, thank you for your order.</p>",
    "plain_content": "Hello {{first_name}}, thank you for your order.",
    "generate_plain_content": False,
    "editor": "code",
}

SUPPRESSION_DELETE = {"delete_all": False, "emails": EMAILS}

REQUEST_EXAMPLES: dict[tuple[str, str], Any] = {
    # The operator API and sessions
    ("POST", "/api/admin/domains"): {"domain": "example.com", "dmarc_policy": "none"},
    ("POST", "/api/session"): {"email": "jane_doe@example.com", "password": "a long passphrase"},
    ("POST", "/v3/subusers"): {
        "username": "jane_doe",
        "email": "jane_doe@example.com",
        "password": "a long passphrase",
        "ips": ["1.1.1.1", "2.2.2.2"],
    },
    ("PATCH", "/v3/subusers/{subuser_name}"): {"disabled": False},
    # Sending and scheduling
    ("POST", "/v3/mail/send"): MAIL_SEND,
    ("POST", "/v3/user/scheduled_sends"): {
        "batch_id": "HkJ5yLYULb7Rj8GKSx7u025ouWVlMgAi",
        "status": "pause",
    },
    ("PATCH", "/v3/user/scheduled_sends/{batch_id}"): {"status": "pause"},
    # API keys
    ("POST", "/v3/api_keys"): {"name": "My API Key", "scopes": ["mail.send", "templates.read"]},
    ("PUT", "/v3/api_keys/{key_id}"): {"name": "A New Hope", "scopes": ["mail.send"]},
    ("PATCH", "/v3/api_keys/{key_id}"): {"name": "A New Hope"},
    # Templates and their versions
    ("POST", "/v3/templates"): {"name": "example_name", "generation": "dynamic"},
    ("POST", "/v3/templates/{template_id}"): {"name": "example_name_copy"},
    ("PATCH", "/v3/templates/{template_id}"): {"name": "new_example_name"},
    ("POST", "/v3/templates/{template_id}/versions"): VERSION,
    ("PATCH", "/v3/templates/{template_id}/versions/{version_id}"): {
        **VERSION,
        "name": "order-confirmation-2",
    },
    # Webhooks
    ("POST", "/v3/user/webhooks"): {
        "url": "https://example.com/webhooks/scaisend",
        "enabled_events": ["delivered", "bounce", "spam_report"],
        "format": "sendgrid",
    },
    ("PATCH", "/v3/user/webhooks/{webhook_id}"): {
        "enabled_events": ["delivered", "bounce", "dropped"],
        "enabled": True,
    },
    ("POST", "/v3/user/webhooks/parse/settings"): {
        "hostname": "parse.example.com",
        "url": "https://example.com/inbound",
        "spam_check": False,
        "send_raw": False,
    },
    ("PATCH", "/v3/user/webhooks/parse/settings/{hostname}"): {"send_raw": True},
    ("PATCH", "/v3/user/webhooks/event/settings"): EVENT_WEBHOOK_SETTINGS,
    ("PATCH", "/v3/user/webhooks/event/settings/signed"): {"enabled": True},
    ("POST", "/v3/user/webhooks/event/test"): {"url": "https://example.com/webhook-endpoint"},
    # Suppressions and unsubscribe groups
    **{
        ("DELETE", f"/v3/suppression/{kind}"): SUPPRESSION_DELETE
        for kind in ("bounces", "blocks", "invalid_emails", "spam_reports")
    },
    ("POST", "/v3/asm/suppressions/global"): RECIPIENT_EMAILS,
    ("POST", "/v3/asm/groups"): {
        "name": "Product Suggestions",
        "description": "Suggestions for products our users might like.",
        "is_default": True,
    },
    ("PATCH", "/v3/asm/groups/{group_id}"): {
        "id": 103,
        "name": "Item Suggestions",
        "description": "Suggestions for items our users might like.",
    },
    ("POST", "/v3/asm/groups/{group_id}/suppressions"): RECIPIENT_EMAILS,
    ("POST", "/v3/asm/groups/{group_id}/suppressions/search"): RECIPIENT_EMAILS,
}
