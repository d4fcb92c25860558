"""The template preview: parts rendered with the test data as a send renders them, the
derived plain text, and each problem keyed by the field that caused it."""

from __future__ import annotations

from mta.handlebars.budget import RenderLimits
from mta.handlebars.render import CompiledTemplates
from mta.services.template_views import SUBJECT_MAX
from mta.submission.preview import PreviewSource, preview_version


def source(**parts: str) -> PreviewSource:
    return PreviewSource(template_id="d-1", version_id="v-1", **parts)  # type: ignore[arg-type]


def test_parts_render_with_the_test_data_escaped_as_a_send_escapes() -> None:
    found = preview_version(
        source(
            subject="Hi {{first_name}}",
            html_content="<p>{{first_name}} {{note}}</p>",
            test_data='{"first_name": "Ada", "note": "<b>"}',
        ),
        CompiledTemplates(),
    )
    assert found.errors == {}
    assert found.subject == "Hi Ada"
    assert found.html_content == "<p>Ada &lt;b&gt;</p>"
    # Derived from the HTML, then rendered: escaped as a send escapes every part.
    assert found.plain_content == "Ada &lt;b&gt;"


def test_each_error_names_its_field_and_the_other_parts_still_render() -> None:
    found = preview_version(
        source(subject="x" * (SUBJECT_MAX + 1), html_content="{{#if}}", plain_content="Hi {{a}}"),
        CompiledTemplates(),
    )
    assert set(found.errors) == {"subject", "html_content"}
    assert "at most" in found.errors["subject"]
    assert "html_content failed to render" in found.errors["html_content"]
    assert found.plain_content == "Hi "


def test_test_data_that_is_not_a_json_object_stops_the_render() -> None:
    for bad, says in (("{nope", "is not JSON"), ("[1]", "must be a JSON object")):
        found = preview_version(source(subject="{{a}}", test_data=bad), CompiledTemplates())
        assert says in found.errors["test_data"]
        assert found.subject == ""


def test_the_render_limits_hold() -> None:
    tight = CompiledTemplates(limits=RenderLimits(max_steps=50))
    found = preview_version(
        source(
            html_content="{{#each items}}{{this}}{{/each}}",
            test_data='{"items": ' + str(list(range(500))) + "}",
        ),
        tight,
    )
    assert "max_steps" in found.errors["html_content"]
