"""Tracking in message contents: which links are rewritten (and how the rest of the html stays
byte for byte), hostile URLs left alone, the pixel, the subscription footer, ASM tags, the
List-Unsubscribe headers, and the machine-open heuristic."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import msgspec
import pytest

from mta.submission.send_request.compose import apply_tracking, plan_for
from mta.submission.send_request.request import Content, MailSend
from mta.tracking.content import (
    Plan,
    Tracker,
    list_unsubscribe_headers,
    machine_open,
    prepend_list_unsubscribe,
    with_list_unsubscribe,
)
from mta.tracking.links import (
    MAX_URL_CHARS,
    find_links,
    rewrite_html_links,
    rewrite_text_links,
    trackable,
)
from mta.tracking.tokens import TrackingKey, parse_token, parse_unsubscribe_address

KEY = TrackingKey("secret")
TRACKER = Tracker(KEY, "https://links.example.com/")
MID = "18c2f3a4b5c9f0e1d2c3b4a5f60"


def marker(url: str, index: int) -> str:
    return f"T{index}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/", True),
        ("http://example.com", True),
        ("HTTPS://EXAMPLE.COM/Path?q=1#f", True),
        ("https://user@example.com:8443/x", True),
        ("https://good.example%2F@evil.example/", True),  # what the sender wrote, signed
        ("https://例え.jp/", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("vbscript:msgbox(1)", False),
        ("//evil.example/", False),
        ("/relative/path", False),
        ("#anchor", False),
        ("mailto:someone@example.com", False),
        ("tel:+15551234567", False),
        ("ftp://example.com/file", False),
        ("http%3A//evil.example", False),
        ("http:evil.example", False),
        ("http://", False),
        ("https:///path-only", False),
        ("http:\\\\evil.example", False),
        ("https://example.com/\r\nSet-Cookie: x=1", False),
        ("https://example.com/a b", False),
        (" https://example.com/", False),  # callers strip first
        ("https://[::1", False),
        ("https://example.com/" + "a" * MAX_URL_CHARS, False),
        ("", False),
    ],
)
def test_trackable(url: str, expected: bool) -> None:
    assert trackable(url) is expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a href="https://a.example/">a</a>', '<a href="T0">a</a>'),
        ("<a href='http://a.example/'>a</a>", '<a href="T0">a</a>'),
        ("<a href=http://a.example/>a</a>", '<a href="T0">a</a>'),
        ('<A HREF = "http://a.example/">a</A>', '<A HREF = "T0">a</A>'),
        (
            '<a class="x"\n   href="https://a.example/"\n>a</a>',
            '<a class="x"\n   href="T0"\n>a</a>',
        ),
        ('<a href="  https://a.example/  ">a</a>', '<a href="T0">a</a>'),
        ('<a href="mailto:x@example.com">m</a>', None),
        ('<a href="tel:+1555">t</a>', None),
        ('<a href="#top">t</a>', None),
        ('<a href="javascript:alert(1)">j</a>', None),
        ('<a href="data:text/html,x">d</a>', None),
        ('<a href="//evil.example">e</a>', None),
        ('<a clicktracking=off href="https://a.example/">a</a>', None),
        ('<a href="https://a.example/" clicktracking="OFF">a</a>', None),
        (
            '<a title=" href=https://x.example" href="https://a.example/">a</a>',
            '<a title=" href=https://x.example" href="T0">a</a>',
        ),
        (  # browsers follow the first href
            '<a href="https://a.example/" href="https://b.example/">a</a>',
            '<a href="T0" href="https://b.example/">a</a>',
        ),
        ('<a name="x">no href</a>', None),
        ('<link href="https://a.example/style.css">', None),
        ('<img src="https://a.example/i.png">', None),
        ('<!-- <a href="https://a.example/">c</a> -->', None),
        ("<script>var s='<a href=\"https://a.example/\">';</script>", None),
        ('<a href="https://a.example/"', None),  # never closed: not a tag
        (
            '<![if mso]><a href="https://a.example/">a</a><![endif]>',
            '<![if mso]><a href="T0">a</a><![endif]>',
        ),
        (  # html.parser gives up at "<![foo": what came before is still tracked
            '<a href="https://a.example/">a</a><![foo <a href="https://b.example/">b</a>',
            '<a href="T0">a</a><![foo <a href="https://b.example/">b</a>',
        ),
        ('<![ CDATA[x]]><a href="https://a.example/">a</a>', None),
        ("<p>no links at all</p>", None),
    ],
)
def test_rewrite_html_links(html: str, expected: str | None) -> None:
    assert rewrite_html_links(html, marker) == (html if expected is None else expected)


def test_rewrite_html_links_keeps_everything_else() -> None:
    html = (
        "<html><head><style>a{color:red}</style></head>\r\n<body>\r\n"
        '<p>Ünïcode &amp; entities &nbsp;</p><a href="https://a.example/1">one</a>\n'
        '<a href="mailto:x@example.com">m</a> <a id=z href="https://a.example/2?x=1&amp;y=2">'
        "two</a><br/></body></html>"
    )
    seen: list[tuple[str, int]] = []

    def record(url: str, index: int) -> str:
        seen.append((url, index))
        return f"https://t.example/{index}?a=1&b=2"

    out = rewrite_html_links(html, record)
    assert seen == [("https://a.example/1", 0), ("https://a.example/2?x=1&y=2", 1)]
    assert 'href="https://t.example/1?a=1&amp;b=2"' in out  # our URL escaped in the attribute
    restored = out.replace('"https://t.example/0?a=1&amp;b=2"', '"https://a.example/1"')
    restored = restored.replace(
        '"https://t.example/1?a=1&amp;b=2"', '"https://a.example/2?x=1&amp;y=2"'
    )
    assert restored == html


def test_many_links_are_numbered_in_order() -> None:
    html = "".join(f'<a href="https://a.example/{i}">{i}</a>\n' for i in range(2000))
    out = rewrite_html_links(html, marker)
    assert re.findall(r'href="T(\d+)"', out) == [str(i) for i in range(2000)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://a.example/x.", "see T0."),
        ("(http://a.example/y) and https://b.example/z!", "(T0) and T1!"),
        ("ftp://a.example and javascript:alert(1)", None),
        ("HTTPS://A.EXAMPLE/Q?x=1&y=2", "T0"),
        ("<https://a.example/>", "<T0>"),
        ("no links", None),
    ],
)
def test_rewrite_text_links(text: str, expected: str | None) -> None:
    assert rewrite_text_links(text, marker) == (text if expected is None else expected)


def _request(**tracking: Any) -> MailSend:
    data: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "from": {"email": "hello@mail.example.com"},
        "subject": "Hello",
        "content": [{"type": "text/plain", "value": "Hi"}],
    }
    data.update(tracking)
    return msgspec.convert(data, MailSend)


def _plan(**fields: Any) -> Plan:
    return msgspec.convert(
        {"message_id": MID, "recipient_index": 2, "return_path_host": "rp.example.com", **fields},
        Plan,
    )


def test_plan_for_nothing_asked_is_none() -> None:
    off = {"click_tracking": {"enable": False}, "open_tracking": {"enable": False}}
    assert plan_for(_request(), MID, 0, "rp.example.com") is None
    assert plan_for(_request(tracking_settings=off), MID, 0, "rp.example.com") is None
    plan = plan_for(_request(asm={"group_id": 7}), MID, 3, "rp.example.com")
    assert plan is not None and plan.asm_group_id == 7 and plan.recipient_index == 3
    assert plan.list_unsubscribe and plan.open is None and plan.click is None


def _token(url: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["upn"][0]


def test_click_links_carry_their_url_and_offset() -> None:
    plan = _plan(click={"enable": True, "enable_text": True})
    contents = [
        Content("text/plain", "Go https://a.example/t"),
        Content("text/html", '<a href="https://a.example/0">0</a><a href="https://a.example/1">1'),
    ]
    text, markup = apply_tracking(TRACKER, plan, contents)
    urls = re.findall(r'href="([^"]+)"', markup.value)
    claims = [parse_token(KEY, _token(url), "click") for url in urls]
    assert [(c.url, c.url_index, c.url_type) for c in claims if c] == [
        ("https://a.example/0", 0, "html"),
        ("https://a.example/1", 1, "html"),
    ]
    assert all(url.startswith("https://links.example.com/ls/click?upn=") for url in urls)
    (text_url,) = re.findall(r"https://links\S+", text.value)
    claim = parse_token(KEY, _token(text_url), "click")
    assert claim is not None and (claim.url, claim.url_type, claim.recipient_index) == (
        "https://a.example/t",
        "text",
        2,
    )


def test_text_links_are_left_without_enable_text() -> None:
    plan = _plan(click={"enable": True})
    (text,) = apply_tracking(TRACKER, plan, [Content("text/plain", "https://a.example/")])
    assert text.value == "https://a.example/"


def test_open_pixel_goes_before_body_end_or_at_the_tag() -> None:
    plan = _plan(open={"enable": True})
    (html,) = apply_tracking(TRACKER, plan, [Content("text/html", "<body><p>x</p></body>")])
    pixel = re.search(r'<img src="([^"]+)"[^>]*/></body>$', html.value)
    assert pixel is not None and pixel.group(1).startswith("https://links.example.com/wf/open?")
    claim = parse_token(KEY, _token(pixel.group(1)), "open")
    assert claim is not None and (claim.message_id, claim.recipient_index) == (MID, 2)
    tagged = _plan(open={"enable": True, "substitution_tag": "%open%"})
    (html,) = apply_tracking(TRACKER, tagged, [Content("text/html", "<p>%open%</p><p>y</p>")])
    assert html.value.startswith("<p><img src=") and html.value.endswith("</p><p>y</p>")


def test_subscription_footer_and_tag() -> None:
    plan = _plan(
        subscription={"enable": True, "html": "<p><% Leave %> now</p>", "text": "Bye <% %>"}
    )
    text, html = apply_tracking(
        TRACKER,
        plan,
        [Content("text/plain", "Hi"), Content("text/html", "<body>Hi</body>")],
    )
    assert re.fullmatch(
        r"Hi\n\nBye https://links\.example\.com/wf/unsubscribe\?upn=\S+", text.value
    )
    assert re.fullmatch(
        r'<body>Hi<p><a href="https://links[^"]+">Leave</a> now</p></body>', html.value
    )
    defaults = _plan(subscription={"enable": True}, click={"enable": True})
    (html,) = apply_tracking(TRACKER, defaults, [Content("text/html", "x")])
    assert "unsubscribe and stop receiving" in html.value
    assert "/wf/unsubscribe?upn=" in html.value and "/ls/click" not in html.value
    tagged = _plan(subscription={"enable": True, "substitution_tag": "[unsub]", "text": "no"})
    (text,) = apply_tracking(TRACKER, tagged, [Content("text/plain", "Out: [unsub]")])
    assert re.fullmatch(r"Out: https://links\.example\.com/wf/unsubscribe\?upn=\S+", text.value)


def test_asm_tags_name_the_group_or_the_whole_account() -> None:
    plan = _plan(asm_group_id=7)
    source = "<%asm_group_unsubscribe_raw_url%> <%asm_global_unsubscribe_raw_url%>"
    (text,) = apply_tracking(TRACKER, plan, [Content("text/plain", source)])
    group_url, global_url = text.value.split(" ")
    group = parse_token(KEY, _token(group_url), "unsubscribe")
    whole = parse_token(KEY, _token(global_url), "unsubscribe")
    assert group is not None and group.asm_group_id == 7
    assert whole is not None and whole.asm_group_id is None


def test_list_unsubscribe_headers() -> None:
    headers = list_unsubscribe_headers(TRACKER, _plan(asm_group_id=7))
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    mailto, https = re.fullmatch(
        r"<mailto:(\S+)\?subject=unsubscribe>, <(\S+)>", headers["List-Unsubscribe"]
    ).groups()  # type: ignore[union-attr]
    mail_claim = parse_unsubscribe_address(KEY, mailto)
    assert mail_claim is not None and mail_claim.asm_group_id == 7
    assert mailto.endswith("@rp.example.com")
    assert parse_token(KEY, _token(https), "unsubscribe") == mail_claim
    without_host = list_unsubscribe_headers(TRACKER, _plan(asm_group_id=7, return_path_host=""))
    assert without_host["List-Unsubscribe"].startswith("<https://")
    assert list_unsubscribe_headers(TRACKER, _plan(open={"enable": True})) == {}


def test_a_senders_own_list_unsubscribe_wins() -> None:
    plan = _plan(subscription={"enable": True})
    own = {"list-unsubscribe": "<mailto:me@example.com>"}
    assert with_list_unsubscribe(own, TRACKER, plan) == own
    assert "List-Unsubscribe" in with_list_unsubscribe({"X": "1"}, TRACKER, plan)
    assert with_list_unsubscribe({"X": "1"}, None, plan) == {"X": "1"}


def test_smtp_messages_get_the_headers_for_one_recipient_only() -> None:
    plan = _plan(asm_group_id=3)
    data = b"From: a@example.com\r\n\r\nbody\r\n"
    out = prepend_list_unsubscribe(TRACKER, data, present={}, recipients=1, plan=plan)
    head = out[: -len(data)].decode()
    assert head.startswith("List-Unsubscribe: <mailto:unsub+") and ",\r\n <https://" in head
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head
    assert all(len(line) <= 998 for line in head.split("\r\n"))
    assert prepend_list_unsubscribe(TRACKER, data, present={}, recipients=2, plan=plan) == data
    present = {"list-unsubscribe": "<mailto:x@y>"}
    assert prepend_list_unsubscribe(TRACKER, data, present=present, recipients=1, plan=plan) == data
    no_group = _plan()
    assert prepend_list_unsubscribe(TRACKER, data, present={}, recipients=1, plan=no_group) == data


@pytest.mark.parametrize(
    ("agent", "machine"),
    [
        ("Mozilla/5.0", True),
        ("Mozilla/5.0 ", True),
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
            "(via ggpht.com GoogleImageProxy)",
            True,
        ),
        ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", True),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko)",
            False,
        ),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", False),
        ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5422; Pro)", False),
        ("", False),
    ],
)
def test_machine_open(agent: str, machine: bool) -> None:
    assert machine_open(agent) is machine


def test_links_found_once_serve_every_recipient() -> None:
    """A bulk send parses its html once; each recipient's links still name that recipient."""
    markup = '<p>x</p><a href="https://a.example/">a</a>'
    tracker = Tracker(KEY, "https://links.example.com")
    assert tracker.links(markup) is tracker.links(markup)
    (link,) = find_links(markup)
    assert markup[link.start : link.end] == '"https://a.example/"'
    outputs = []
    for index in (0, 1):
        plan = _plan(recipient_index=index, click={"enable": True})
        (html,) = apply_tracking(tracker, plan, [Content("text/html", markup)])
        (url,) = re.findall(r'href="([^"]+)"', html.value)
        claim = parse_token(KEY, _token(url.replace("&amp;", "&")), "click")
        assert claim is not None and claim.recipient_index == index
        outputs.append(html.value)
    assert outputs[0] != outputs[1]
