"""The `/v3/mail/send` body as typed Structs (SendGrid's field names), and its decoding.

Decoding errors carry SendGrid-style field paths such as `personalizations.0.to.1.email`.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from mta.errors import ValidationError


class Address(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    email: str
    name: str | None = None


class Content(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    value: str


class Personalization(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to: list[Address]
    cc: list[Address] = msgspec.field(default_factory=list)
    bcc: list[Address] = msgspec.field(default_factory=list)
    subject: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    dynamic_template_data: dict[str, Any] = msgspec.field(default_factory=dict)
    custom_args: dict[str, str] = msgspec.field(default_factory=dict)


class MailSend(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename={"from_": "from"}):
    personalizations: list[Personalization]
    from_: Address
    reply_to: Address | None = None
    subject: str | None = None
    content: list[Content] = msgspec.field(default_factory=list)
    template_id: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    categories: list[str] = msgspec.field(default_factory=list)
    custom_args: dict[str, str] = msgspec.field(default_factory=dict)


def field_path(message: str) -> tuple[str, str | None]:
    """Split msgspec's "… - at `$.a[0].b`" into (text, "a.0.b")."""
    match = re.search(r" - at `\$\.?([^`]*)`$", message)
    text = message[: match.start()] if match else message  # top-level errors carry no path
    path = re.sub(r"\[(\d+)\]", r".\1", match.group(1) if match else "").replace("from_", "from")
    missing = re.match(r"Object missing required field `([^`]+)`", text)
    if missing:
        name = missing.group(1)
        return f"The {name} parameter is required.", f"{path}.{name}" if path else name
    unknown = re.match(r"Object contains unknown field `([^`]+)`", text)
    if unknown:
        name = unknown.group(1)
        return f"Unknown field {name!r}.", f"{path}.{name}" if path else name
    return text, path or None


def decode_json(body: bytes, kind: type[Any]) -> Any:
    """Decode a JSON body into `kind`, raising ValidationError with the field path."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        text, path = field_path(str(exc))
        raise ValidationError(text, field=path) from None
    except msgspec.DecodeError as exc:
        raise ValidationError(f"The request body is not valid JSON: {exc}") from None
