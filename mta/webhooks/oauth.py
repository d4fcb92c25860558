"""A webhook's OAuth 2.0 client credentials (SendGrid's second event webhook mechanism): which of
`oauth_client_id`, `oauth_client_secret` and `oauth_token_url` a request sets or clears, and the
rules they must meet together. Pure functions; the token itself is fetched in mta.events."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from mta.core.errors import ValidationError
from mta.db.models import Webhook

LIMITS = {"oauth_client_id": 255, "oauth_client_secret": 1024, "oauth_token_url": 2048}
Given = str | None | msgspec.UnsetType


class OAuthInput(msgspec.Struct, kw_only=True):
    """The three fields as a request gave them: UNSET when absent, None or "" to clear."""

    client_id: Given = msgspec.UNSET
    client_secret: Given = msgspec.UNSET
    token_url: Given = msgspec.UNSET


class OAuthClient(msgspec.Struct, frozen=True, kw_only=True):
    """Complete client credentials: what a token request needs."""

    client_id: str
    client_secret: str
    token_url: str


class Stored(msgspec.Struct, frozen=True, kw_only=True):
    """The three columns of a webhook row (all None when OAuth is off)."""

    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None

    def client(self) -> OAuthClient | None:
        if self.client_id and self.client_secret and self.token_url:
            return OAuthClient(
                client_id=self.client_id,
                client_secret=self.client_secret,
                token_url=self.token_url,
            )
        return None


def _value(given: Given, field: str) -> str | None:
    """The text given for a field, "" when cleared, None when absent."""
    if given is msgspec.UNSET:
        return None
    text = "" if given is None else given.strip()
    if len(text) > LIMITS[field]:
        raise ValidationError(f"{field} is longer than {LIMITS[field]} characters", field=field)
    return text


def _require(present: dict[str, str | None], field: str, needs: tuple[str, ...]) -> None:
    for other in needs:
        if not present[other]:
            raise ValidationError(f"{other} is required with {field}", field=other)


def merge(current: Stored, given: OAuthInput, check_url: Callable[[str], str]) -> Stored:
    """The stored credentials after a request. Absent fields keep their value; clearing the
    client id and the token URL (to "" or null) turns OAuth off and forgets the secret. The
    secret may be left out when one is stored already, as SendGrid allows."""
    present = {
        "oauth_client_id": _value(given.client_id, "oauth_client_id"),
        "oauth_client_secret": _value(given.client_secret, "oauth_client_secret"),
        "oauth_token_url": _value(given.token_url, "oauth_token_url"),
    }
    client_id, secret, token_url = present.values()
    if client_id is None and token_url is None and not secret:
        return current
    if client_id == "" or token_url == "":
        for field, text in present.items():
            if text:
                raise ValidationError(
                    "oauth_client_id and oauth_token_url are cleared together, "
                    f"so {field} cannot be set",
                    field=field,
                )
        return Stored()
    if client_id:
        _require(present, "oauth_client_id", ("oauth_token_url",))
    if token_url:
        _require(present, "oauth_token_url", ("oauth_client_id",))
    if secret:
        _require(present, "oauth_client_secret", ("oauth_client_id", "oauth_token_url"))
    secret = secret or current.client_secret
    if not secret:
        raise ValidationError(
            "oauth_client_secret is required the first time OAuth is set",
            field="oauth_client_secret",
        )
    assert client_id and token_url  # the checks above leave no other case
    return Stored(client_id=client_id, client_secret=secret, token_url=check_url(token_url))


def for_test(current: Stored, given: OAuthInput, check_url: Callable[[str], str]) -> OAuthClient:
    """The credentials a test POST uses: those given, with the stored secret when none is."""
    merged = merge(current, given, check_url)
    client = merged.client()
    if client is None:
        raise ValidationError(
            "oauth_client_id and oauth_token_url are required to test OAuth",
            field="oauth_client_id",
        )
    return client


def given_any(given: OAuthInput) -> bool:
    return any(
        value is not msgspec.UNSET and value
        for value in (given.client_id, given.client_secret, given.token_url)
    )


def stored_oauth(row: Webhook) -> Stored:
    return Stored(
        client_id=row.oauth_client_id,
        client_secret=row.oauth_client_secret,
        token_url=row.oauth_token_url,
    )


def store_oauth(row: Webhook, oauth: Stored) -> None:
    row.oauth_client_id = oauth.client_id
    row.oauth_client_secret = oauth.client_secret
    row.oauth_token_url = oauth.token_url
