"""Non-standard bounces (qmail, Exim, Sendmail, old Postfix, Exchange, provider notices):
recognise a plain-text bounce and find its failed recipients and their diagnostics (pure)."""

from __future__ import annotations

import re
from email.message import Message
from email.utils import getaddresses

import msgspec

from mta.inbound_mail.parsing.addresses import bare_address
from mta.inbound_mail.parsing.failed_address import (
    is_alias_source,
    is_forwarded,
    is_list_address,
    list_addresses,
    opens_line,
    sender_addresses,
    without_original_to,
)
from mta.inbound_mail.parsing.parts import (
    ORIGINAL_TYPES,
    get_header,
    header_text,
    headers_from_text,
    is_text_leaf,
    original_headers,
    own_parts,
    part_text,
)

BOUNCE_SENDER_RE = re.compile(
    r"mailer-daemon|post_?master|mail delivery (?:sub)?system|mail administrator|"
    r"^(?:root|mail|smtp|mailadmin|nobody|daemon|bounce[sd]?|notify)@",
    re.IGNORECASE,
)
BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|delivery status|delivery (?:has )?fail|failure notice|returned mail|"
    r"mail delivery|delivery notification|non[- ]?deliver|not (?:be )?delivered|"
    r"could not send|delivery problem|mail system error|delayed mail|rejected|"
    r"delivery report|warning: message|message status|unzustellbar|bounce|"
    r"failed delivery|error sending|mail failure|delivery error",
    re.IGNORECASE,
)
# Where the returned copy of the original starts in a text bounce. The leading run of
# quote marks, dashes and blanks is taken atomically: with overlapping `[ \t>-]*`, `-{2,}`
# and `[ \t]*` a long line of dashes or blanks took quadratic time (seconds for 4 KB).
ORIGINAL_MARKERS_RE = re.compile(
    r"^(?>[ \t>-]*)(?:(?>={2,}|\*{2,}|_{2,})[ \t]*)?(?:original message|"
    r"(?:this is a )?copy of (?:the|your) (?:original )?message|"
    r"below this line is a copy|returned message|original (?:mail|message) (?:follows|header)|"
    r"the original message headers|undelivered message|unsent message (?:below|follows)|"
    r"headers? of (?:the|your) (?:original )?message|message header follows|"
    r"content-type: message/rfc822|this is the original message|message headers follow|"
    r"copy of the message header|included is a copy|original message header)",
    re.IGNORECASE | re.MULTILINE,
)
# The returned original's header block, when no marker announces it.
HEADER_BLOCK_RE = re.compile(
    r"^(?:Received: |Return-Path: |From \S+ +\w{3} \w{3} |X-Original-To: |Delivered-To: |"
    r"DKIM-Signature: |Message-I[dD]: |MIME-Version: )",
    re.MULTILINE,
)
# Searched in the lower-cased text: with IGNORECASE the alternation took 36 ms over the
# largest text kept, holding the GIL (and so the event loop) all that time; this takes 2 ms.
BOUNCE_TEXT_RE = re.compile(
    r"could not be delivered|undeliverable|delivery (?:has )?failed|permanent error|"
    r"following address(?:es)? failed|delivery to the following recipients? failed|"
    r"was not delivered|couldn't be delivered|unable to deliver|returned to sender|"
    r"had permanent fatal errors|^[ \t]*(?:user unknown|unknown user|no such user)[ \t]*:",
    re.MULTILINE,
)
# Only from the start of a run of local-part characters: from every position inside a long
# run without "@" the search rescanned the rest of it (quadratic); the matches are the same.
ADDRESS_RE = re.compile(
    r"(?<![A-Za-z0-9!#$%&'*+/=?^_`{|}~.-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*\.)+[A-Za-z]{2,}"
)
MAX_RECIPIENTS = 100
DIAGNOSTIC_CHARS = 600
HEADER_LINE_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*:[ \t]")
SUMMARY_TO_RE = re.compile(r"^[ \t]*(?:to|cc):.*$", re.IGNORECASE | re.MULTILINE)
NOT_RECIPIENT_RE = re.compile(
    r"(?:from:?\s*<?|sender:?\s*<?|contact\s*<?|send mail to\s*<?|generated from\s*<?)$"
)
ID_HEADER_RE = re.compile(
    r"^(?:message-id|in-reply-to|references|x-[\w-]+|content-[\w-]+|received|date|"
    r"return-path|sender|reply-to|dkim-signature|mime-version|from):.*$",
    re.IGNORECASE | re.MULTILINE,
)
# Exim's "recipient addresses that were incorrectly constructed" notice: one entry a line,
# "  <the address as written>: malformed address: <why>".
EXIM_MALFORMED_RE = re.compile(r"^[ \t]+(\S.*?): malformed address:", re.MULTILINE)
# A heading over bare local parts: Exim's "The following address(es) failed:", AOL's "Your
# mail to the following recipients could not be delivered because …:".
LOCAL_PARTS_HEADING_RE = re.compile(
    r"following (?:address(?:\(es\)|es)?|recipients?)\b[^\n]{0,200}?"
    r"(?:failed|not be delivered|undeliverable)[^\n]{0,200}:[ \t]*\n",
    re.IGNORECASE,
)
DAEMON_SENDER_RE = re.compile(r"^(?:mailer-daemon|postmaster)@(.+)$", re.IGNORECASE)


