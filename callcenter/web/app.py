"""The aiohttp application: JSON API, live feed, console pages, health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from . import api, live, pages, reports, supervision
from .auth import ACCOUNTS_KEY
from .requests import MAX_BODY
from .services import SERVICES, Services

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


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Content-Security-Policy", CSP)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def create_app(services: Services, health: HealthCheck) -> web.Application:
    app = web.Application(middlewares=[security_headers], client_max_size=MAX_BODY)
    app[ACCOUNTS_KEY] = services.accounts
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
