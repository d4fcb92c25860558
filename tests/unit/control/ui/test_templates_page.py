"""The Templates page's view data: the preview's HTML made inert before the sandboxed frame
shows it, and a template's active version."""

from __future__ import annotations

from control.ui.pages.templates import active_version, inert
from mta.services.template_views import TemplateView, VersionView


def test_the_preview_html_keeps_the_content_and_loses_what_would_run() -> None:
    shown = inert(
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        '<p style="color:red" onclick="alert(2)">Hello <b>Ada</b></p>'
        '<img src="x" onerror="alert(3)"><a href="javascript:alert(4)">go</a>'
        "<table><tr><td>cell</td></tr></table></body></html>"
    )
    assert "<p>Hello <b>Ada</b></p>" in shown and "<td>cell</td>" in shown
    for gone in ("alert", "script", "style", "onclick", "onerror", "javascript:"):
        assert gone not in shown, gone
    assert inert("") == ""


def version(version_id: str, active: int) -> VersionView:
    return VersionView(
        id=version_id,
        template_id="d-1",
        active=active,
        name=version_id,
        subject="",
        html_content="",
        plain_content="",
        generate_plain_content=True,
        editor="code",
        updated_at="2026-01-01 00:00:00",
    )


def test_the_active_version_is_the_one_marked_active() -> None:
    template = TemplateView(id="d-1", name="t", generation="dynamic", updated_at="", versions=[])
    assert active_version(template) is None
    template.versions = [version("a", 0), version("b", 1)]
    assert active_version(template) == template.versions[1]
