"""Derive a template version's plain text from its HTML (`generate_plain_content`): text kept,
blocks and line breaks as new lines, links as "text (url)", scripts and styles dropped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "div", "dl", "dt", "dd", "fieldset", "figure"}
    | {"footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav"}
    | {"ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul"}
)
HIDDEN = frozenset({"script", "style", "head", "title", "template"})


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in BLOCKS:
            self._break(2 if tag == "p" else 1)
        if tag == "a":
            self._links.append(dict(attrs).get("href"))
            self.parts.append("\x00")  # marks where the link's text starts

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in BLOCKS:
            self._break(2 if tag == "p" else 1)
        elif tag == "a" and self._links:
            self._close_link(self._links.pop())

    def _break(self, lines: int) -> None:
        """End the current block: at least `lines` line ends, not one more per tag."""
        tail = "".join(self.parts[-4:]).replace(" ", "")
        have = len(tail) - len(tail.rstrip("\n"))
        self.parts.append("\n" * max(0, lines - have))

    def _close_link(self, href: str | None) -> None:
        start = max(i for i, part in enumerate(self.parts) if part == "\x00")
        label = "".join(self.parts[start + 1 :]).strip()
        del self.parts[start:]
        if href and not href.startswith(("#", "mailto:")) and href != label:
            label = f"{label} ({href})" if label else href
        self.parts.append(label)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable plain text for an HTML body (Handlebars tags pass through unchanged)."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    text = "".join(p for p in collector.parts if p != "\x00")
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
