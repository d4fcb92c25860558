"""Notices of the fml mailing-list manager (X-MLServer: fml): a list that refused a message
("You are not a member of this mailing list <list@...>.") or stopped a loop ("Duplicated
Message-ID in <list@...>."). Each names the list address it refused the message for (pure)."""

from __future__ import annotations

import re
from email.message import Message

from mta.inbound_mail.parsing.parts import get_header, is_text_leaf, own_parts, part_text
from mta.inbound_mail.parsing.reasons import CLASSIFICATION, is_hard
from mta.inbound_mail.parsing.report import Report, ReportRecipient

FML_MESSAGE_ID_RE = re.compile(r"^<\d+\.FML[^@]*@[^>]+>$", re.IGNORECASE)
FML_ADMIN_RE = re.compile(r"-admin@", re.IGNORECASE)
ORIGINAL_RE = re.compile(r"^Original mail as follows:", re.MULTILINE)
# The local part without "@": with it, a long line of "@" was split every way (cubic time).
NAMED_RE = re.compile(r"<([^<>\s@]+@[^<>\s]+)>\.\s*$")
# (reason, pattern) for the notice's text, then for its subject: fml's own wordings.
BODY_REASONS = [
    (
        "rejected",
        re.compile(
            r"(?:Ignored )*NOT MEMBER article from |reject (?:mail from .+@.+|since .+ "
            r"header may cause mail loop|spammers:)|You are not a member of this mailing list"
        ),
    ),
    (
        "system error",
        re.compile(
            r"Duplicated Message-ID|fml .+ has detected a loop condition so that|"
            r"Loop Back Warning:"
        ),
    ),
    ("security error", re.compile(r"Security alert:")),
]
SUBJECT_REASONS = [
    (
        "rejected",
        re.compile(
            r"(?:Ignored )*NOT MEMBER article from |reject mail (?:.+:|from) |"
            r"Spam mail from a spammer is rejected|You .+ are not member"
        ),
    ),
    (
        "system error",
        re.compile(r"fml system error message|Loop Alert: |Loop Back Warning: |UNIX FROM Loop"),
    ),
    ("security error", re.compile(r"Security Alert")),
]


def _is_fml(message: Message) -> bool:
    return (
        message.get("X-MLServer") is not None
        and bool(FML_ADMIN_RE.search(get_header(message, "From")))
        and bool(FML_MESSAGE_ID_RE.match(get_header(message, "Message-ID").strip()))
    )


def _notice_text(message: Message) -> str:
    texts = [part_text(part) for part in own_parts(message) if is_text_leaf(part)]
    text = "\n".join(texts).replace("\r\n", "\n")
    cut = ORIGINAL_RE.search(text)
    return text[: cut.start()] if cut else text


def _reason(text: str, subject: str) -> str:
    for reason, pattern in BODY_REASONS:
        if pattern.search(text):
            return reason
    for reason, pattern in SUBJECT_REASONS:
        if pattern.search(subject):
            return reason
    return "undefined"


def parse_fml(message: Message) -> Report | None:
    """The Report of an fml notice (one recipient per list address it names), or None."""
    if not _is_fml(message):
        return None
    text = _notice_text(message)
    lines = [line.strip() for line in text.split("\n")]
    named = [(m.group(1).lower(), line) for line in lines if (m := NAMED_RE.search(line))]
    if not named:
        return None
    reason = _reason(" ".join(text.split()), get_header(message, "Subject"))
    classification, bounce_type = CLASSIFICATION.get(reason, ("Unclassified", "bounce"))
    recipients = [
        ReportRecipient(
            address=address,
            action="failed",
            status="5.0.0",
            diagnostic=line,
            classification=classification,
            bounce_type=bounce_type,
            hard=is_hard("failed", "5.0.0", reason),
            reason=reason,
        )
        for address, line in named
    ]
    return Report(kind="dsn", recipients=recipients, reporter=get_header(message, "From"))
