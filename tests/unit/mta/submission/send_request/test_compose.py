"""One personalization into a message: template or request content, legacy substitutions and
sections, footer, per-personalization sender and headers, and no header broken on the way."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

import msgspec
import pytest

from mta.core.errors import ValidationError
from mta.db.models import Domain
from mta.services.templates import VersionView
from mta.submission.send_request.compose import (
    compose,
    merged_headers,
    render_parts,
    sender_of,
    with_footer,
)
from mta.submission.send_request.request import Content, Footer, MailSend


def _request(**overrides: Any) -> MailSend:
    data: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "from": {"email": "hello@mail.example.com"},
        "subject": "Hello -name-",
        "content": [
            {"type": "text/plain", "value": "Hi -name-"},
            {"type": "text/html", "value": "<p>Hi -name-</p>"},
        ],
    }
    data.update(overrides)
    return msgspec.convert(data, MailSend)


def _version(template_id: str, subject: str = "", plain: str = "", html: str = "") -> VersionView:
    return VersionView(
        id="v1",
        template_id=template_id,
        active=1,
        name="v1",
        subject=subject,
        html_content=html,
        plain_content=plain,
        generate_plain_content=False,
        editor="code",
        updated_at="2026-01-01T00:00:00Z",
    )


def _one(**personalization: Any) -> list[dict[str, Any]]:
    return [{"to": [{"email": "ada@example.com"}], **personalization}]


def _parts(
    request: MailSend, version: VersionView | None = None
) -> tuple[str, list[tuple[str, str]]]:
    rendered = render_parts(request, request.personalizations[0], version)
    return rendered.subject, [(c.type, c.value) for c in rendered.contents]


def test_request_content_as_it_is() -> None:
    subject, contents = _parts(_request())
    assert subject == "Hello -name-"
    assert contents == [("text/plain", "Hi -name-"), ("text/html", "<p>Hi -name-</p>")]


def test_personalization_subject_wins() -> None:
    subject, _ = _parts(_request(personalizations=_one(subject="Own")))
    assert subject == "Own"


@pytest.mark.parametrize(
    ("overrides", "subject", "plain"),
    [
        ({"personalizations": _one(substitutions={"-name-": "Ada"})}, "Hello Ada", "Hi Ada"),
        (
            {
                "personalizations": _one(substitutions={"-name-": "%formal%", "-n-": "Ada"}),
                "sections": {"%formal%": "Ms -n-"},
            },
            "Hello Ms Ada",
            "Hi Ms Ada",
        ),
        # substitutions belong to legacy sends: a dynamic template ignores them
        (
            {"personalizations": _one(substitutions={"-name-": "Ada"}), "template_id": "d-x"},
            "Hello -name-",
            "Hi -name-",
        ),
        ({"sections": {"-name-": "S"}}, "Hello S", "Hi S"),
    ],
)
def test_substitutions(overrides: dict[str, Any], subject: str, plain: str) -> None:
    got_subject, contents = _parts(_request(**overrides))
    assert (got_subject, contents[0][1]) == (subject, plain)


def test_substitutions_are_per_personalization() -> None:
    request = _request(
        personalizations=[
            {"to": [{"email": "a@example.com"}], "substitutions": {"-name-": "Ada"}},
            {"to": [{"email": "b@example.com"}], "substitutions": {"-name-": "Bob"}},
        ]
    )
    subjects = [
        render_parts(request, p, None, i).subject for i, p in enumerate(request.personalizations)
    ]
    assert subjects == ["Hello Ada", "Hello Bob"]


def test_substitution_blow_up_is_refused() -> None:
    request = _request(
        content=[{"type": "text/plain", "value": "-x-" * 100_000}],
        personalizations=_one(substitutions={"-x-": "y" * 9_000}),
    )
    with pytest.raises(ValidationError) as failure:
        render_parts(request, request.personalizations[0], None, 0)
    assert failure.value.field == "personalizations.0.substitutions"


def test_dynamic_template_parts_win() -> None:
    request = _request(
        personalizations=_one(dynamic_template_data={"name": "Ada"}), template_id="d-welcome"
    )
    version = _version("d-welcome", "Welcome, {{name}}!", "Hello {{name}}", "<p>Hello {{name}}</p>")
    assert _parts(request, version) == (
        "Welcome, Ada!",
        [("text/plain", "Hello Ada"), ("text/html", "<p>Hello Ada</p>")],
    )


def test_template_without_a_part_keeps_the_request_s() -> None:
    request = _request(
        template_id="d-t",
        content=[
            {"type": "text/plain", "value": "request text"},
            {"type": "text/calendar", "value": "BEGIN:VCALENDAR"},
        ],
    )
    subject, contents = _parts(request, _version("d-t", html="<p>template</p>"))
    assert subject == "Hello -name-"
    assert contents == [
        ("text/plain", "request text"),
        ("text/html", "<p>template</p>"),
        ("text/calendar", "BEGIN:VCALENDAR"),
    ]


def test_legacy_template_takes_body_subject_and_substitutions() -> None:
    request = _request(
        template_id="legacy-1", personalizations=_one(substitutions={"-name-": "Ada"})
    )
    version = _version(
        "legacy-1", "[News] <%subject%>", "Header\n<%body%>\nFooter", "<div><%body%></div>"
    )
    assert _parts(request, version) == (
        "[News] Hello Ada",
        [("text/plain", "Header\nHi Ada\nFooter"), ("text/html", "<div><p>Hi Ada</p></div>")],
    )


@pytest.mark.parametrize(
    ("footer", "plain", "html"),
    [
        (None, "Hi", "<html><body>Hi</body></html>"),
        ({"enable": False, "text": "F", "html": "<b>F</b>"}, "Hi", "<html><body>Hi</body></html>"),
        ({"enable": True, "text": "F"}, "Hi\n\nF", "<html><body>Hi</body></html>"),
        (
            {"enable": True, "text": "F", "html": "<b>F</b>"},
            "Hi\n\nF",
            "<html><body>Hi<b>F</b></body></html>",
        ),
    ],
)
def test_footer(footer: dict[str, Any] | None, plain: str, html: str) -> None:
    contents = [Content("text/plain", "Hi"), Content("text/html", "<html><body>Hi</body></html>")]
    settings = None if footer is None else msgspec.convert(footer, Footer)
    assert [c.value for c in with_footer(contents, settings)] == [plain, html]


def test_footer_without_a_body_tag_is_appended() -> None:
    footer = Footer(enable=True, html="<hr>")
    assert with_footer([Content("text/html", "<p>x</p>")], footer)[0].value == "<p>x</p><hr>"


def test_headers_merge_case_insensitively() -> None:
    request = _request(
        headers={"X-A": "top", "X-B": "top"},
        personalizations=_one(headers={"x-a": "own", "X-C": "own"}),
    )
    assert merged_headers(request, request.personalizations[0]) == {
        "X-B": "top",
        "x-a": "own",
        "X-C": "own",
    }


DOMAIN = Domain(domain="mail.example.com")


def _compose(request: MailSend, index: int = 0, version: VersionView | None = None) -> EmailMessage:
    personalization = request.personalizations[index]
    rendered = render_parts(request, personalization, version, index)
    data = compose(
        request,
        personalization,
        rendered,
        domain=DOMAIN,
        message_id="m",
        queue_id=f"m-{index}",
        index=index,
    )
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_personalization_from_and_reply_to_list() -> None:
    request = _request(
        personalizations=[
            {"to": [{"email": "a@example.com"}]},
            {
                "to": [{"email": "b@example.com"}],
                "from": {"email": "news@mail.example.com", "name": "News"},
            },
        ],
        reply_to_list=[{"email": "r1@example.com"}, {"email": "r2@example.com"}],
    )
    assert sender_of(request, request.personalizations[1]).email == "news@mail.example.com"
    first, second = _compose(request, 0), _compose(request, 1)
    assert first["From"] == "hello@mail.example.com"
    assert second["From"] == "News <news@mail.example.com>"
    assert [a.addr_spec for a in second["Reply-To"].addresses] == [
        "r1@example.com",
        "r2@example.com",
    ]
    assert second["Message-ID"] == "<m-1@mail.example.com>"


@pytest.mark.parametrize(
    ("overrides", "version", "field"),
    [
        (
            {"personalizations": _one(substitutions={"-name-": "x\r\nBcc: victim@example.org"})},
            None,
            "personalizations.0.substitutions",
        ),
        (
            {"personalizations": _one(substitutions={"-name-": "x\u2028Bcc: v@example.org"})},
            None,
            "personalizations.0.substitutions",
        ),
        (
            {
                "template_id": "d-t",
                "personalizations": _one(dynamic_template_data={"name": "x\nBcc: v@example.org"}),
            },
            _version("d-t", "Hi {{{name}}}", "body"),
            "personalizations.0.dynamic_template_data",
        ),
    ],
)
def test_a_rendered_subject_cannot_break_its_header(
    overrides: dict[str, Any], version: VersionView | None, field: str
) -> None:
    with pytest.raises(ValidationError) as failure:
        _compose(_request(**overrides), 0, version)
    assert failure.value.field == field
    assert "The subject may not contain CR, LF" in failure.value.message


def test_line_breaks_from_substitutions_are_fine_in_bodies() -> None:
    request = _request(
        subject="Plain", personalizations=_one(substitutions={"-name-": "Ada\nLovelace"})
    )
    body = _compose(request).get_body(("plain",))
    assert body is not None and body.get_content() == "Hi Ada\r\nLovelace\r\n"


def test_subject_required_after_rendering() -> None:
    request = _request(subject=None, template_id="d-t")
    with pytest.raises(ValidationError, match="The subject is required") as failure:
        _compose(request, 0, _version("d-t", "", "body"))
    assert failure.value.field == "subject"
