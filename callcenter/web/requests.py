"""What every JSON handler does with a request: its user and services, a bounded JSON body, and
errors as JSON that say what is wrong."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..tickets.models import User
from .auth import USER_KEY
from .services import SERVICES, Services

MAX_BODY = 64 * 1024


def error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


def services_of(request: web.Request) -> Services:
    return request.app[SERVICES]


def user_of(request: web.Request) -> User:
    user: User = request[USER_KEY]
    return user


def too_large(size: int) -> web.HTTPException:
    return web.HTTPRequestEntityTooLarge(
        max_size=MAX_BODY,
        actual_size=size,
        text=json.dumps({"error": f"body larger than {MAX_BODY} bytes"}),
        content_type="application/json",
    )


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise too_large(request.content_length)
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise too_large(len(raw))
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise error(web.HTTPBadRequest, "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise error(web.HTTPBadRequest, "body must be a JSON object")
    return body


def ticket_id_of(request: web.Request) -> int:
    try:
        ticket_id = int(request.match_info["id"])
    except ValueError:
        raise error(web.HTTPNotFound, "no such ticket") from None
    if not 1 <= ticket_id <= 2**62:
        raise error(web.HTTPNotFound, "no such ticket")
    return ticket_id
