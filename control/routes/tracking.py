"""The public tracking endpoints (no credentials: the signed token is the authority): the open
pixel, the click redirect, and the unsubscribe page with its one-click POST (RFC 8058)."""

from __future__ import annotations

import html
import urllib.parse
from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery

from control.services import Services
from mta.tracking.content import CLICK_PATH, OPEN_PATH, UNSUBSCRIBE_PATH
from mta.tracking.service import Subscription, Visitor

# A transparent 1x1 GIF.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}
REFERENCE_SAFE = "!#$%&'()*+,-./:;=?@[]~_"  # kept as they are when an IRI is made a URI
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family:sans-serif;max-width:34em;margin:3em auto;padding:0 1em">
<h1 style="font-size:1.4em">{title}</h1><p>{text}</p>{form}</body></html>
"""


def visitor(request: Request[Any, Any, Any]) -> Visitor:
    agent = request.headers.get("user-agent", "")
    return Visitor(useragent=agent, ip=request.client.host if request.client else "")


def page(title: str, text: str, form: str = "", status: int = 200) -> Response[str]:
    body = PAGE.format(title=html.escape(title), text=text, form=form)
    return Response(body, status_code=status, media_type=MediaType.HTML, headers=NO_STORE)


def not_found() -> Response[str]:
    return page("Link not recognised", "This link is not valid, or has expired.", status=404)


@get(OPEN_PATH, include_in_schema=False)
async def open_pixel(
    request: Request[Any, Any, Any], services: NamedDependency[Services], upn: FromQuery[str] = ""
) -> Response[bytes]:
    if not await services.tracking.open(upn, visitor(request)):
        return Response(b"", status_code=404, media_type=MediaType.TEXT, headers=NO_STORE)
    return Response(PIXEL_GIF, media_type="image/gif", headers=NO_STORE)


@get(CLICK_PATH, include_in_schema=False)
async def click(
    request: Request[Any, Any, Any], services: NamedDependency[Services], upn: FromQuery[str] = ""
) -> Response[str]:
    url = await services.tracking.click(upn, visitor(request))
    if url is None:
        return not_found()
    location = url if url.isascii() else urllib.parse.quote(url, safe=REFERENCE_SAFE)
    return Response("", status_code=302, headers={**NO_STORE, "Location": location})


def _form(token: str, subscription: Subscription) -> str:
    action = html.escape(f"{UNSUBSCRIBE_PATH}?upn={urllib.parse.quote(token)}")
    buttons = '<button name="action" value="unsubscribe">Unsubscribe</button>'
    if subscription.asm_group_id is not None:
        buttons += ' <button name="action" value="resubscribe">Resubscribe</button>'
    return f'<form method="post" action="{action}">{buttons}</form>'


@get(UNSUBSCRIBE_PATH, include_in_schema=False)
async def unsubscribe_page(
    services: NamedDependency[Services], upn: FromQuery[str] = ""
) -> Response[str]:
    """A confirmation page only: link scanners fetch with GET, so GET changes nothing."""
    subscription = await services.tracking.subscription(upn)
    if subscription is None:
        return not_found()
    what = "these emails" if subscription.asm_group_id is None else "emails of this kind"
    text = f"Stop sending {what} to <b>{html.escape(subscription.email)}</b>?"
    return page("Unsubscribe", text, _form(upn, subscription))


@post(UNSUBSCRIBE_PATH, status_code=200, include_in_schema=False)
async def unsubscribe(
    request: Request[Any, Any, Any], services: NamedDependency[Services], upn: FromQuery[str] = ""
) -> Response[str]:
    """RFC 8058's one-click POST ("List-Unsubscribe=One-Click"), or the page's form."""
    form = await request.form()
    one_click = form.get("List-Unsubscribe") == "One-Click"
    if form.get("action") == "resubscribe":
        done = await services.tracking.resubscribe(upn, visitor(request))
        if done is None:
            return not_found()
        return page("Resubscribed", f"<b>{html.escape(done.email)}</b> is subscribed again.")
    method = "one-click" if one_click else "link"
    done = await services.tracking.unsubscribe(upn, visitor(request), method)
    if done is None:
        return not_found()
    text = f"<b>{html.escape(done.email)}</b> will receive no more of these emails."
    return page("Unsubscribed", text, _form(upn, done) if done.asm_group_id is not None else "")


ROUTES = [open_pixel, click, unsubscribe_page, unsubscribe]
