"""A message taken over SMTP, as its client sent it: hop count, headers, From addresses,
X-SMTPAPI fields and filters, and the stamp (Received, Message-ID, Date) we add before signing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import getaddresses

import msgspec

from mta.core.addresses import check_email
from mta.core.errors import MailLoop
from mta.core.model import SessionTrace
from mta.submission.mime import HEADER_END, header_values, received_count, stamp_submitted
from mta.submission.smtp_message.received import received_header
from mta.submission.smtp_message.smtpapi import read_smtpapi
from mta.submission.smtp_message.smtpapi_filters import NO_FILTERS, FilterSettings, filter_settings
from queue_store.entries import RecipientState

MAX_HOPS = 50  # Postfix's hopcount_limit
# A Return-Path field with its folded lines: the envelope's, written by the delivering MTA.
RETURN_PATH = re.compile(rb"^return-path[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*\n?", re.I | re.M)


def check_hop_count(data: bytes) -> None:
    if received_count(data) > MAX_HOPS:
        raise MailLoop(f"Too many hops (more than {MAX_HOPS} Received headers): mail loop?")


def read_submitted(data: bytes) -> tuple[dict[str, str], list[str]]:
    """A submitted message's headers and its From addresses; refuses a looping message."""
    check_hop_count(data)
    headers = header_values(data)
    return headers, [addr for _, addr in getaddresses([headers.get("from", "")]) if addr]


class Submitted(msgspec.Struct):
    """A message taken over SMTP: its headers and From addresses as the client sent them, its
    X-SMTPAPI categories, unique args and filters, and its bytes without that header."""

    headers: dict[str, str]
    header_from: list[str]
    categories: list[str]
    custom_args: dict[str, str]
    data: bytes
    send_at: int | None = None
    asm_group_id: int | None = None
    settings: FilterSettings = NO_FILTERS


def without_return_path(data: bytes) -> bytes:
    """The message without the client's Return-Path fields: the MTA that delivers it writes
    the one that holds, from the envelope sender (RFC 5321 §4.4), as Postfix and Exim do."""
    end = HEADER_END.search(data)
    cut = end.end() if end else len(data)
    return RETURN_PATH.sub(b"", data[:cut]) + data[cut:]


def take_submitted(data: bytes, now: float) -> Submitted:
    """Hop count and headers are read from the client's bytes, before we add our own; the
    client's X-SMTPAPI and Return-Path fields are not kept."""
    headers, header_from = read_submitted(data)
    api, stripped = read_smtpapi(without_return_path(data), now=now)
    fields = (api.categories, api.unique_args, stripped, api.send_at, api.asm_group_id)
    return Submitted(headers, header_from, *fields, filter_settings(api.filters))


def stamp(submitted: Submitted, trace: SessionTrace, message_id: str, domain: str) -> bytes:
    """The message with our Received, tracking, and any missing Message-ID / Date headers."""
    return stamp_submitted(
        submitted.data,
        message_id=message_id,
        domain=domain,
        present=submitted.headers,
        received=received_header(trace, message_id, datetime.now(UTC)),
    )


def envelope_recipients(rcpt_tos: list[str]) -> list[RecipientState]:
    return [
        RecipientState(email=check_email(rcpt, f"rcpt.{i}", utf8=True), index=i)
        for i, rcpt in enumerate(rcpt_tos)
    ]
