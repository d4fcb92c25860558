"""Charts as SVG drawn on the server: a pure function from a series of daily counts to an
inline `<svg>` of bars (no script, no inline style: the CSP allows neither)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 300
HEIGHT = 60
GAP = 1.0


def bars_svg(values: Sequence[int], label: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    """One bar per value, scaled to the largest (all zeros: a flat baseline); `label` is the
    chart's accessible name. Coordinates are rounded to 0.1 so the output is stable."""
    count = max(len(values), 1)
    top = max([*values, 0])
    step = width / count
    bars = []
    for index, value in enumerate(values):
        tall = 0.0 if top == 0 else max(value, 0) / top * (height - 1)
        bars.append(
            f'<rect class="bar" x="{index * step:.1f}" y="{height - tall:.1f}" '
            f'width="{max(step - GAP, 0.5):.1f}" height="{tall:.1f}">'
            f"<title>{int(value)}</title></rect>"
        )
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f'<line class="baseline" x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}"/>'
        f"{''.join(bars)}</svg>"
    )
