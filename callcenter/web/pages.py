"""The HTML pages: login and the call-taker's console. Server-rendered with jinja2 (autoescaped);
the console's live behaviour is plain JavaScript in static/console.js, which writes every
caller-supplied text with textContent, never as HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from ..tickets.edits import CALLTAKER_FLAGS, OUTCOMES
from ..tickets.models import User
from .access import DESK, OVERSEERS, Role
from .auth import (
    SESSION_COOKIE,
    TooManyTries,
    current_user,
    page_user,
    session_cookie,
    throttled_login,
)
from .live import log_out
from .services import SERVICES

TEMPLATES = Path(__file__).parent / "templates"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render(template: str, status: int = 200, **context: Any) -> web.Response:
    html = _ENV.get_template(template).render(**context)
    return web.Response(text=html, content_type="text/html", status=status)


async def get_root(request: web.Request) -> web.Response:
    user = await current_user(request)
    raise web.HTTPSeeOther(_home(user) if user is not None else "/login")


def _home(user: User) -> str:
    """Where a login lands: an agency on its page, the centre's people at the console."""
    return "/agency" if user.role == Role.AGENCY else "/console"


async def get_login(request: web.Request) -> web.Response:
    return render("login.html", error="")


async def post_login(request: web.Request) -> web.Response:
    form = await request.post()
    username, password = form.get("username"), form.get("password")
    result = None
    try:
        if isinstance(username, str) and isinstance(password, str):
            result = await throttled_login(request, username, password)
    except TooManyTries as e:
        page = render(
            "login.html",
            status=429,
            error=f"Terlalu banyak percobaan yang salah. Coba lagi dalam {e.seconds} detik.",
        )
        page.headers["Retry-After"] = str(e.seconds)
        return page
    if result is None:
        return render("login.html", status=401, error="Nama pengguna atau kata sandi salah.")
    user, token = result
    response = web.HTTPSeeOther(_home(user))
    session_cookie(request, response, token)
    raise response


async def post_logout(request: web.Request) -> web.Response:
    await log_out(request)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE)
    raise response


async def _desk_user(request: web.Request) -> User:
    return await page_user(request, DESK, "Halaman ini untuk petugas 112.")


async def supervisor_user(request: web.Request) -> User:
    return await page_user(request, OVERSEERS, "Halaman ini untuk penyelia.")


async def get_console(request: web.Request) -> web.Response:
    user = await _desk_user(request)
    config = request.app[SERVICES].config
    phone = config.calltaker_of(user.username)
    boot = {
        "username": user.username,
        "role": user.role,
        "extension": phone.extension if phone else None,
        "pause_reasons": config.queue.pause_reasons,
        "agencies": [{"id": a.id, "name": a.name} for a in config.agencies],
        "categories": [{"id": c.id, "name": c.name} for c in config.categories.values()],
        "outcomes": list(OUTCOMES),
        "flags": list(CALLTAKER_FLAGS),
    }
    return render("console.html", user=user, phone=phone, boot=boot)


async def get_protocols(request: web.Request) -> web.Response:
    """Supervisors edit the protocol cards here (call-takers see them beside each ticket)."""
    user = await supervisor_user(request)
    services = request.app[SERVICES]
    names = {c.id: c.name for c in services.config.categories.values()}
    names["umum"] = "Semua panggilan"
    cards = [c.as_json() for c in services.protocols.all()]
    cards.sort(key=lambda c: (c["category"] != "umum", c["category"]))
    return render("protocols.html", user=user, cards=cards, names=names)


async def get_board(request: web.Request) -> web.Response:
    """The supervisors' board (live over /ws/live)."""
    user = await supervisor_user(request)
    config = request.app[SERVICES].config
    phone = config.supervisor_phone_of(user.username)
    boot = {
        "username": user.username,
        "phone": phone.extension if phone else None,
        "desks": [{"extension": p.extension, "name": p.name} for p in config.calltakers],
        "categories": {c.id: c.name for c in config.categories.values()},
        "agencies": {a.id: a.name for a in config.agencies},
    }
    return render("board.html", user=user, boot=boot)


async def get_agency(request: web.Request) -> web.Response:
    """An agency's page: its open assignments, live over /ws/live (static/agency.js)."""
    user = await page_user(request, (Role.AGENCY,), "Halaman ini untuk instansi.")
    agency = request.app[SERVICES].config.agency(user.agency or "")
    if agency is None:
        raise web.HTTPForbidden(text="Login ini tidak terhubung ke instansi.")
    boot = {"username": user.username, "agency": agency.id, "agency_name": agency.name}
    return render("agency.html", user=user, agency=agency, boot=boot)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", get_root)
    app.router.add_get("/login", get_login)
    app.router.add_post("/login", post_login)
    app.router.add_post("/logout", post_logout)
    app.router.add_get("/console", get_console)
    app.router.add_get("/protocols", get_protocols)
    app.router.add_get("/board", get_board)
    app.router.add_get("/agency", get_agency)
