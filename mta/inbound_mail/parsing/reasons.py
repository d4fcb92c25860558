"""Pure bounce policy for inbound reports: the cause (reason) of a failure from its status
and diagnostic text, SendGrid's bounce_classification and type for it, and the verdicts."""

from __future__ import annotations

import re

from mta.inbound_mail.parsing.providers import provider_reason

STATUS_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
REPLY_CODE_RE = re.compile(r"(?<![\d.-])([245]\d\d)(?:[ -]|$)")


def _phrases(reason: str, phrases: str) -> tuple[str, tuple[str, ...]]:
    return reason, tuple(phrases.split("|"))


# (reason, lower-case phrases), in the order they are tried: the specific causes first, so
# "mailbox full" or "blocked" wins over the "user unknown" wording a reply may also carry.
TEXT_REASONS: list[tuple[str, tuple[str, ...]]] = [
    _phrases(
        "mailbox full",
        "mailbox full|mailbox is full|mailbox is over|over quota|quota exceeded|"
        "exceeded storage|exceeds quota|insufficient disk|mailbox size limit|full mailbox|"
        "mailfolder is full|user is over|box full|not enough space|account is full|"
        "is over its storage|mailbox has exceeded|disk quota|over the allowed quota|quota",
    ),
    _phrases(
        "message too big",
        "message size exceeds|message too large|message is too large|too big|"
        "exceeds size limit|size limit|message length exceeds|size exceeds|"
        "message exceeds",
    ),
    _phrases(
        "suspended",
        "suspended|account disabled|mailbox disabled|account is disabled|"
        "has been disabled|account is inactive|deactivated|"
        "account has been locked|account is locked|expired account",
    ),
    _phrases(
        "has moved",
        "has moved|address changed|no longer available at this address",
    ),
    _phrases(
        "no relaying",
        "relay access denied|relaying denied|not permitted to relay|relay not permitted|"
        "relaying not allowed|unable to relay|we do not relay|relay denied|"
        "not our customer",
    ),
    _phrases(
        "auth failure",
        "dmarc|spf check|spf fail|dkim|authentication checks failed|"
        "sender policy framework|does not pass|not authenticated",
    ),
    _phrases(
        "filtered",
        "refused due to recipient preferences|recipient is only accepting mail from|"
        "user refuses to receive|refuse to receive mail|this account is protected by|"
        "is not accepting any mail|has restricted sms e-mail|user reject",
    ),
    _phrases(
        "user unknown",
        "user unknown|unknown user|no such user|user not found|no mailbox|"
        "invalid recipient|recipient unknown|unknown recipient|no such mailbox|"
        "mailbox not found|not a valid mailbox|account does not exist|unknown local part|"
        "user doesn't have|recipient not found|invalid mailbox|no such recipient|"
        "address unknown|mailbox does not exist|user does not exist|"
        "address does not exist|recipient does not exist|mailbox unavailable|"
        "mailbox is unavailable|does not exist.|not a known user|no such person|"
        "no account by that name|unknown mailbox|user not known|invalid address|"
        "bad destination mailbox|recipient address rejected: user|"
        "recipient address rejected: invalid|recipient address rejected: unknown|"
        "is not a valid user|recipient rejected|destination addresses were unknown|"
        "no longer valid|not our user|unknown or illegal alias|unrouteable address|"
        "address rejected kijitora|email account that you tried to reach does not exist|"
        "could not be found|is not a valid recipient|user not exist|no valid recipients|"
        "utilisateur inconnu|existiert nicht|no existe|sconosciuto|couldn't be found|"
        "check if address is correct|invalid user address|not listed in|"
        "recipient address rejected: access denied|#5.1.0 address rejected|"
        "recipient address rejected.|invalid final delivery userid|"
        "ディレクトリには見つかりません|ディレクトリのリストにありません",
    ),
    _phrases(
        "not accept",
        "no smtp service|null mx|does not accept mail|not accepting mail|accepts no mail",
    ),
    _phrases(
        "host unknown",
        "dns lookup failure|host unknown|unknown host|domain not found|host not found|"
        "no such domain|domain does not exist|name service error|unroutable address|"
        "host or domain name not found|domain name not found|unrouteable mail domain|"
        "no mx|domain is not valid|unknown domain|domain could not be found|"
        "domain may not exist|domain is not reachable",
    ),
    _phrases(
        "rate limited",
        "rate limit|too many|throttl|exceeded the rate|sending too fast|try again later|"
        "temporarily deferred",
    ),
    _phrases(
        "virus detected",
        "virus|malware|infected",
    ),
    _phrases(
        "blocked",
        "blocked|blacklist|blocklist|block list|black list|listed at|listed in|spamhaus|"
        "spamcop|reputation|rbl|dnsbl|access denied|client host rejected|"
        "connection refused|not allowed|ptr record|reverse dns|reverse lookup|"
        "poor reputation",
    ),
    _phrases(
        "spam detected",
        "spam|unsolicited|bulk mail|ube",
    ),
    _phrases(
        "rejected",
        "sender rejected|sender address rejected|domain of sender|sender denied|"
        "rejected by recipient",
    ),
    _phrases(
        "expired",
        "retry timeout exceeded|delivery time expired|message expired|queue lifetime|"
        "too long in queue|been in the queue too long|message has been delayed|"
        "could not be delivered within|retry time not reached|giving up on|"
        "delivery expired|has not been delivered for|time limit exceeded|maximum time",
    ),
    _phrases(
        "network error",
        "connection timed out|timed out|no route to host|network is unreachable|"
        "connection reset|lost connection|mail loop|loops back to myself|too many hops",
    ),
    _phrases(
        "system error",
        "system error|internal error|server error|temporary failure|local error|"
        "out of memory|system config",
    ),
    _phrases(
        "content error",
        "content|message header|mime|charset|8bit|attachment",
    ),
]

