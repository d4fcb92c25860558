"""Checks on a send request's optional fields: reply_to_list, categories, custom_args,
substitutions and sections, asm, ip_pool_name, mail_settings (SendGrid's limits and words)."""

from __future__ import annotations

from collections.abc import Iterable

from mta.core.errors import ValidationError
from mta.submission.send_request.fields import check_address, check_text
from mta.submission.send_request.request import MailSend

MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_REPLY_TO = 1000
MAX_ARGS_BYTES = 10_000
MAX_GROUPS_TO_DISPLAY = 25
BYPASSES = ("bypass_spam_management", "bypass_bounce_management", "bypass_unsubscribe_management")


def check_options(request: MailSend) -> None:
    check_reply_to_list(request)
    check_categories(request.categories)
    check_custom_args(request)
    check_substitutions(request)
    check_asm(request)
    check_mail_settings(request)
    if request.ip_pool_name is not None:
        if not 2 <= len(request.ip_pool_name) <= 64:
            raise ValidationError(
                "The IP pool name must be 2 to 64 characters long.", field="ip_pool_name"
            )
        check_text(request.ip_pool_name, "ip_pool_name", "The IP pool name")


def check_reply_to_list(request: MailSend) -> None:
    if not request.reply_to_list:
        return
    if request.reply_to is not None:
        raise ValidationError(
            "reply_to is mutually exclusive with reply_to_list.", field="reply_to_list"
        )
    if len(request.reply_to_list) > MAX_REPLY_TO:
        raise ValidationError(
            "There is a limit of 1000 reply_to emails per mail/send request.",
            field="reply_to_list",
        )
    seen: set[str] = set()
    for index, address in enumerate(request.reply_to_list):
        check_address(address, f"reply_to_list.{index}", "reply_to_list")
        if address.email.lower() in seen:
            raise ValidationError(
                "Each email address in the reply_to_list should be unique.",
                field=f"reply_to_list.{index}.email",
            )
        seen.add(address.email.lower())


def check_categories(categories: list[str]) -> None:
    if len(categories) > MAX_CATEGORIES:
        raise ValidationError(
            "There is a limit of 10 categories for each email that is sent. "
            f"You provided {len(categories)} categories.",
            field="categories",
        )
    seen: set[str] = set()
    for index, category in enumerate(categories):
        field = f"categories.{index}"
        if len(category) > MAX_CATEGORY_LENGTH:
            raise ValidationError(
                f"Each category must not be longer than 255 characters. "
                f"{category[:40]}… exceeds this limit",
                field=field,
            )
        check_text(category, field, "Categories")
        if category in seen:
            raise ValidationError(
                "The categories must be a unique list, and you have included "
                f"{category} more than once.",
                field=field,
            )
        seen.add(category)


def check_custom_args(request: MailSend) -> None:
    """Keys and values fit for a header (they are echoed in events and webhooks); the
    request's merged with each personalization's fit in 10,000 bytes."""
    _check_pairs(request.custom_args.items(), "custom_args", "Custom arguments")
    for index, personalization in enumerate(request.personalizations):
        field = f"personalizations.{index}.custom_args"
        _check_pairs(personalization.custom_args.items(), field, "Custom arguments")
        merged = {**request.custom_args, **personalization.custom_args}
        if _size(merged.items()) > MAX_ARGS_BYTES:
            raise ValidationError(
                "The combined size of both global and personalization custom arguments may "
                "not exceed 10,000 bytes per personalization.",
                field=field if personalization.custom_args else "custom_args",
            )


def check_substitutions(request: MailSend) -> None:
    """Substitution tags: non-empty, 10,000 bytes per personalization; values may hold line
    breaks (they fill bodies too), a subject they break is refused when it is built."""
    for index, personalization in enumerate(request.personalizations):
        field = f"personalizations.{index}.substitutions"
        if "" in personalization.substitutions:
            raise ValidationError("A substitution tag may not be empty.", field=field)
        if _size(personalization.substitutions.items()) > MAX_ARGS_BYTES:
            raise ValidationError(
                "Substitutions are limited to 10,000 bytes per personalization.", field=field
            )
    if "" in request.sections:
        raise ValidationError("A section tag may not be empty.", field="sections")


def check_asm(request: MailSend) -> None:
    if request.asm is None:
        return
    if len(request.asm.groups_to_display) > MAX_GROUPS_TO_DISPLAY:
        raise ValidationError(
            "There is a limit of 25 unsubscribe groups that can be displayed to a user at a time.",
            field="asm.groups_to_display",
        )


def check_mail_settings(request: MailSend) -> None:
    """The all-lists bypass cannot be combined with any single-list bypass."""
    settings = request.mail_settings
    everything = settings.bypass_list_management
    if everything is None or not everything.enable:
        return
    for name in BYPASSES:
        setting = getattr(settings, name)
        if setting is not None and setting.enable:
            raise ValidationError(
                f"bypass_list_management cannot be combined with {name}.",
                field=f"mail_settings.{name}",
            )


def _check_pairs(pairs: Iterable[tuple[str, str]], field: str, what: str) -> None:
    for key, value in pairs:
        check_text(key, f"{field}.{key}", what)
        check_text(value, f"{field}.{key}", what)


def _size(pairs: Iterable[tuple[str, str]]) -> int:
    return sum(len(key.encode()) + len(value.encode()) for key, value in pairs)
