"""Who is logged in: passwords, sessions, and the guards that admit a logged-in user of the roles a
route or page names (the roles and their sets are in `access`). There is no anonymous access to
caller data. Passwords are scrypt-hashed (stdlib, no extra dependency); guessing them is slowed
down per login and per client address (`throttle`)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import math
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web

from ..config import USERNAME_RE, WebConfig
from ..tickets.models import User
from .access import Role
from .accounts import Accounts
from .throttle import LoginThrottle

SESSION_COOKIE = "ngalam112_session"
SESSION_LIFETIME = timedelta(hours=12)  # one shift
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

ACCOUNTS_KEY = web.AppKey("accounts", Accounts)
WEB_CONFIG_KEY = web.AppKey("web_config", WebConfig)
THROTTLE_KEY = web.AppKey("login_throttle", LoginThrottle)
USER_KEY = "user"  # request-scoped


def is_text(value: str) -> bool:
    """Whether a string can be encoded as UTF-8 (JSON may carry lone surrogates: "\\ud800")."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
        salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return hmac.compare_digest(candidate, digest)


# Spent on unknown usernames too, so timing does not tell which usernames exist.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip() or None
    return request.cookies.get(SESSION_COOKIE)


async def current_user(request: web.Request) -> User | None:
    token = token_of(request)
    if not token or len(token) > 200:
        return None
    return await request.app[ACCOUNTS_KEY].user_of_session(token)


async def page_user(request: web.Request, roles: tuple[Role, ...], refusal: str) -> User:
    """The user of an HTML page: without a login, off to /login; with the wrong role, 403 saying
    `refusal` (a person reads it, not a program)."""
    user = await current_user(request)
    if user is None:
        raise web.HTTPSeeOther("/login")
    if user.role not in roles:
        raise web.HTTPForbidden(text=refusal, content_type="text/plain")
    return user


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def requires(*roles: Role) -> Callable[[Handler], Handler]:
    """Admit only logged-in users with one of `roles`; 401 without a login, 403 with the wrong role."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            user = await current_user(request)
            if user is None:
                raise web.HTTPUnauthorized(
                    text='{"error": "login required"}',
                    content_type="application/json",
                    headers={"WWW-Authenticate": 'Bearer realm="ngalam112"'},
                )
            if user.role not in roles:
                raise web.HTTPForbidden(
                    text='{"error": "not allowed for your role"}', content_type="application/json"
                )
            request[USER_KEY] = user
            return await handler(request)

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    return wrap


def session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """The browser's session: script cannot read it, other sites cannot send it, and behind a
    TLS proxy (where this request itself came over plain HTTP) it never travels unencrypted."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        max_age=int(SESSION_LIFETIME.total_seconds()),
        secure=request.secure or request.app[WEB_CONFIG_KEY].secure_cookies,
    )


def client_address(request: web.Request) -> str:
    """Who is trying to log in: the connection's address, or behind a reverse proxy trusted by
    configuration the address that proxy appended to X-Forwarded-For (entries before it are
    whatever the client wrote)."""
    if request.app[WEB_CONFIG_KEY].trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return request.remote or "unknown"


class TooManyTries(Exception):
    """Too many wrong passwords lately: try again in `seconds` (the password was not checked)."""

    def __init__(self, seconds: int):
        super().__init__(f"too many failed logins; try again in {seconds} s")
        self.seconds = seconds


async def throttled_login(
    request: web.Request, username: str, password: str
) -> tuple[User, str] | None:
    """`login`, unless this login or this address has failed too often lately: then
    TooManyTries, before any password is checked."""
    throttle, address = request.app[THROTTLE_KEY], client_address(request)
    wait = throttle.wait(username, address)
    if wait > 0:
        raise TooManyTries(math.ceil(wait))
    throttle.trying(username, address)
    result = await login(request.app[ACCOUNTS_KEY], username, password)
    if result is not None:
        throttle.succeeded(username, address)
    return result


async def login(accounts: Accounts, username: str, password: str) -> tuple[User, str] | None:
    """A new session for the right password; None otherwise (the same for unknown users)."""
    if not USERNAME_RE.fullmatch(username) or len(password) > 1024 or not is_text(password):
        # Never a login (a lone surrogate cannot even be encoded to look it up): refused
        # like any wrong password, not a server error.
        return None
    user = await accounts.user_by_name(username)
    # scrypt takes tens of milliseconds of CPU on purpose: in a thread, so a burst of logins
    # does not stall the loop every call's AMI events and FastAGI replies run on.
    stored = user.password_hash if user is not None else _DUMMY_HASH
    right = await asyncio.to_thread(check_password, password, stored)
    if user is None or not right:
        return None
    token = secrets.token_urlsafe(32)
    await accounts.start_session(user, token, SESSION_LIFETIME)
    return user, token
