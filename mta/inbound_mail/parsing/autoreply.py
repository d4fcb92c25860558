"""Recognise automatic replies (RFC 3834 Auto-Submitted, vacation and out-of-office
notices): they are not bounces and report no recipient (pure)."""

from __future__ import annotations

import re
from email.message import Message

from mta.inbound_mail.parsing.parts import get_header

AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-vacation")
SUBJECT_RE = re.compile(
    r"(?:out of (?:the )?office|automatic reply|auto[- ]?reply|auto[- ]?response|"
    r"autoresponder|vacation|away from|on leave|abwesenheit|absence|"
    r"r[ée]ponse automatique|respuesta autom[aá]tica|risposta automatica|不在)",
    re.IGNORECASE,
)


def is_autoreply(message: Message) -> bool:
    """True for an auto-reply: RFC 3834's Auto-Submitted: auto-replied, the vacation
    programs' own headers, Precedence auto_reply, or an out-of-office subject."""
    submitted = get_header(message, "Auto-Submitted").lower()
    if submitted.startswith("auto-replied"):
        return True
    if any(message.get(name) is not None for name in AUTOREPLY_HEADERS):
        return True
    if get_header(message, "Precedence").lower() == "auto_reply":
        return True
    return bool(SUBJECT_RE.search(get_header(message, "Subject")))
