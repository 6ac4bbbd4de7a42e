"""Logging in and out of the API, and who is logged in (with their desk and the call at it)."""

from __future__ import annotations

from aiohttp import web

from .access import READERS
from .auth import SESSION_COOKIE, TooManyTries, requires, session_cookie, throttled_login
from .live import log_out
from .requests import error, json_fields, services_of, user_of


async def post_login(request: web.Request) -> web.Response:
    body = await json_fields(request, ("username", "password"))
    username, password = body["username"], body["password"]
    if not isinstance(username, str) or not isinstance(password, str):
        raise error(web.HTTPBadRequest, "username and password must be strings")
    try:
        result = await throttled_login(request, username, password)
    except TooManyTries as e:
        refusal = error(web.HTTPTooManyRequests, str(e))
        refusal.headers["Retry-After"] = str(e.seconds)
        raise refusal from None
    if result is None:
        raise error(web.HTTPUnauthorized, "wrong username or password")
    user, token = result
    response = web.json_response({"token": token, "username": user.username, "role": user.role})
    session_cookie(request, response, token)
    return response


@requires(*READERS)
async def post_logout(request: web.Request) -> web.Response:
    await log_out(request)
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE)
    return response


@requires(*READERS)
async def get_me(request: web.Request) -> web.Response:
    """Who is logged in, their desk (if their login drives a phone) and the call at it."""
    services, user = services_of(request), user_of(request)
    phone = services.config.calltaker_of(user.username)
    desk = services.desks.desks.of_extension(phone.extension) if phone else None
    call = None
    if desk is not None and desk.unique_id:
        call = await services.desks.ticket_for_console(desk.unique_id)
    return web.json_response(
        {
            "username": user.username,
            "role": user.role,
            "agency": user.agency,
            "desk": desk.as_json() if desk else None,
            "call": call,
        }
    )
