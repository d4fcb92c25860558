"""The `/v3/mail/send` body as typed Structs (SendGrid's field names), and its decoding.

Decoding errors carry SendGrid-style field paths such as `personalizations.0.to.1.email`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import msgspec

from mta.core.errors import ValidationError
from mta.tracking.settings import TrackingSettings


class Address(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    email: str
    name: str | None = None


class Content(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    value: str


class Attachment(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    content: str  # base64
    filename: str
    type: str | None = None
    disposition: Literal["inline", "attachment"] | None = None  # None: attachment
    content_id: str | None = None


class Personalization(
    msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename={"from_": "from"}
):
    to: list[Address]
    from_: Address | None = None
    cc: list[Address] = msgspec.field(default_factory=list)
    bcc: list[Address] = msgspec.field(default_factory=list)
    subject: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    substitutions: dict[str, str] = msgspec.field(default_factory=dict)
    dynamic_template_data: dict[str, Any] = msgspec.field(default_factory=dict)
    custom_args: dict[str, str] = msgspec.field(default_factory=dict)
    send_at: int | None = None


class Asm(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    group_id: int
    groups_to_display: list[int] = msgspec.field(default_factory=list)


class Setting(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enable: bool = False


class Footer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enable: bool = False
    text: str | None = None
    html: str | None = None


class MailSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    bypass_list_management: Setting | None = None
    bypass_spam_management: Setting | None = None
    bypass_bounce_management: Setting | None = None
    bypass_unsubscribe_management: Setting | None = None
    footer: Footer | None = None
    sandbox_mode: Setting | None = None


class MailSend(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename={"from_": "from"}):
    personalizations: list[Personalization]
    from_: Address
    reply_to: Address | None = None
    reply_to_list: list[Address] = msgspec.field(default_factory=list)
    subject: str | None = None
    content: list[Content] = msgspec.field(default_factory=list)
    attachments: list[Attachment] = msgspec.field(default_factory=list)
    template_id: str | None = None
    sections: dict[str, str] = msgspec.field(default_factory=dict)
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    categories: list[str] = msgspec.field(default_factory=list)
    custom_args: dict[str, str] = msgspec.field(default_factory=dict)
    send_at: int | None = None
    batch_id: str | None = None
    asm: Asm | None = None
    ip_pool_name: str | None = None
    mail_settings: MailSettings = msgspec.field(default_factory=MailSettings)
    tracking_settings: TrackingSettings = msgspec.field(default_factory=TrackingSettings)


def is_sandbox(request: MailSend) -> bool:
    """mail_settings.sandbox_mode.enable: validate everything, queue nothing (SendGrid's 200)."""
    sandbox = request.mail_settings.sandbox_mode
    return sandbox is not None and sandbox.enable


SEND_AT_TYPE = (
    "The send_at parameter is expecting a Unix timestamp as an integer. We will send "
    "immediately if you include a send_at timestamp that is in the past."
)
# SendGrid's words for a value of the wrong type at these paths (indices as `N`).
TYPE_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "categories": "Categories must be an array of strings.",
        "custom_args": "All values of custom arguments object must be strings",
        "personalizations.N.custom_args": "All values of custom arguments object must be strings",
        "headers": "The header values must be strings.",
        "personalizations.N.headers": "All values of the headers object must be strings.",
        "personalizations.N.substitutions": (
            "The substitution values must be an object of key/value pairs, "
            "where the values are all strings."
        ),
        "sections": "The section values must be strings.",
        "send_at": SEND_AT_TYPE,
        "personalizations.N.send_at": SEND_AT_TYPE,
        "batch_id": "The batch_id must be a string.",
        "asm.group_id": "The ASM group ID must be an integer.",
        "asm.groups_to_display": "The ASM Group IDs to display must be an array of integers.",
        "ip_pool_name": "The name of your IP pool must be a string.",
        "template_id": "The template ID must be a string.",
    }
)
DISPOSITION = 'The disposition of your attachment can be either "inline" or "attachment".'


def _sendgrid_words(text: str, path: str) -> str:
    """SendGrid's message for a type error at a path it documents; msgspec's otherwise."""
    generic = re.sub(r"\.\d+(?=\.|$)", ".N", path)
    if text.startswith("Invalid enum value") and generic == "attachments.N.disposition":
        return f"{DISPOSITION} You provided {text.removeprefix('Invalid enum value ')}."
    if text.startswith("Expected"):
        for candidate in (generic, generic.rpartition(".")[0]):
            if candidate in TYPE_MESSAGES:
                return TYPE_MESSAGES[candidate]
    return text


def field_path(message: str) -> tuple[str, str | None]:
    """Split msgspec's "… - at `$.a[0].b`" into (text, "a.0.b")."""
    match = re.search(r" - at `\$\.?([^`]*)`$", message)
    text = message[: match.start()] if match else message  # top-level errors carry no path
    path = re.sub(r"\[(\d+)\]", r".\1", match.group(1) if match else "")
    path = path.replace("[...]", "").replace("from_", "from")
    missing = re.match(r"Object missing required field `([^`]+)`", text)
    if missing:
        name = missing.group(1)
        return f"The {name} parameter is required.", f"{path}.{name}" if path else name
    unknown = re.match(r"Object contains unknown field `([^`]+)`", text)
    if unknown:
        name = unknown.group(1)
        return f"Unknown field {name!r}.", f"{path}.{name}" if path else name
    return _sendgrid_words(text, path), path or None


def decode_json(body: bytes, kind: type[Any]) -> Any:
    """Decode a JSON body into `kind`, raising ValidationError with the field path."""
    try:
        return msgspec.json.decode(body, type=kind)
    except UnicodeDecodeError:  # msgspec before 0.23
        raise ValidationError("The request body is not valid UTF-8.") from None
    except msgspec.ValidationError as exc:
        text, path = field_path(str(exc))
        raise ValidationError(text, field=path) from None
    except msgspec.DecodeError as exc:
        if not is_utf8(body):  # msgspec 0.23 reports bad UTF-8 as a DecodeError
            raise ValidationError("The request body is not valid UTF-8.") from None
        raise ValidationError(f"The request body is not valid JSON: {exc}") from None


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
