"""The mailbox simulator for test keys: what a magic local part (bounce@, block@, defer@,
complaint@, unsubscribe@, open@, click@) asks for, the SMTP reply each simulated attempt
gets, and the engagement events that follow a simulated delivery. Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from html.parser import HTMLParser
from typing import Literal

from mta.core.events import (
    Click,
    Event,
    GroupUnsubscribe,
    Open,
    SpamReport,
    Unsubscribe,
    about,
)
from mta.core.model import Outcome
from mta.delivery.deliverer import SANDBOX_REPLY
from queue_store.entries import Envelope, QueueEntry, RecipientState, SmtpReply

Plan = Literal["deliver", "bounce", "block", "defer", "complaint", "unsubscribe", "open", "click"]
MAGIC: frozenset[str] = frozenset(
    {"bounce", "block", "defer", "complaint", "unsubscribe", "open", "click"}
)
DEFERRALS = 2  # defer@ is deferred this many times, then delivered
RETRY_SECONDS = 2.0  # the wait after a simulated deferral (not the live retry schedule)
FALLBACK_URL = "https://example.com/"  # click@'s url when the message has no http(s) link
SIMULATOR = "simulator"
USER_AGENT = "ScaiSend mailbox simulator"

BOUNCE_REPLY = SmtpReply(550, "5.1.1", "simulator: the mailbox does not exist (bounce@)")
BLOCK_REPLY = SmtpReply(554, "5.7.1", "simulator: message blocked by the recipient (block@)")
DEFER_REPLY = SmtpReply(451, "4.2.0", "simulator: mailbox busy, try again later (defer@)")

# click@ parses the message for its first link: more multiparts or part delimiters than this
# and it takes the fallback (deep nesting made the parser recurse out of its stack; 100,000
# parts took 36 s of the scheduler's loop).
MAX_MULTIPARTS = 100
MAX_PARTS = 200
TEXT_LINK_RE = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)


def plan_for(address: str) -> Plan:
    """The outcome an address asks for: its local part, case-insensitive, with any
    `+tag` ignored (`Bounce+42@x` is bounce@); anything else is simply delivered."""
    local = address.rpartition("@")[0].lower().partition("+")[0]
    return local if local in MAGIC else "deliver"  # type: ignore[return-value]


def simulated_reply(address: str, attempts: int) -> SmtpReply:
    """The reply a simulated attempt gets, after `attempts` earlier attempts."""
    plan = plan_for(address)
    if plan == "bounce":
        return BOUNCE_REPLY
    if plan == "block":
        return BLOCK_REPLY
    if plan == "defer" and attempts < DEFERRALS:
        return DEFER_REPLY
    return SANDBOX_REPLY


def simulated_outcomes(states: Iterable[RecipientState]) -> list[Outcome]:
    """One outcome per recipient, for the scheduler's ordinary result path."""
    return [Outcome(reply=simulated_reply(s.email, s.attempts)) for s in states]


def retry_seconds(envelope: Envelope, live_delay: float) -> float:
    """The wait before retrying a deferred recipient: short for test keys (only the
    simulator defers their mail), the live schedule's delay otherwise."""
    return RETRY_SECONDS if envelope.sandbox else live_delay


def wants_content(states: Iterable[RecipientState]) -> bool:
    """Whether the follow-ups need the message's content (click@ reports its first link)."""
    return any(plan_for(s.email) == "click" for s in states)


def follow_ups(
    entry: QueueEntry, states: Iterable[RecipientState], content: bytes | None, at: int
) -> list[Event]:
    """The engagement events for the recipients just delivered, stamped `at` (the scheduler
    passes a second after the delivery, so they sort after the delivered event)."""
    envelope, events = entry.envelope, []
    for state in states:
        if state.status != "delivered":
            continue
        event = follow_up(envelope, state, plan_for(state.email), content, at)
        if event is not None:
            events.append(event)
    return events


def follow_up(
    envelope: Envelope, state: RecipientState, plan: Plan, content: bytes | None, at: int
) -> Event | None:
    """The one event a delivered magic address adds, or None."""
    common = {**about(envelope, state), "timestamp": at}
    if plan == "complaint":
        return SpamReport(**common, source=SIMULATOR)
    if plan == "open":
        return Open(**common, useragent=USER_AGENT)
    if plan == "click":
        url, kind = first_link(content)
        return Click(**common, useragent=USER_AGENT, url=url, url_offset={"index": 0, "type": kind})
    if plan == "unsubscribe" and envelope.asm_group_id is not None:
        return GroupUnsubscribe(
            **common, asm_group_id=envelope.asm_group_id, method=SIMULATOR, useragent=USER_AGENT
        )
    if plan == "unsubscribe":
        return Unsubscribe(**common, method=SIMULATOR, useragent=USER_AGENT)
    return None


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.lower().startswith(("http://", "https://")):
                self.links.append(href.strip())


def first_link(content: bytes | None) -> tuple[str, str]:
    """(url, "html" | "text"): the first http(s) link of the HTML body (an <a href>), else of
    the plain text body; (FALLBACK_URL, "html") when there is none, or when the message has
    more than MAX_MULTIPARTS multiparts or MAX_PARTS parts."""
    if not content or _too_complex(content):
        return FALLBACK_URL, "html"
    message = BytesParser(policy=default).parsebytes(content)
    for kind in ("html", "plain"):
        body = message.get_body(preferencelist=(kind,))
        link = _link(body, kind) if isinstance(body, EmailMessage) else ""
        if link:
            return link, "html" if kind == "html" else "text"
    return FALLBACK_URL, "html"


def _too_complex(content: bytes) -> bool:
    lowered = content.lower()
    return lowered.count(b"multipart/") > MAX_MULTIPARTS or content.count(b"\n--") > MAX_PARTS


def _link(part: EmailMessage, kind: str) -> str:
    try:
        text = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding
        return ""
    if not isinstance(text, str):
        return ""
    return _html_link(text) if kind == "html" else _text_link(text)


def _html_link(html: str) -> str:
    parser = _Hrefs()
    parser.feed(html[: html.rfind(">") + 1])  # not an unclosed tail: html.parser is quadratic
    parser.close()
    return parser.links[0] if parser.links else ""


def _text_link(text: str) -> str:
    match = TEXT_LINK_RE.search(text)
    return match.group(0).rstrip(".,;:!?") if match else ""
