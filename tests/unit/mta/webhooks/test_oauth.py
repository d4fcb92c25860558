"""The OAuth settings policy of a webhook (pure): which fields a request sets, keeps or clears,
the fields that must come together (a 400 naming the missing one), and the stored secret
that may be left out later, as SendGrid allows."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from mta.core.errors import ValidationError
from mta.webhooks.oauth import OAuthClient, OAuthInput, Stored, for_test, merge

U = msgspec.UNSET
URL = "https://auth.example.com/token"
SET = Stored(client_id="id", client_secret="secret", token_url=URL)


def checked(url: str) -> str:
    if not url.startswith("https://"):
        raise ValidationError("oauth_token_url must use https", field="oauth_token_url")
    return url


@pytest.mark.parametrize(
    ("current", "given", "expected"),
    [
        (Stored(), OAuthInput(), Stored()),
        (SET, OAuthInput(), SET),
        (Stored(), OAuthInput(client_id="id", client_secret="secret", token_url=URL), SET),
        # The secret is kept when id and URL change without it.
        (SET, OAuthInput(client_id="id2", token_url=URL), Stored(
            client_id="id2", client_secret="secret", token_url=URL)),
        # "" or null on the id and URL turns OAuth off and forgets the secret.
        (SET, OAuthInput(client_id="", token_url=""), Stored()),
        (SET, OAuthInput(client_id=None, token_url=None, client_secret=None), Stored()),
        (SET, OAuthInput(client_id=None), Stored()),
        # A secret cleared alone is no change (clients send null for "not given").
        (SET, OAuthInput(client_secret=None), SET),
        (Stored(), OAuthInput(client_id=" id ", client_secret="secret", token_url=URL), SET),
    ],
)  # fmt: skip
def test_merge(current: Stored, given: OAuthInput, expected: Stored) -> None:
    assert merge(current, given, checked) == expected


@pytest.mark.parametrize(
    ("current", "fields", "field"),
    [
        (Stored(), {"client_id": "id"}, "oauth_token_url"),
        (Stored(), {"token_url": URL}, "oauth_client_id"),
        (Stored(), {"client_id": "id", "token_url": URL}, "oauth_client_secret"),
        (Stored(), {"client_secret": "secret"}, "oauth_client_id"),
        (SET, {"client_secret": "new", "client_id": "id"}, "oauth_token_url"),
        (SET, {"client_id": "", "token_url": URL}, "oauth_token_url"),
        (SET, {"client_id": None, "client_secret": "x"}, "oauth_client_secret"),
        (Stored(), {"client_id": "id", "client_secret": "s", "token_url": "http://a/t"},
         "oauth_token_url"),
        (Stored(), {"client_id": "x" * 256, "client_secret": "s", "token_url": URL},
         "oauth_client_id"),
    ],
)  # fmt: skip
def test_half_set_fields_are_a_400_naming_the_field(
    current: Stored, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        merge(current, OAuthInput(**fields), checked)
    assert caught.value.field == field


def test_a_test_post_uses_the_given_fields_and_the_stored_secret() -> None:
    given = OAuthInput(client_id="other", token_url="https://other.example/t")
    assert for_test(SET, given, checked) == OAuthClient(
        client_id="other", client_secret="secret", token_url="https://other.example/t"
    )
    with pytest.raises(ValidationError) as caught:
        for_test(Stored(), given, checked)
    assert caught.value.field == "oauth_client_secret"
    with pytest.raises(ValidationError):
        for_test(SET, OAuthInput(client_id="", token_url=""), checked)