# Wording too vague to beat what a specific status says: tried after STATUS_REASONS.
WEAK_TEXT_REASONS: list[tuple[str, tuple[str, ...]]] = [
    _phrases("rejected", "refused|rejected|denied|not accepted"),
]
TEMPORARY_DNS = ("not found, try again", "malformed or unexpected name server reply", "timed out")

# Sisimai's reading of a specific enhanced status (x.0.0 says nothing); longest prefix wins.
STATUS_REASONS: list[tuple[str, str]] = [
    ("5.1.10", "not accept"),
    ("5.1.0", "user unknown"),
    ("5.1.1", "user unknown"),
    ("5.1.2", "host unknown"),
    ("5.1.3", "user unknown"),
    ("5.1.4", "user unknown"),
    ("5.1.6", "has moved"),
    ("5.1.7", "rejected"),
    ("5.1.8", "rejected"),
    ("5.2.1", "suspended"),
    ("5.2.2", "mailbox full"),
    ("4.2.2", "mailbox full"),
    ("5.2.3", "message too big"),
    ("5.3.1", "system full"),
    ("5.3.2", "not accept"),
    ("5.3.4", "message too big"),
    ("5.4.4", "host unknown"),
    ("4.4.7", "expired"),
    ("5.4.7", "expired"),
    ("5.4.", "network error"),
    ("4.4.", "network error"),
    ("5.5.", "syntax error"),
    ("5.6.", "content error"),
    ("5.7.26", "auth failure"),
    ("5.7.27", "not accept"),
    ("5.7.13", "suspended"),
    ("5.7.", "security error"),
    ("4.7.", "blocked"),
    ("5.3.", "system error"),
    ("4.3.", "system error"),
]
TRANSCRIPT_RE = re.compile(
    r"^(?:>>> |-+smtp command\n)(rcpt|data|mail|helo|ehlo)\b", re.IGNORECASE | re.MULTILINE
)
COMMAND_RE = re.compile(
    r"\b(?:(?:in reply to|after|our|to)\s+(?:the\s+)?(?:end of\s+)?(rcpt|data|mail|helo|ehlo)\b"
    r"|(rcpt) to:\s*<)",
    re.IGNORECASE,
)
# Wordings that say the refusal answered RCPT TO without quoting the command: qmail's
# "does not like recipient" / "most progress was RCPT TO response", Yahoo's "[RCPT_TO]",
# "SMTP:RCPT host" of some gateways.
RCPT_MARKERS_RE = re.compile(
    r"does not like recipient|most progress was rcpt to|\[rcpt_to\]|smtp:rcpt host",
    re.IGNORECASE,
)

