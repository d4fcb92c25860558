"""Which of the addresses a text bounce names is the failed one (pure): never the returned
original's sender or mailing-list addresses, never an alias the error is not about.

Rules read the bounce's structure: the original's headers, alias wording around an
address, and whether an address opens its line (the way MTAs list failed recipients)."""

from __future__ import annotations

import re
from email.utils import getaddresses

# Headers of the returned original that name its sender or its mailing list: a bounce
# quotes them ("This message was sent by …", "unsubscribe with …"), but they never failed.
ORIGINAL_SENDER_HEADERS = ("from", "sender", "return-path", "reply-to", "errors-to")
LIST_HEADERS = (
    "list-post", "list-unsubscribe", "list-subscribe", "list-owner", "list-help",
    "list-archive",
)  # fmt: skip
MAILTO_RE = re.compile(r"mailto:([^\s<>?,;]+)", re.IGNORECASE)
LIST_ID_RE = re.compile(r"<([^<>\s]+)>")
# "<alias@a>: forwarded to <real@b>": the address before is not the one the error is about.
FORWARDED_RE = re.compile(
    r"^[>\"')\]]*\s*:?\s*(?:was\s+|is\s+|has\s+been\s+)?(?:forwarded|redirected|aliased|"
    r"resent|relayed)\s+to\s*[<\"']?[^\s@<>\"']+@",
    re.IGNORECASE,
)
# "<real@b> (expanded from <alias@a>)": the address after is not the one that failed.
ALIAS_SOURCE_RE = re.compile(
    r"(?:(?:expanded|generated|forwarded|redirected|aliased)\s+from|alias\s+(?:of|for))"
    r":?\s*[<\"']?$",
    re.IGNORECASE,
)
# An address that opens its line: how MTAs list failed recipients (`<a@b>: …`, an
# indented `a@b`, `"a@b"`, `User unknown: a@b` is prose and does not count).
LISTED_BEFORE_RE = re.compile(r"(?:^|\n)[ \t]*[<\"'(\[]?[ \t]*$")


def sender_addresses(headers: dict[str, str]) -> set[str]:
    """The returned original's sender addresses (lower case) from its headers: From,
    Sender, Return-Path, Reply-To, Errors-To."""
    values = [headers.get(name, "") for name in ORIGINAL_SENDER_HEADERS]
    return {address.lower() for _, address in getaddresses(values) if "@" in address}


def list_addresses(headers: dict[str, str]) -> set[str]:
    """The returned original's mailing-list addresses (lower case): the mailto: of its
    List-Post, List-Unsubscribe and the other RFC 2369 headers."""
    values = [headers.get(name, "") for name in LIST_HEADERS]
    return {m.group(1).lower() for value in values for m in MAILTO_RE.finditer(value)}


def is_list_address(address: str, headers: dict[str, str]) -> bool:
    """Whether `address` is the list its List-Id names (`<members.lists.example.org>` is
    `members@lists.example.org` with the `@` written as a dot)."""
    match = LIST_ID_RE.search(headers.get("list-id", ""))
    return match is not None and address.replace("@", ".", 1) == match.group(1).lower()


def is_alias_source(before: str) -> bool:
    """The text before an address says it is where an alias came from."""
    return bool(ALIAS_SOURCE_RE.search(before))


def is_forwarded(after: str) -> bool:
    """The text after an address says the mail went on to another address."""
    return bool(FORWARDED_RE.match(after))


def opens_line(text: str, start: int) -> bool:
    """Whether the address at `start` opens its line (after blanks, a bracket or quote)."""
    return bool(LISTED_BEFORE_RE.search(text[max(0, start - 40) : start]))


def without_original_to(named: list[str], listed: set[str], original_to: list[str]) -> list[str]:
    """`named` without the returned original's recipient when the text names it only in
    prose ("Your message to <list@…>") while it lists another address as failed."""
    to = {address.lower() for address in original_to}
    if not to & set(named) or not listed - to or to & listed:
        return named
    return [address for address in named if address not in to]
