"""The aiohttp application: API, health, (later) console and board."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..config import Config
from ..routing.dispatch import Dispatcher
from ..tickets.store import TicketStore
from . import api
from .auth import STORE_KEY

HealthCheck = Callable[[], Awaitable[dict[str, Any]]]
HEALTH_KEY: web.AppKey[HealthCheck] = web.AppKey("health")


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
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def create_app(
    store: TicketStore, health: HealthCheck, config: Config, dispatcher: Dispatcher
) -> web.Application:
    app = web.Application(middlewares=[security_headers], client_max_size=api.MAX_BODY)
    app[STORE_KEY] = store
    app[HEALTH_KEY] = health
    app[api.CONFIG_KEY] = config
    app[api.DISPATCHER_KEY] = dispatcher
    app.router.add_get("/healthz", healthz)
    api.add_routes(app)
    return app
