"""Whether a bounce that carries no status code speaks of a permanent failure or of a
delivery still being tried, from the tense and wording of its text (pure)."""

from __future__ import annotations

import re

# Said of a failure that is final: the MTA has given up, the error is permanent, the
# retry time is over, or the recipient will not be tried again.
PERMANENT_RE = re.compile(
    r"permanent(?:ly)?\b|\b(?:have|has|had|i've|we've|i have) given up|\bgiving up\b|"
    r"\bgave up\b|retry time(?:out)? (?:exceeded|reached|expired)|"
    r"(?:will|shall) not be (?:retried|re-?sent|delivered)|"
    r"no (?:further|more) (?:delivery )?attempts|"
    r"too long (?:in|on) (?:the )?queue|could not be delivered (?:within|after|in) \d"
)
# Said of a delivery still under way or of a cause that passes: a delay, a retry to come
# (future tense), a temporary failure, a full mailbox.
TEMPORARY_RE = re.compile(
    r"temporar(?:y|ily)\b|\btemp_failure\b|\b(?:try|trying) again later\b|"
    r"\b(?:will|shall) (?:be )?(?:retr(?:y|ied)|re-?tried|try again|continue)|"
    r"\b(?:delayed|deferred)\b|not yet been delivered|"
    r"delivery attempts will continue|\bstill (?:trying|being tried)|warning message only|"
    r"\bover (?:the |its |his |her )?quota\b|quota (?:usage )?(?:exceeded|exceeds|is full)|"
    r"mailbox (?:is )?full|(?:insufficient|not enough) (?:storage|disk) space"
)
# The bounce's own statement ("This is a permanent error", "WARNING MESSAGE ONLY") opens
# its text; reading no further keeps a bounce naming 100 recipients cheap.
MAX_TEXT_CHARS = 4000


def worded_action(diagnostic: str, text: str = "") -> str:
    """ "failed" when the recipient's diagnostic or the bounce's text says the failure is
    final, else "delayed" when either speaks of a delay, a retry or a passing cause, else
    "" (the wording decides nothing). Meant for bounces without a status code."""
    words = " ".join(f"{diagnostic[:MAX_TEXT_CHARS]}\n{text[:MAX_TEXT_CHARS]}".lower().split())
    if PERMANENT_RE.search(words):
        return "failed"
    if TEMPORARY_RE.search(words):
        return "delayed"
    return ""
