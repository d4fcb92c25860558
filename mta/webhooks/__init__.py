"""Event webhooks: endpoints and their settings, the SSRF guard, OAuth credentials,
the outbox sender and its transport, and SendGrid's webhook format and settings API."""
