"""Replies whose meaning is fixed by the mail provider that gives them (Sisimai's "Rhost"
rules): La Poste / Orange error codes, Yahoo's and au (KDDI)'s own wordings. Such a reply
names its cause whatever SMTP command it answered (pure)."""

from __future__ import annotations

import re

# La Poste and Orange end their replies with a code such as "LPN007_416", "OFR_417" or
# "OFR004_405": its last three digits name the cause.
FRANCE_PTT_RE = re.compile(r"\b(?:LPNAAA|LPN|OFR|OUK)(?:_\d{3}|\d{3}[-_]\d{3})\b", re.IGNORECASE)
FRANCE_PTT_CODES: dict[str, str] = {
    "101": "blocked",
    "102": "blocked",
    "103": "blocked",
    "104": "rate limited",
    "305": "security error",
    "401": "auth failure",
    "402": "security error",
    "403": "rejected",
    "405": "rejected",
    "415": "rejected",
    "416": "user unknown",
    "417": "mailbox full",
    "420": "suspended",
    "421": "rejected",
    "426": "suspended",
    "505": "system error",
    "506": "spam detected",
    "510": "blocked",
    "514": "message too big",
    "517": "auth failure",
    "999": "blocked",
}

# (reason, lower-case phrases) of one provider's replies, tried in order.
PROVIDER_PHRASES: list[tuple[str, tuple[str, ...]]] = [
    # au (KDDI, ezweb.ne.jp) names no address when the recipient's own filter refuses the
    # sender ("550 : User unknown"), and the address when it does not exist.
    ("filtered", ("550 : user unknown", "550: : user unknown")),
    # Yahoo: "554 delivery error: dd This user doesn't have a yahoo.com account".
    ("user unknown", ("dd this user doesn't have a ",)),
]


# Amazon SES receiving (Reporting-MTA inbound-smtp.<region>.amazonaws.com) bounces with
# the templates of a receipt rule's Bounce action, set by the domain's owner: its
# "Mailbox does not exist" is a filter's answer, not a mailbox look-up.
SES_RECEIVING_RE = re.compile(r"^inbound-smtp\.[a-z0-9-]+\.amazonaws\.com$", re.IGNORECASE)
SES_RECEIVING_TEMPLATES: list[tuple[str, str]] = [
    ("filtered", "mailbox does not exist"),
    ("message too big", "message too large"),
    ("mailbox full", "mailbox full"),
    ("content error", "message content rejected"),
]


def reporter_reason(reporter: str, diagnostic: str) -> str:
    """The cause a reporting MTA's own fixed wording names, or ""."""
    if not SES_RECEIVING_RE.match(reporter.strip()):
        return ""
    text = diagnostic.lower()
    return next((reason for reason, phrase in SES_RECEIVING_TEMPLATES if phrase in text), "")


def provider_reason(diagnostic: str) -> str:
    """The cause a provider-specific reply names, or "" when the reply is not one."""
    found = FRANCE_PTT_RE.search(diagnostic)
    if found and (reason := FRANCE_PTT_CODES.get(found.group(0)[-3:])):
        return reason
    text = " ".join(diagnostic.lower().split())
    for reason, phrases in PROVIDER_PHRASES:
        if any(phrase in text for phrase in phrases):
            return reason
    return ""
