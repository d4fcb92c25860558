"""Tracking in a message's contents (pure): click links rewritten to signed redirects, the open
pixel, the subscription footer and ASM link tags, and the List-Unsubscribe headers (RFC 2369,
RFC 8058); plus the machine-open heuristic the pixel endpoint applies."""

from __future__ import annotations

import html
from collections.abc import Callable

import msgspec

from mta.tracking.links import (
    Link,
    find_links,
    replace_link_tags,
    rewrite_html_links,
    rewrite_text_links,
)
from mta.tracking.settings import (
    ClickTracking,
    OpenTracking,
    SubscriptionTracking,
    TrackingSettings,
)
from mta.tracking.tokens import (
    Claim,
    TokenKind,
    TrackingKey,
    UrlType,
    make_token,
    unsubscribe_address,
)

FOLDED_COMMA = ",\r\n "
PLAIN, HTML = "text/plain", "text/html"
LINK_CACHE_SIZE, LINK_CACHE_CHARS = 32, 131_072
OPEN_PATH, CLICK_PATH, UNSUBSCRIBE_PATH = "/wf/open", "/ls/click", "/wf/unsubscribe"
DEFAULT_TEXT = "If you would like to unsubscribe and stop receiving these emails click here: <% %>."
DEFAULT_HTML = (
    "<p>If you would like to unsubscribe and stop receiving these emails <% click here %>.</p>"
)
PIXEL = (
    '<img src="{url}" alt="" width="1" height="1" border="0" style="height:1px !important;'
    'width:1px !important;border-width:0 !important;margin:0 !important;padding:0 !important" />'
)
ASM_TAGS = ("<%asm_group_unsubscribe_raw_url%>", "<%asm_preferences_raw_url%>")
ASM_GLOBAL_TAG = "<%asm_global_unsubscribe_raw_url%>"
PROXY_AGENTS = ("GoogleImageProxy", "YahooMailProxy", "ggpht.com")
APPLE_PROXY_AGENT = "Mozilla/5.0"  # Apple Mail Privacy Protection sends exactly this


class Tracker:
    """The public base URL of our tracking endpoints and the key that signs their tokens."""

    def __init__(self, key: TrackingKey, base_url: str) -> None:
        self.key = key
        self.base_url = base_url.rstrip("/")
        self._links: dict[str, list[Link]] = {}  # html → its links: a bulk send parses once

    def links(self, markup: str) -> list[Link]:
        if len(markup) > LINK_CACHE_CHARS:
            return find_links(markup)
        found = self._links.get(markup)
        if found is None:
            found = find_links(markup)
            if len(self._links) >= LINK_CACHE_SIZE:
                self._links.clear()
            self._links[markup] = found
        return found

    def url(self, path: str, claim: Claim) -> str:
        return f"{self.base_url}{path}?upn={make_token(self.key, claim)}"


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """What tracking one message gets, and whom its links speak of."""

    message_id: str
    recipient_index: int
    return_path_host: str = ""
    asm_group_id: int | None = None
    open: OpenTracking | None = None
    click: ClickTracking | None = None
    subscription: SubscriptionTracking | None = None

    def claim(
        self,
        kind: TokenKind = "unsubscribe",
        *,
        url: str = "",
        url_index: int = -1,
        url_type: UrlType = "html",
        whole_account: bool = False,
    ) -> Claim:
        """A token's claim about this message; `whole_account` leaves the group out."""
        return Claim(
            kind=kind,
            message_id=self.message_id,
            recipient_index=self.recipient_index,
            asm_group_id=None if whole_account else self.asm_group_id,
            url=url,
            url_index=url_index,
            url_type=url_type,
        )

    @property
    def list_unsubscribe(self) -> bool:
        return self.asm_group_id is not None or self.subscription is not None


def plan_from(
    settings: TrackingSettings,
    group: int | None,
    message_id: str,
    recipient_index: int,
    return_path_host: str,
) -> Plan | None:
    """Tracking settings (of a request, or of X-SMTPAPI filters) made a Plan; None for none."""
    opened = settings.open_tracking if _on(settings.open_tracking) else None
    click = settings.click_tracking if _on(settings.click_tracking) else None
    subscription = settings.subscription_tracking if _on(settings.subscription_tracking) else None
    if group is None and opened is None and click is None and subscription is None:
        return None
    return Plan(
        message_id=message_id,
        recipient_index=recipient_index,
        return_path_host=return_path_host,
        asm_group_id=group,
        open=opened,
        click=click,
        subscription=subscription,
    )


def _on(setting: OpenTracking | ClickTracking | SubscriptionTracking | None) -> bool:
    return setting is not None and setting.enable


