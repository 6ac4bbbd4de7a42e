"""Administration of logins: list, add, remove."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..config import USERNAME_RE
from .access import ADMINS, Role
from .auth import hash_password, is_text, requires
from .live import end_feeds_of
from .requests import error, json_fields, services_of, user_of


@requires(*ADMINS)
async def get_users(request: web.Request) -> web.Response:
    users = await services_of(request).accounts.users()
    return web.json_response(
        {
            "users": [
                {
                    "username": u.username,
                    "role": u.role,
                    "agency": u.agency,
                    "created_at": u.created_at.isoformat(),
                }
                for u in users
            ]
        }
    )


@requires(*ADMINS)
async def post_users(request: web.Request) -> web.Response:
    """Add a login: {"username", "password" (>= 10 characters), "role", "agency" (agency role)}."""
    services = services_of(request)
    body = await json_fields(request, ("username", "password", "role"), ("agency",))
    username, password = body["username"], body["password"]
    role, agency = body.get("role"), body.get("agency")
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise error(web.HTTPBadRequest, "username: letters, digits and . _ @ - only (1-64)")
    if not isinstance(password, str) or not 10 <= len(password) <= 1024 or not is_text(password):
        raise error(web.HTTPBadRequest, "password: 10 to 1024 characters of text")
    if not isinstance(role, str) or role not in {r.value for r in Role}:
        raise error(web.HTTPBadRequest, f"role: one of {', '.join(r.value for r in Role)}")
    if role == Role.AGENCY and (
        not isinstance(agency, str) or services.config.agency(agency) is None
    ):
        raise error(web.HTTPBadRequest, "agency: the agency role needs a configured agency id")
    if await services.accounts.user_by_name(username) is not None:
        raise error(web.HTTPConflict, f"{username} exists")
    user = await services.accounts.add_user(
        username,
        await asyncio.to_thread(hash_password, password),  # scrypt: off the event loop
        str(role),
        agency if role == Role.AGENCY else None,
    )
    return web.json_response({"username": user.username, "role": user.role}, status=201)


@requires(*ADMINS)
async def delete_user(request: web.Request) -> web.Response:
    """Remove a login (someone has left the centre): its sessions end and its open consoles
    close at once. Tickets keep the name it acted under."""
    services, admin = services_of(request), user_of(request)
    username = request.match_info["username"]
    if not USERNAME_RE.fullmatch(username):
        raise error(web.HTTPNotFound, "no such user")
    if username == admin.username:
        raise error(web.HTTPConflict, "an administrator cannot remove their own login")
    if not await services.accounts.remove_user(username):
        raise error(web.HTTPNotFound, "no such user")
    end_feeds_of(request.app, username)
    return web.json_response({"removed": username})
