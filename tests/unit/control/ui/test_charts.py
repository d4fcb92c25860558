"""bars_svg: one bar a value scaled to the largest, a flat chart for zeros, an escaped
accessible name, and nothing the CSP refuses (no style, no script)."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from control.ui.charts import bars_svg

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[dict[str, str]]:
    return [dict(rect.attrib) for rect in ElementTree.fromstring(svg).iter(f"{SVG}rect")]


def test_each_value_is_a_bar_scaled_to_the_largest() -> None:
    svg = bars_svg([0, 5, 10], "Delivered per day", width=300, height=61)
    found = bars(svg)
    assert [float(b["height"]) for b in found] == [0.0, 30.0, 60.0]
    assert [float(b["x"]) for b in found] == [0.0, 100.0, 200.0]
    assert [float(b["y"]) for b in found] == [61.0, 31.0, 1.0]
    titles = [t.text for t in ElementTree.fromstring(svg).iter(f"{SVG}title")]
    assert titles == ["0", "5", "10"]


def test_zeros_and_an_empty_series_draw_flat_charts() -> None:
    assert {b["height"] for b in bars(bars_svg([0, 0, 0], "x"))} == {"0.0"}
    assert bars(bars_svg([], "x")) == []


def test_the_label_is_escaped_and_nothing_inline_runs() -> None:
    svg = bars_svg([1], '"><script>alert(1)</script>')
    root = ElementTree.fromstring(svg)
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-label"] == '"><script>alert(1)</script>'
    assert "<script" not in svg and not re.search(r"\sstyle=|\son\w+=", svg)
