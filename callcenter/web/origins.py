"""Cross-site requests: which origin (scheme, host, port) the console is served from, and the
middleware that refuses a change a page of any other origin asks a browser to make.

The session cookie is SameSite=Strict, but "site" is wider than "origin": another port of the
same host, or a sibling subdomain, is the same site and gets the cookie. So every state-changing
request the cookie authenticates must name its page's origin (Origin, else Referer), and it must
be ours; so must every login (logging a browser in as someone else is an attack too). A request
with a Bearer token is exempt: a browser never adds that header on its own. API bodies must be
JSON, which no cross-origin page can send without a CORS preflight we never grant.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from .auth import SESSION_COOKIE, WEB_CONFIG_KEY

Origin = tuple[str, str, int]

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOGINS = frozenset({"/api/login", "/login"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# A WebSocket's own scheme and the scheme of the page that opens it.
PAGE_SCHEME = {"ws": "http", "wss": "https"}


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of a URL or an Origin header; None for "null" and anything that is
    not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        scheme = PAGE_SCHEME.get(parts.scheme.lower(), parts.scheme.lower())
        port = parts.port
    except ValueError:
        return None
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else DEFAULT_PORTS[scheme]


def own_origin(request: web.Request) -> Origin | None:
    """The origin the console is served from: the configured public origin (behind a reverse
    proxy the request itself says http://127.0.0.1:8112), else what this request names."""
    public = request.app[WEB_CONFIG_KEY].public_origin
    return origin_of(public or f"{request.scheme}://{request.host}")


def page_origin(request: web.Request) -> str | None:
    """The origin of the page that sent this request, as the browser says it: Origin, or when a
    browser leaves that out, Referer. None when neither is there."""
    return request.headers.get("Origin") or request.headers.get("Referer")


def from_our_pages(request: web.Request) -> bool:
    sent = page_origin(request)
    ours = own_origin(request)
    return sent is not None and ours is not None and origin_of(sent) == ours


def cookie_authenticated(request: web.Request) -> bool:
    """The browser's cookie, not a Bearer token, is what would log this request in."""
    bearer = request.headers.get("Authorization", "").startswith("Bearer ")
    return not bearer and SESSION_COOKIE in request.cookies


def _refusal(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


@web.middleware
async def same_origin_changes(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.method in CHANGES:
        if (cookie_authenticated(request) or request.path in LOGINS) and not from_our_pages(
            request
        ):
            # A login by a script (no browser, so no Origin) sends JSON: no page of another
            # origin can, so that alone shows it is not a cross-site form.
            script_login = (
                request.path == "/api/login"
                and page_origin(request) is None
                and _json(request)
                and not cookie_authenticated(request)
            )
            if not script_login:
                raise _refusal(web.HTTPForbidden, "cross-site request refused")
        if request.path.startswith("/api/") and request.body_exists and not _json(request):
            raise _refusal(web.HTTPUnsupportedMediaType, "the body must be application/json")
    response: web.StreamResponse = await handler(request)
    return response


def _json(request: web.Request) -> bool:
    return request.content_type == "application/json"
