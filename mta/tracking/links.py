"""Finding and rewriting links for click tracking (pure): http(s) URLs in text, and the href
of <a> tags in html found with the standard library's html.parser and replaced in place, the
rest of the html left byte for byte; `trackable` says which targets may ever be redirected to."""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Callable
from html.parser import HTMLParser
from typing import NamedTuple

MAX_URL_CHARS = 2048  # longer links are left as they are (and never redirected to)
TEXT_URL = re.compile(r"https?://[^\s<>\"']+", re.I)
TRAILING = ".,;:!?)]}"
BREAKS = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]")
# The rest of a start tag after its name: attribute name, then an optional value.
ATTR = re.compile(r"""[\s/]*([^\s/>=][^\s/=>]*)(?:\s*=+\s*('[^']*'|"[^"]*"|(?!['"])[^>\s]*))?""")


def trackable(url: str) -> bool:
    """An absolute http(s) URL with a host, without spaces or control characters, and not
    too long: the only kind we rewrite or ever redirect to."""
    if not url or len(url) > MAX_URL_CHARS or BREAKS.search(url) or "\\" in url:
        return False
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def rewrite_text_links(text: str, make: Callable[[str, int], str]) -> str:
    """Every http(s) URL in plain text (trailing punctuation left outside) made tracked."""
    counter = iter(range(1 << 30))

    def swap(match: re.Match[str]) -> str:
        url = match.group(0)
        stripped = url.rstrip(TRAILING)
        if not trackable(stripped):
            return url
        return make(stripped, next(counter)) + url[len(stripped) :]

    return TEXT_URL.sub(swap, text)


class Link(NamedTuple):
    """One trackable <a>: where its href value (quotes included) sits in the html, and its URL."""

    start: int
    end: int
    url: str


class _Anchors(HTMLParser):
    """Collects every <a> start tag: where it starts, its raw text and its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, int, str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            line, column = self.getpos()
            self.found.append((line, column, self.get_starttag_text() or "", attrs))

    handle_startendtag = handle_starttag


def complete_markup(markup: str) -> str:
    """`markup` up to its last `>`: every tag, comment or declaration ends there or before.
    What follows can hold no link, and html.parser rescans an unclosed tag from each later
    `<` (quadratic: `<a <a <a …` took seconds for 10 KB), so it is not fed to it."""
    return markup[: markup.rfind(">") + 1]


def replace_link_tags(template: str, make: Callable[[str], str]) -> str:
    """Each `<% words %>` of `template` replaced by make(words stripped), in one pass (a
    lazy regular expression rescanned an unclosed `<%` from every blank after it)."""
    pieces: list[str] = []
    done = 0
    while (start := template.find("<%", done)) >= 0:
        end = template.find("%>", start + 2)
        if end < 0:
            break
        pieces += [template[done:start], make(template[start + 2 : end].strip())]
        done = end + 2
    return "".join(pieces) + template[done:]


def find_links(markup: str) -> list[Link]:
    """The trackable <a href> of an html part, in order. Links marked clicktracking=off, and
    mailto:, tel:, anchors and other non-http(s) targets, are not among them."""
    if "href" not in markup.lower():
        return []
    parser = _Anchors()
    try:
        parser.feed(complete_markup(markup))
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some markup ("<![x")
        pass  # the links before the trouble were found soundly; the rest stay untracked
    starts = [0]
    for text_line in markup.split("\n"):
        starts.append(starts[-1] + len(text_line) + 1)
    links: list[Link] = []
    for line, column, raw, attrs in parser.found:
        offset = starts[line - 1] + column
        found = _href(raw, attrs)
        if found is None or markup[offset : offset + len(raw)] != raw:
            continue
        start, end, url = found
        if not links or offset + start >= links[-1].end:
            links.append(Link(offset + start, offset + end, url))
    return links


def rewrite_html_links(
    markup: str, make: Callable[[str, int], str], links: list[Link] | None = None
) -> str:
    """The html with each trackable href replaced by make(url, index), the rest untouched
    byte for byte; `links` is find_links(markup) when the caller has it already."""
    pieces: list[str] = []
    done = 0
    for index, link in enumerate(find_links(markup) if links is None else links):
        pieces += [markup[done : link.start], '"', html.escape(make(link.url, index)), '"']
        done = link.end
    return "".join(pieces) + markup[done:] if pieces else markup


def _href(raw: str, attrs: list[tuple[str, str | None]]) -> tuple[int, int, str] | None:
    """The span of the href value in a start tag and its URL, if it is to be tracked."""
    values = dict(reversed(attrs))  # the first of a repeated attribute wins, as in browsers
    href = values.get("href")
    if href is None or (values.get("clicktracking") or "").lower() == "off":
        return None
    url = href.strip()
    if not trackable(url):
        return None
    position = 2  # after "<a"
    while (match := ATTR.match(raw, position)) and match.end() > position:
        position = match.end()
        if match.group(1).lower() != "href":
            continue
        quoted = match.group(2)
        if quoted is None or html.unescape(quoted.strip("'\"")) != href:
            return None
        start, end = match.span(2)
        return start, end, url
    return None