# "553 mx.example.net does not exist": a host name, not an address, that does not exist.
HOST_GONE_RE = re.compile(
    r"(?<![@\w.-])(?:[a-z0-9-]+\.)+[a-z]{2,}\.? does not exist", re.IGNORECASE
)

# reason → (SendGrid bounce_classification, SendGrid type)
CLASSIFICATION: dict[str, tuple[str, str]] = {
    "user unknown": ("Invalid Address", "bounce"),
    "host unknown": ("Invalid Address", "bounce"),
    "has moved": ("Invalid Address", "bounce"),
    "not accept": ("Invalid Address", "bounce"),
    "syntax error": ("Invalid Address", "bounce"),
    "mailbox full": ("Mailbox Unavailable", "bounce"),
    "suspended": ("Mailbox Unavailable", "bounce"),
    "expired": ("Technical Failure", "bounce"),
    "network error": ("Technical Failure", "bounce"),
    "system error": ("Technical Failure", "bounce"),
    "message too big": ("Content", "bounce"),
    "content error": ("Content", "bounce"),
    "virus detected": ("Content", "bounce"),
    "spam detected": ("Reputation", "blocked"),
    "blocked": ("Reputation", "blocked"),
    "security error": ("Reputation", "blocked"),
    "rejected": ("Reputation", "blocked"),
    "rate limited": ("Frequency or Volume Too High", "blocked"),
    "no relaying": ("Technical Failure", "bounce"),
    "auth failure": ("Technical Failure", "bounce"),
    "system full": ("Technical Failure", "bounce"),
    "mailer error": ("Technical Failure", "bounce"),
    "filtered": ("Content", "bounce"),
}

HARD_FOR_SISIMAI = frozenset({"host unknown", "has moved"})
SISIMAI_HARD_REASONS = frozenset({"user unknown", "host unknown", "has moved"})
# Statuses Sisimai reads as "filtered" (the mailbox exists but refuses the message).
FILTERED_STATUSES = ("5.2.0", "5.2.1", "5.2.4")


def find_status(text: str) -> str:
    """The first enhanced status code (RFC 3463) in `text`, or ""."""
    match = STATUS_RE.search(text)
    return match.group(0) if match else ""


def find_reply_code(text: str) -> int:
    """The first SMTP reply code in `text`, or 0."""
    match = REPLY_CODE_RE.search(text)
    return int(match.group(1)) if match else 0


def best_status(status: str, diagnostic: str) -> str:
    """The DSN's status, made precise by the diagnostic's when the DSN only says x.0.0."""
    status = find_status(status)
    found = find_status(diagnostic)
    if not status:
        if found:
            return found
        code = find_reply_code(diagnostic)
        return f"{code // 100}.0.0" if code else ""
    if status.endswith(".0.0") and found and found[0] == status[0]:
        return found
    return status


def smtp_command(text: str) -> str:
    """The SMTP command a diagnostic or a bounce's transcript says was refused (RCPT, DATA,
    MAIL, HELO), or ""."""
    found = TRANSCRIPT_RE.findall(text) or [
        match.group(1) or match.group(2) for match in COMMAND_RE.finditer(text)
    ]
    if not found and RCPT_MARKERS_RE.search(text):
        return "RCPT"
    return str(found[-1]).upper().replace("EHLO", "HELO") if found else ""


