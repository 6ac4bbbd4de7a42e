"""The aiohttp application: JSON API, live feed, console pages, health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from ..refused import Refused
from . import api, live, pages, reports, supervision
from .auth import ACCOUNTS_KEY, THROTTLE_KEY, WEB_CONFIG_KEY
from .origins import same_origin_changes
from .requests import MAX_BODY, refused
from .services import SERVICES, Services
from .throttle import LoginThrottle

HealthCheck = Callable[[], Awaitable[dict[str, Any]]]
HEALTH_KEY: web.AppKey[HealthCheck] = web.AppKey("health")
STATIC = Path(__file__).parent / "static"


# The console's pages load only their own script and style: caller-supplied text that slipped
# into the page could not run even if it were not escaped.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


async def healthz(request: web.Request) -> web.Response:
    """Liveness and the state of each part; no caller data, so no login needed."""
    parts = await request.app[HEALTH_KEY]()
    # A degraded extra (speech) is reported, but the centre still takes calls: 200.
    ok = all(v == "ok" or v.startswith("degraded") for v in parts.values())
    return web.json_response(
        {"status": "ok" if ok else "degraded", "parts": parts}, status=200 if ok else 503
    )


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, as it is sent: errors raised as exceptions (401, 403, 404 of unknown
    paths, 303 redirects, 429), static files and the live feed's handshake too."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    # Our own pages still tell us where a request came from (the origin check's fallback when a
    # browser leaves Origin out); other sites learn nothing. (Under "no-referrer" the Fetch
    # standard has browsers send "Origin: null" even on the console's own form posts.)
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", CSP)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def domain_refusals(request: web.Request, handler: Any) -> web.StreamResponse:
    """A refusal no handler turned into an answer (Asterisk down mid-action, say) is still the
    domain's no, with its status (503, 502, 409…), never a 500."""
    try:
        response: web.StreamResponse = await handler(request)
    except Refused as e:
        raise refused(e) from None
    return response


def create_app(services: Services, health: HealthCheck) -> web.Application:
    app = web.Application(
        middlewares=[same_origin_changes, domain_refusals], client_max_size=MAX_BODY
    )
    app.on_response_prepare.append(security_headers)
    app[ACCOUNTS_KEY] = services.accounts
    app[WEB_CONFIG_KEY] = services.config.web
    app[THROTTLE_KEY] = LoginThrottle(services.config.web)
    app[SERVICES] = services
    app[HEALTH_KEY] = health
    app.router.add_get("/healthz", healthz)
    api.add_routes(app)
    live.add_routes(app)
    pages.add_routes(app)
    reports.add_routes(app)
    supervision.add_routes(app)
    app.router.add_static("/static/", STATIC, name="static")
    return app