# The bounce's own header addresses (its sender, its recipient, the envelope it came to):
# never the failed address, even when its text names them.
OWN_HEADERS = (
    "From", "To", "Cc", "Reply-To", "Sender", "Delivered-To", "X-Original-To", "Envelope-To",
    "Errors-To",
)  # fmt: skip


class TextRecipient(msgspec.Struct, frozen=True):
    address: str
    diagnostic: str


def looks_like_bounce(message: Message, text: str) -> bool:
    """A bounce by its sender (MAILER-DAEMON, postmaster), subject or wording."""
    if message.get("X-Failed-Recipients") is not None or BOUNCE_TEXT_RE.search(text.lower()):
        return True
    sender = get_header(message, "From")
    if BOUNCE_SENDER_RE.search(sender):
        return True
    return bool(BOUNCE_SUBJECT_RE.search(get_header(message, "Subject")))


def bounce_text(message: Message) -> str:
    """The human-readable text of a bounce: its text parts before any returned original,
    cut where a quoted original starts."""
    texts: list[str] = []
    for part in own_parts(message):
        if part.get_content_type() in ORIGINAL_TYPES:
            break
        if not is_text_leaf(part):
            continue
        if part.get_content_subtype() == "html" and texts:
            continue
        text = part_text(part).replace("\r\n", "\n")
        if part.get_content_subtype() == "html":
            text = re.sub(r"(?is)<(style|script|head)\b.*?</\1\s*>|<[^>]*>", " ", text)
        texts.append(text)
    text = "\n".join(texts)
    ends = [
        m.start() for m in (ORIGINAL_MARKERS_RE.search(text), HEADER_BLOCK_RE.search(text)) if m
    ]
    return text[: min(ends)] if ends else text


def _addresses(message: Message, names: tuple[str, ...]) -> set[str]:
    values = [get_header(message, name) for name in names]
    return {address.lower() for _, address in getaddresses(values) if address}


def _failed_header(message: Message) -> list[str]:
    """X-Failed-Recipients' addresses, each cleaned of a prefix, quote or stray bracket."""
    values = [header_text(value) for value in message.get_all("X-Failed-Recipients") or []]
    found = [bare_address(item) for value in values for item in value.split(",")]
    return list(dict.fromkeys(address.lower() for address in found if address))


def diagnostic_for(address: str, text: str, others: list[str]) -> str:
    """The text that follows `address` in a bounce, up to the next recipient it names (at
    most DIAGNOSTIC_CHARS); the start of the whole text when the address is not in it."""
    lower = text.lower()
    at = lower.find(address.lower())
    if at < 0:
        return " ".join(text.split())[:DIAGNOSTIC_CHARS]
    line = lower.rfind("\n", 0, at) + 1  # "Unknown user: <address>" puts the cause first
    start = at + len(address)
    ends = [lower.find(other.lower(), start) for other in others if other != address]
    end = min([e for e in ends if e >= 0] + [start + DIAGNOSTIC_CHARS])
    return " ".join(text[line:end].strip(" \t:>)\n").split())


def _scan_text(text: str) -> str:
    """`text` without quote marks and without the header lines that carry message ids."""
    unquoted = re.sub(r"^(?:> ?)+", "", text, flags=re.MULTILINE)
    return ID_HEADER_RE.sub("", unquoted)


class Excluded(msgspec.Struct, frozen=True):
    """What a text bounce's named addresses are read against: addresses never taken, the
    returned original's headers (its List-Id) and its recipient (`To`)."""

    addresses: set[str]
    original: dict[str, str]
    original_to: list[str]


def _named(text: str, excluded: Excluded) -> list[str]:
    """The addresses a bounce's text names, without the excluded ones, the sender's in a
    transcript ("MAIL FROM:<...>"), the contacts of its boilerplate and an alias the error
    is not about; a summary's "To:" line counts only when nothing else is named."""
    scan = _scan_text(text)
    return _named_in(SUMMARY_TO_RE.sub("", scan), excluded) or _named_in(scan, excluded)


