"""Intake's suppression check: which recipients of a message are on the account's lists or
its unsubscribe group, with SendGrid's dropped reasons and the request's bypass settings;
dropped recipients leave the spool entries and get a Dropped event instead."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Protocol

import msgspec

from mta.core.events import Dropped, about
from mta.submission.send_request.request import MailSend, MailSettings
from queue_store.entries import QueueEntry

# (list, SendGrid's dropped reason); the first list an address is on gives the reason.
# Blocks are not here: SendGrid does not suppress future mail to blocked addresses.
REASONS: tuple[tuple[str, str], ...] = (
    ("bounces", "Bounced Address"),
    ("invalid_emails", "Invalid"),
    ("spam_reports", "Spam Reporting Address"),
    ("unsubscribes", "Unsubscribed Address"),
    ("group", "Unsubscribed Address"),
)


class Bypass(msgspec.Struct, frozen=True, kw_only=True):
    """mail_settings.bypass_*: the checks a request skips."""

    everything: bool = False  # bypass_list_management
    spam: bool = False
    bounce: bool = False
    unsubscribe: bool = False  # global unsubscribes only, never the group's


NO_BYPASS = Bypass()


def bypass_of(request: MailSend) -> Bypass:
    return bypass_from(request.mail_settings)


def bypass_from(settings: MailSettings) -> Bypass:
    """mail_settings (of a request, or of X-SMTPAPI filters) as the checks to skip."""

    def on(setting: object) -> bool:
        return bool(getattr(setting, "enable", False))

    return Bypass(
        everything=on(settings.bypass_list_management),
        spam=on(settings.bypass_spam_management),
        bounce=on(settings.bypass_bounce_management),
        unsubscribe=on(settings.bypass_unsubscribe_management),
    )


def skipped(bypass: Bypass) -> frozenset[str]:
    """The lists the bypass settings leave unchecked."""
    if bypass.everything:
        return frozenset(name for name, _ in REASONS)
    names = {"spam_reports"} if bypass.spam else set()
    names |= {"bounces"} if bypass.bounce else set()
    names |= {"unsubscribes"} if bypass.unsubscribe else set()
    return frozenset(names)


def drop_reason(lists: Iterable[str], bypass: Bypass) -> str | None:
    """SendGrid's dropped reason for an address on `lists`, or None to send it."""
    present = set(lists) - skipped(bypass)
    return next((reason for name, reason in REASONS if name in present), None)


class Lookup(Protocol):
    async def lookup(
        self, account_id: str, emails: Collection[str], group_id: int | None
    ) -> dict[str, set[str]]: ...

    async def require_group(self, account_id: str, group_id: int) -> None: ...


class Screened(msgspec.Struct, kw_only=True):
    """The entries with dropped recipients taken out (an entry may be left with none), and
    the Dropped events for those recipients."""

    entries: list[QueueEntry]
    dropped: list[Dropped]


async def screen(lookup: Lookup | None, entries: list[QueueEntry], bypass: Bypass) -> Screened:
    """One lookup for every recipient of a message (all its entries share one account and
    unsubscribe group); recipients keep their indexes."""
    if lookup is None or not entries or bypass.everything:
        return Screened(entries=entries, dropped=[])
    envelope = entries[0].envelope
    emails = {state.email for entry in entries for state in entry.recipients}
    found = await lookup.lookup(envelope.account_id, emails, envelope.asm_group_id)
    if not found:
        return Screened(entries=entries, dropped=[])
    kept: list[QueueEntry] = []
    dropped: list[Dropped] = []
    for entry in entries:
        keep = []
        for state in entry.recipients:
            reason = drop_reason(found.get(state.email.lower(), ()), bypass)
            if reason is None:
                keep.append(state)
            else:
                dropped.append(Dropped(**about(entry.envelope, state), reason=reason))
        kept.append(QueueEntry(envelope=entry.envelope, recipients=keep))
    return Screened(entries=kept, dropped=dropped)
