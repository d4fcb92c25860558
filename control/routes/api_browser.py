"""The API browser: GET /docs, Swagger UI over /openapi.json, and its assets under
/docs/assets, all from files vendored in control/static/api-browser (no CDN). Public, as the
document is, outside /v3 (so outside its rate limits) and outside the document itself."""

from __future__ import annotations

from pathlib import Path

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

BROWSER_DIR = Path(__file__).resolve().parent.parent / "static" / "api-browser"
ASSETS_PATH = "/docs/assets"
# Scripts and styles from this server only (init.js is a file, not an inline script); the
# document and "Try it out" requests go to this server only; no framing, no <base>.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def routes() -> list[HTTPRouteHandler | Router]:
    """The page (read once, here, when the app is built) and the assets' router."""
    page = (BROWSER_DIR / "index.html").read_bytes()

    @get("/docs", include_in_schema=False, media_type="text/html")
    async def api_browser() -> Response[bytes]:
        return Response(page, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})

    @get("/schema/swagger", include_in_schema=False, status_code=308)
    async def litestar_default_path() -> Redirect:
        """Where Litestar apps usually serve Swagger UI, for those who look there first."""
        return Redirect("/docs", status_code=308)

    assets = create_static_files_router(
        ASSETS_PATH,
        directories=[BROWSER_DIR / "assets"],
        name="api_browser_assets",
        cache_control=CacheControlHeader(public=True, max_age=3600),
        include_in_schema=False,
    )
    return [api_browser, litestar_default_path, assets]