def _named_in(scan: str, excluded: Excluded) -> list[str]:
    found: list[str] = []
    listed: set[str] = set()
    for match in ADDRESS_RE.finditer(scan):
        address = match.group(0).strip(".").lower()
        before = scan[max(0, match.start() - 24) : match.start()].lower()
        if address in excluded.addresses or address in found or _is_daemon(address):
            continue
        if NOT_RECIPIENT_RE.search(before) or is_alias_source(before):
            continue
        if is_list_address(address, excluded.original):
            continue
        if is_forwarded(scan[match.end() : match.end() + 80]):
            continue
        found.append(address)
        if opens_line(scan, match.start()):
            listed.add(address)
        if len(found) >= MAX_RECIPIENTS:
            break
    others = [address for address in found if not address.startswith("postmaster@")]
    # "send mail to <postmaster@...>" is boilerplate
    return without_original_to(others or found, listed, excluded.original_to)


def _is_daemon(address: str) -> bool:
    return address.startswith("mailer-daemon@")


def _local_parts(message: Message, text: str) -> list[str]:
    """The bare local parts under a failure heading (Exim, AOL), each with the domain of
    the bounce's sender when that is the reporting system's MAILER-DAEMON or postmaster
    (the system names one of its own mailboxes), else as written."""
    match = LOCAL_PARTS_HEADING_RE.search(text)
    if not match:
        return []
    following = text[match.end() :].lstrip("\n").split("\n")
    parts = [line.strip() for line in following[:1] if re.fullmatch(r"[ \t]+[^\s@<>]+", line)]
    senders = [address for _, address in getaddresses([get_header(message, "From")])]
    daemon = DAEMON_SENDER_RE.match(senders[0]) if senders else None
    if daemon is None:
        return [part.lower() for part in parts]
    return [f"{part}@{daemon.group(1)}".lower() for part in parts]


def _malformed(text: str) -> list[str]:
    """The entries of Exim's malformed-address notice, the first address of each."""
    found = [ADDRESS_RE.search(m.group(1)) for m in EXIM_MALFORMED_RE.finditer(text)]
    return [m.group(0).lower() for m in found if m][:MAX_RECIPIENTS]


def _original_to(message: Message) -> list[str]:
    """The To of the original a bounce returns (attached or quoted after a marker): the
    recipient of a bounce whose text names none."""
    headers = original_headers(message)
    if "to" not in headers:
        whole = "\n".join(
            part_text(p) for p in own_parts(message) if p.get_content_maintype() == "text"
        )
        marker = ORIGINAL_MARKERS_RE.search(whole)
        quoted = whole[marker.end() :] if marker else ""
        found = re.search(r"^\s*to:\s*(.+)$", quoted, re.IGNORECASE | re.MULTILINE)
        headers = {"to": found.group(1)} if found else {}
    return [
        address.lower() for _, address in getaddresses([headers.get("to", "")]) if "@" in address
    ][:1]


def quoted_original_headers(message: Message) -> dict[str, str]:
    """The headers of an original a text bounce quotes after a marker ("Below this line is
    a copy of the message."), or {}."""
    for part in own_parts(message):
        if not is_text_leaf(part):
            continue
        text = part_text(part).replace("\r\n", "\n")
        marker = ORIGINAL_MARKERS_RE.search(text)
        if marker is None:
            continue
        quoted = text[text.find("\n", marker.end()) + 1 :].lstrip("\n")
        quoted = re.sub(r"^(?:> ?)+", "", quoted, flags=re.MULTILINE)
        found = headers_from_text(quoted) if HEADER_LINE_RE.match(quoted) else {}
        if found:
            return found
    return {}


def text_recipients(message: Message, text: str) -> list[TextRecipient]:
    """The recipients a text bounce names, each with the text that speaks of it. Never the
    returned original's list addresses; its sender's only in a bounce to oneself."""
    original = original_headers(message) or quoted_original_headers(message)
    lists = list_addresses(original)
    original_to = [
        a for a in _original_to(message) if a not in lists and not is_list_address(a, original)
    ]
    own = _addresses(message, OWN_HEADERS) | sender_addresses(original) | lists
    oneself = _addresses(message, ("From", "Sender")) | lists  # a bounce to oneself
    addresses = (
        _failed_header(message)
        or _malformed(text)
        or _named(text, Excluded(own, original, original_to))
        or _local_parts(message, text)
        or _named(text, Excluded(oneself, original, original_to))
        or original_to
    )
    scan = _scan_text(text)
    return [TextRecipient(a, diagnostic_for(a, scan, addresses)) for a in addresses]
