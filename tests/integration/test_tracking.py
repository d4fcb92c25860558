"""Open and click tracking end to end: a message sent with tracking reaches the MX sink signed
after its links were rewritten; fetching the pixel records opens (a privacy proxy's flagged
as machine_open), following a link records the click and redirects to the original URL, and
no altered, forged-to-javascript or foreign token ever redirects."""

from __future__ import annotations

import email
import email.policy
import re
import urllib.parse
from email.message import EmailMessage

import dkim
import httpx
import pytest

from mta.tracking.tokens import Claim, TrackingKey, make_token
from tests.support.api import account_with_key, dkim_dns, events_until, of_type, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory
from tests.support.sink import SmtpSink

SECRET = "tracking-test-secret"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
GOOGLE = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
TARGET = "https://shop.example.org/item?id=7&ref=mail"
HTML = (
    "<html><body><p>Hello</p>"
    '<a href="https://shop.example.org/item?id=7&amp;ref=mail">Buy</a> '
    '<a href="mailto:help@example.org">Mail us</a> '
    '<a href="javascript:alert(1)">x</a> '
    '<a clicktracking=off href="https://shop.example.org/private">private</a>'
    "</body></html>"
)


@pytest.fixture
def server(make_server: ServerFactory) -> ScaisendServer:
    return make_server({"tracking": {"secret": SECRET}})


def send_tracked(server: ScaisendServer, key: str) -> str:
    response = httpx.post(
        f"{server.base_url}/v3/mail/send",
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
        json={
            "personalizations": [{"to": [{"email": "ada@example.com"}]}],
            "from": {"email": "hello@mail.example.com"},
            "subject": "Tracked",
            "content": [
                {"type": "text/plain", "value": f"Hello, see {TARGET}."},
                {"type": "text/html", "value": HTML},
            ],
            "categories": ["spring"],
            "custom_args": {"order": "42"},
            "tracking_settings": {
                "open_tracking": {"enable": True},
                "click_tracking": {"enable": True, "enable_text": True},
            },
        },
    )
    assert response.status_code == 202, response.text
    return str(response.json()["message_id"])


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    markup = message.get_body(("html",))
    assert text is not None and markup is not None
    return str(text.get_content()), str(markup.get_content())


def test_open_and_click_tracking(
    server: ScaisendServer, sink: SmtpSink, dns_server: DnsServer
) -> None:
    token, key = account_with_key(server, dns_server)
    message_id = send_tracked(server, key)
    (received,) = sink.wait_for(1)
    assert dkim.verify(received.data, dnsfunc=dkim_dns(dns_server))  # rewritten, then signed
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text, markup = parts(message)
    base = re.escape(server.base_url)
    (pixel,) = re.findall(rf'<img src="({base}/wf/open\?upn=[\w-]+)"', markup)
    links = re.findall(r'href="([^"]+)"', markup)
    assert links[1:] == [
        "mailto:help@example.org",
        "javascript:alert(1)",
        "https://shop.example.org/private",
    ]
    assert links[0].startswith(f"{server.base_url}/ls/click?upn=")
    (text_link,) = re.findall(rf"{base}/ls/click\?upn=[\w-]+", text)
    wait_for_status(server, key, message_id, "delivered")

    with httpx.Client(follow_redirects=False, timeout=10) as client:
        gif = client.get(pixel, headers={"User-Agent": BROWSER})
        assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif"
        assert "no-store" in gif.headers["cache-control"] and gif.content.startswith(b"GIF89a")
        assert client.get(pixel, headers={"User-Agent": GOOGLE}).status_code == 200
        for link, kind in ((links[0], "html"), (text_link, "text")):
            hop = client.get(link, headers={"User-Agent": BROWSER})
            assert hop.status_code == 302, kind
            assert hop.headers["location"] == TARGET
            assert "no-store" in hop.headers["cache-control"]

    events = events_until(
        server,
        token,
        message_id,
        lambda ev: len(of_type(ev, "open")) == 2 and len(of_type(ev, "click")) == 2,
    )
    opens = sorted(of_type(events, "open"), key=lambda e: e["data"]["machine_open"])
    assert [o["data"]["machine_open"] for o in opens] == [False, True]
    assert opens[0]["data"]["useragent"] == BROWSER and opens[0]["data"]["ip"] == "127.0.0.1"
    assert opens[0]["email"] == "ada@example.com"
    assert opens[0]["data"]["categories"] == ["spring"]
    clicks = of_type(events, "click")
    offsets = sorted(
        (c["data"]["url_offset"]["type"], c["data"]["url_offset"]["index"]) for c in clicks
    )
    assert offsets == [("html", 0), ("text", 0)]
    assert all(c["data"]["url"] == TARGET and c["data"]["useragent"] == BROWSER for c in clicks)


def test_opens_and_clicks_are_logged_one_line_each(
    server: ScaisendServer, sink: SmtpSink, dns_server: DnsServer
) -> None:
    _, key = account_with_key(server, dns_server)
    message_id = send_tracked(server, key)
    (received,) = sink.wait_for(1)
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    _, markup = parts(message)
    (pixel,) = re.findall(rf'<img src="({re.escape(server.base_url)}/wf/open\?upn=[\w-]+)"', markup)
    link = re.findall(r'href="([^"]+)"', markup)[0]
    wait_for_status(server, key, message_id, "delivered")
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        assert client.get(pixel, headers={"User-Agent": GOOGLE}).status_code == 200
        assert client.get(link, headers={"User-Agent": BROWSER}).status_code == 302
    about = f"message_id={message_id} rcpt_index=0 destination=example.com"
    log = server.log()
    assert log.count(f"event=open {about} machine_open=true") == 1
    assert log.count(f"event=click {about}") == 1


def test_no_open_redirect(server: ScaisendServer, sink: SmtpSink, dns_server: DnsServer) -> None:
    token, key = account_with_key(server, dns_server)
    message_id = send_tracked(server, key)
    (received,) = sink.wait_for(1)
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    _, markup = parts(message)
    link = re.findall(r'href="([^"]+)"', markup)[0]
    good = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["upn"][0]
    wait_for_status(server, key, message_id, "delivered")
    signed = TrackingKey(SECRET)
    hostile = [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/",
        "https://evil.example/\r\nSet-Cookie: a=b",
        "ftp://evil.example/",
    ]
    forged = [
        make_token(signed, Claim(kind="click", message_id=message_id, recipient_index=0, url=u))
        for u in hostile
    ]
    other_key = make_token(
        TrackingKey("not the server's"),
        Claim(kind="click", message_id=message_id, recipient_index=0, url="https://evil.example/"),
    )
    flipped = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    pixel_as_click = make_token(
        signed, Claim(kind="open", message_id=message_id, recipient_index=0)
    )
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        for bad in [*forged, other_key, flipped, pixel_as_click, "", "x" * 5000, good + "A"]:
            answer = client.get(f"{server.base_url}/ls/click", params={"upn": bad})
            assert answer.status_code == 404, bad
            assert "location" not in answer.headers
        assert client.get(f"{server.base_url}/wf/open", params={"upn": flipped}).status_code == 404
        ok = client.get(f"{server.base_url}/ls/click", params={"upn": good})
        assert ok.status_code == 302 and ok.headers["location"] == TARGET
    events = events_until(server, token, message_id, lambda ev: len(of_type(ev, "click")) >= 1)
    assert len(of_type(events, "click")) == 1  # only the genuine link counted