def list_unsubscribe_headers(tracker: Tracker, plan: Plan) -> dict[str, str]:
    """List-Unsubscribe (mailto to our MX, and the one-click URL) with List-Unsubscribe-Post."""
    if not plan.list_unsubscribe:
        return {}
    links = [f"<{tracker.url(UNSUBSCRIBE_PATH, plan.claim())}>"]
    if plan.return_path_host:
        address = unsubscribe_address(tracker.key, plan.claim(), plan.return_path_host)
        links.insert(0, f"<mailto:{address}?subject=unsubscribe>")
    return {
        "List-Unsubscribe": ", ".join(links),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def with_list_unsubscribe(
    headers: dict[str, str], tracker: Tracker | None, plan: Plan | None
) -> dict[str, str]:
    """The message's headers plus ours; a List-Unsubscribe the sender set is kept as theirs."""
    if tracker is None or plan is None or not plan.list_unsubscribe:
        return headers
    if any(name.lower() == "list-unsubscribe" for name in headers):
        return headers
    return {**headers, **list_unsubscribe_headers(tracker, plan)}


def prepend_list_unsubscribe(
    tracker: Tracker | None,
    data: bytes,
    *,
    present: dict[str, str],
    recipients: int,
    plan: Plan,
) -> bytes:
    """An SMTP-submitted message with an unsubscribe group (X-SMTPAPI asm_group_id) gets our
    List-Unsubscribe headers on top, unless it has its own. Only with one recipient: the
    bytes are shared by all recipients, so a link could not say whose it is."""
    if tracker is None or recipients != 1 or "list-unsubscribe" in present:
        return data
    headers = list_unsubscribe_headers(tracker, plan)
    folded = {name: value.replace(", ", FOLDED_COMMA) for name, value in headers.items()}
    lines = [f"{name}: {value}\r\n" for name, value in folded.items()]
    return "".join(lines).encode("ascii") + data


def track_part(tracker: Tracker, plan: Plan, content_type: str, value: str) -> str:
    """A text or html part with its links rewritten, footer and pixel added, as asked; any
    other part as it is."""
    kind = content_type.lower()
    if kind == HTML:
        return _html(tracker, plan, value)
    if kind == PLAIN:
        return _text(tracker, plan, value)
    return value


def _html(tracker: Tracker, plan: Plan, value: str) -> str:
    if plan.click is not None:
        make = _click_url(tracker, plan, "html")
        value = rewrite_html_links(value, make, tracker.links(value))
    value = _asm_tags(tracker, plan, value)
    unsubscribe = tracker.url(UNSUBSCRIBE_PATH, plan.claim())
    if plan.subscription is not None:
        value = _footer(plan.subscription, value, unsubscribe, html_part=True)
    if plan.open is not None:
        pixel = PIXEL.format(url=tracker.url(OPEN_PATH, plan.claim(kind="open")))
        tag = plan.open.substitution_tag
        value = value.replace(tag, pixel) if tag and tag in value else before_body_end(value, pixel)
    return value


def _text(tracker: Tracker, plan: Plan, value: str) -> str:
    if plan.click is not None and plan.click.enable_text:
        value = rewrite_text_links(value, _click_url(tracker, plan, "text"))
    value = _asm_tags(tracker, plan, value)
    if plan.subscription is not None:
        unsubscribe = tracker.url(UNSUBSCRIBE_PATH, plan.claim())
        value = _footer(plan.subscription, value, unsubscribe, html_part=False)
    return value


def _click_url(tracker: Tracker, plan: Plan, url_type: UrlType) -> Callable[[str, int], str]:
    def make(url: str, index: int) -> str:
        claim = plan.claim(kind="click", url=url, url_index=index, url_type=url_type)
        return tracker.url(CLICK_PATH, claim)

    return make


def _asm_tags(tracker: Tracker, plan: Plan, value: str) -> str:
    """SendGrid's ASM tags: the group's unsubscribe (and preferences) URL, the global one."""
    if plan.asm_group_id is None or "<%asm_" not in value:
        return value
    group_url = tracker.url(UNSUBSCRIBE_PATH, plan.claim())
    for tag in ASM_TAGS:
        value = value.replace(tag, group_url)
    global_url = tracker.url(UNSUBSCRIBE_PATH, plan.claim(whole_account=True))
    return value.replace(ASM_GLOBAL_TAG, global_url)


def _footer(settings: SubscriptionTracking, value: str, url: str, *, html_part: bool) -> str:
    """SendGrid's subscription tracking: the substitution tag, when given, becomes the URL
    and nothing is appended; otherwise the text or html footer goes at the end, its `<% %>`
    (or `<% words %>`) made the link."""
    if settings.substitution_tag:
        return value.replace(settings.substitution_tag, url)
    if not html_part:
        footer = replace_link_tags(settings.text or DEFAULT_TEXT, lambda words: url)
        return f"{value}\n\n{footer}"
    escaped = html.escape(url)
    footer = replace_link_tags(
        settings.html or DEFAULT_HTML, lambda words: f'<a href="{escaped}">{words or escaped}</a>'
    )
    return before_body_end(value, footer)


def before_body_end(value: str, insert: str) -> str:
    end = value.lower().rfind("</body>")
    return value + insert if end < 0 else value[:end] + insert + value[end:]


def machine_open(useragent: str) -> bool:
    """A pixel fetched by a privacy proxy rather than seen by a person: Google's image proxy,
    Yahoo's mail proxy, and Apple Mail Privacy Protection (user agent exactly "Mozilla/5.0")."""
    agent = useragent.strip()
    return agent == APPLE_PROXY_AGENT or any(mark in agent for mark in PROXY_AGENTS)
