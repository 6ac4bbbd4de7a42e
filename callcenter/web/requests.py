"""What every JSON handler does with a request: its user and services, a bounded JSON body, and
errors as JSON that say what is wrong."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from aiohttp import web

from ..refused import Refused, Why
from ..tickets.models import User
from .auth import USER_KEY
from .services import SERVICES, Services

MAX_BODY = 64 * 1024


def error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


STATUS_OF: dict[Why, type[web.HTTPException]] = {
    Why.BAD_REQUEST: web.HTTPBadRequest,
    Why.NOT_FOUND: web.HTTPNotFound,
    Why.CONFLICT: web.HTTPConflict,
    Why.TELEPHONY: web.HTTPBadGateway,
    Why.UNAVAILABLE: web.HTTPServiceUnavailable,
}


def refused(e: Refused) -> web.HTTPException:
    """The domain's no, as the HTTP answer that means it."""
    return error(STATUS_OF[e.why], str(e))


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
    except (ValueError, RecursionError):
        # An integer of thousands of digits (Python refuses to read it) or nesting deeper than
        # the parser goes: nothing a client of ours sends.
        raise error(web.HTTPBadRequest, "body has a number too long or nesting too deep") from None
    if not isinstance(body, dict):
        raise error(web.HTTPBadRequest, "body must be a JSON object")
    return body


async def json_fields(
    request: web.Request, required: Collection[str], optional: Collection[str] = ()
) -> dict[str, Any]:
    """The JSON body, holding every `required` key and no key outside `required` and
    `optional`: a misspelt key is a 400, not a default quietly taken instead."""
    body = await json_body(request)
    unknown = sorted(str(k)[:40] for k in body if k not in required and k not in optional)
    if unknown:
        known = ", ".join([*required, *optional]) or "none"
        raise error(web.HTTPBadRequest, f"unknown keys: {', '.join(unknown[:5])} (known: {known})")
    missing = [k for k in required if k not in body]
    if missing:
        raise error(web.HTTPBadRequest, f"missing keys: {', '.join(missing)}")
    return body


# Row ids in paths: ASCII digits only (int() also takes "٣" and "1_000"), and small enough for
# any database's integer.
ROW_ID_RE = re.compile(r"[1-9][0-9]{0,17}")


def row_id_of(request: web.Request, what: str) -> int:
    """The path's {id}, or 404 naming `what` was not found."""
    text = request.match_info["id"]
    if not ROW_ID_RE.fullmatch(text):
        raise error(web.HTTPNotFound, f"no such {what}")
    return int(text)


def ticket_id_of(request: web.Request) -> int:
    return row_id_of(request, "ticket")