def recipient_command(address: str, diagnostic: str, transcript: str) -> str:
    """The refused command for one recipient: its diagnostic's, else a transcript line
    ">>> RCPT To:<address>" answered by an error, else the transcript's last command."""
    if command := smtp_command(diagnostic):
        return command
    answered = re.compile(
        r"^>>> rcpt to:\s*<?" + re.escape(address) + r">?[^\n]*\n<<< [45]",
        re.IGNORECASE | re.MULTILINE,
    )
    return "RCPT" if answered.search(transcript) else smtp_command(transcript)


def status_reason(status: str) -> str:
    """The cause an enhanced status names by itself, or "" for a vague one (x.0.0)."""
    for prefix, reason in STATUS_REASONS:
        if status.startswith(prefix) and (len(status) == len(prefix) or prefix[-1] == "."):
            return reason
    return ""


def text_reason(diagnostic: str, table: list[tuple[str, tuple[str, ...]]] = TEXT_REASONS) -> str:
    """The cause the first matching phrase of `table` names, or ""."""
    text = diagnostic.lower()
    for reason, phrases in table:
        if any(phrase in text for phrase in phrases):
            return reason
    return ""


def reason_of(status: str, diagnostic: str) -> str:
    """The cause of a failure: a phrase of the diagnostic, else the status' meaning. A name
    look-up that failed for now (4.x.x, "try again") is a network error, not an unknown
    host."""
    reason = (
        provider_reason(diagnostic)
        or ("host unknown" if HOST_GONE_RE.search(diagnostic) else "")
        or text_reason(diagnostic)
        or status_reason(status)
        or text_reason(diagnostic, WEAK_TEXT_REASONS)
        or "undefined"
    )
    lower = diagnostic.lower()
    if reason == "host unknown" and (
        status.startswith("4.") or any(phrase in lower for phrase in TEMPORARY_DNS)
    ):
        return "network error"
    if reason in ("user unknown", "host unknown") and smtp_command(diagnostic) == "MAIL":
        return "rejected"  # refused at MAIL FROM: it is the sender's address that is unknown
    return reason


def classify(status: str, diagnostic: str) -> tuple[str, str]:
    """SendGrid's (bounce_classification, type) of a failure from status and diagnostic."""
    return CLASSIFICATION.get(reason_of(status, diagnostic), ("Unclassified", "bounce"))


def is_hard(action: str, status: str, reason: str) -> bool:
    """Our verdict: a permanent failure, or an expired delivery even with a 4.x.x status."""
    if action == "delayed":
        return False
    if reason == "expired":
        return True
    if action == "failed":
        return not status.startswith(("2.", "4."))
    return status.startswith("5.")


def sisimai_hard(reason: str, status: str, command: str, diagnostic: str = "") -> bool:
    """Sisimai's hardbounce verdict, for measuring against its corpus only (our events use
    is_hard): true for an address that can never work (unknown user or host, moved) or a
    5.x.x "not accept"; "user unknown" wording counts only when the status says so too or
    the refused command (smtp_command of the diagnostic or transcript) was not DATA:
    Sisimai calls such a refusal "filtered", and so it calls "user unknown" wording under a
    5.2.x status unless it answered RCPT. A provider's own reply (providers.py) decides
    whatever the command."""
    if provider := provider_reason(diagnostic):
        return provider in SISIMAI_HARD_REASONS
    if reason == "user unknown" and status in FILTERED_STATUSES:
        return command == "RCPT"
    if reason in ("user unknown", "no relaying", "syntax error", "undefined") and (
        status_reason(status) in ("user unknown", "host unknown", "has moved")
    ):
        return True
    if reason == "user unknown" and status_reason(status) == "security error":
        return command == "RCPT"  # a 5.7.x policy refusal worded as unknown user
    if reason == "user unknown":
        return command != "DATA"
    if reason in HARD_FOR_SISIMAI:
        return True
    return reason == "not accept" and not status.startswith("4.")
