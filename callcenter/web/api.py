"""The JSON API (documented in README.md). Thin: parse and check input, call a service or the
store, shape output. Every route names the roles it admits; a call-taker steers only the calls
they answered and their own desk."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..calltakers.calls import CallError, answered_by
from ..calltakers.desk import DeskError, Wanted
from ..calltakers.protocols import GENERAL, CardError, check_items, make_card
from ..config import USERNAME_RE
from ..routing.dispatch import DispatchError
from ..tickets.edits import EditError, parse_edit, parse_outcome
from ..tickets.models import Call, Ticket, User
from ..tickets.rules import Status
from ..tickets.views import ticket_detail, ticket_summary
from .auth import SESSION_COOKIE, Role, hash_password, login, requires, session_cookie
from .live import end_feeds_of, log_out
from .requests import error, json_body, refused, services_of, ticket_id_of, user_of

READERS = (Role.CALLTAKER, Role.SUPERVISOR, Role.ADMIN, Role.AGENCY)
# The people at the 112 desk: they edit tickets and steer live calls.
DESK = (Role.CALLTAKER, Role.SUPERVISOR, Role.ADMIN)
# Who may act on another call-taker's desk or call, see every desk, and edit protocol cards.
OVERSEERS = (Role.SUPERVISOR, Role.ADMIN)
UNIQUE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
EXTENSION_RE = re.compile(r"^[0-9]{2,8}$")


def _agency_scope(user: User) -> str | None:
    """Agency users see only their own agency's tickets; an agency user without one sees none."""
    if user.role == Role.AGENCY:
        return user.agency or "\0none"
    return None


def _query_int(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise error(web.HTTPBadRequest, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise error(web.HTTPBadRequest, f"{name} must be between {low} and {high}")
    return value


# ---- sessions -------------------------------------------------------------------------------


async def post_login(request: web.Request) -> web.Response:
    body = await json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise error(web.HTTPBadRequest, "username and password must be strings")
    result = await login(services_of(request).store, username, password)
    if result is None:
        raise error(web.HTTPUnauthorized, "wrong username or password")
    user, token = result
    response = web.json_response({"token": token, "username": user.username, "role": user.role})
    session_cookie(response, token, request.secure)
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


# ---- tickets --------------------------------------------------------------------------------


@requires(*READERS)
async def get_tickets(request: web.Request) -> web.Response:
    """Newest first. Query: status, caller_number, limit (1-500, default 100), before_id (paging)."""
    status = request.query.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise error(web.HTTPBadRequest, f"unknown status {status[:40]!r}")
    caller_number = request.query.get("caller_number")
    if caller_number is not None and len(caller_number) > 64:
        raise error(web.HTTPBadRequest, "caller_number longer than 64 characters")
    tickets = await services_of(request).store.list_tickets(
        agency=_agency_scope(user_of(request)),
        status=status,
        caller_number=caller_number,
        limit=_query_int(request, "limit", 100, 1, 500) or 100,
        before_id=_query_int(request, "before_id", None, 1, 2**62),
    )
    return web.json_response({"tickets": [ticket_summary(t) for t in tickets]})


@requires(*READERS)
async def get_ticket(request: web.Request) -> web.Response:
    ticket = await services_of(request).store.get_ticket(ticket_id_of(request))
    scope = _agency_scope(user_of(request))
    # A ticket outside an agency user's scope is reported as absent, not as forbidden.
    if ticket is None or (scope is not None and ticket.agency != scope):
        raise error(web.HTTPNotFound, "no such ticket")
    return web.json_response(ticket_detail(ticket))


@requires(*DESK)
async def patch_ticket(request: web.Request) -> web.Response:
    """Edit what/where/who, the place, category, prank/silent flags and protocol ticks. Each
    edit that changes something is one `edited` event with the editor's name."""
    services, ticket_id = services_of(request), ticket_id_of(request)
    body = await json_body(request)
    ticket = await services.store.get_ticket(ticket_id)
    if ticket is None:
        raise error(web.HTTPNotFound, "no such ticket")
    items = services.protocols.items()
    try:
        edit = parse_edit(
            body,
            categories=set(services.config.categories),
            places=services.gazetteer.districts(),
            items=set(items) | set(ticket.checklist),  # an old tick can always be taken back
        )
    except EditError as e:
        raise error(web.HTTPBadRequest, str(e)) from None
    if edit.empty:
        raise error(web.HTTPBadRequest, "nothing to change")
    updated = await services.store.update_ticket(ticket_id, edit, user_of(request).username, items)
    assert updated is not None  # tickets are never deleted
    return web.json_response(ticket_summary(updated))


@requires(*DESK)
async def post_close(request: web.Request) -> web.Response:
    """Close with the call's type: darurat, informasi, prank, ghost, tidak-tercatat."""
    services, ticket_id = services_of(request), ticket_id_of(request)
    try:
        outcome = parse_outcome(await json_body(request))
        closed = await services.store.close_ticket(ticket_id, outcome, user_of(request).username)
    except EditError as e:
        raise error(web.HTTPBadRequest, str(e)) from None
    except ValueError as e:
        raise error(web.HTTPConflict, str(e)) from None
    if closed is None:
        raise error(web.HTTPNotFound, "no such ticket")
    return web.json_response(ticket_summary(closed))


# ---- live calls -----------------------------------------------------------------------------


async def _steered_call(request: web.Request) -> Call:
    """The live call in the path, if this user may steer it: a call-taker only the call they
    answered (a supervisor any); nobody a call that has ended. Refusals change nothing."""
    unique_id = request.match_info["unique_id"]
    if not UNIQUE_ID_RE.fullmatch(unique_id):
        raise error(web.HTTPNotFound, "no such call")
    services, user = services_of(request), user_of(request)
    call = await services.store.call(unique_id)
    if call is None:
        raise error(web.HTTPNotFound, "no such call")
    if call.ended_at is not None:
        raise error(web.HTTPConflict, "the call has ended")
    if user.role == Role.CALLTAKER and not answered_by(services.config, user.username, call):
        raise error(web.HTTPForbidden, "another call-taker has this call")
    return call


@requires(*DESK)
async def post_dispatch(request: web.Request) -> web.Response:
    """Bring an agency into a live call (three-way conference). Body: {"agency": "<id>"}.

    202: the call is in its conference and the agency is ringing; the outcome (answered, backup
    tried, failed) arrives as ticket events and on the live feed.
    """
    body = await json_body(request)
    agency = body.get("agency")
    config = services_of(request).config
    if not isinstance(agency, str) or config.agency(agency) is None:
        known = ", ".join(a.id for a in config.agencies)
        raise error(web.HTTPBadRequest, f"agency must be an agency id ({known})")
    call = await _steered_call(request)
    try:
        started = await services_of(request).dispatcher.dispatch(
            call.unique_id, agency, user_of(request).username
        )
    except DispatchError as e:
        raise refused(e) from None
    return web.json_response(
        {
            "ticket_id": started.ticket_id,
            "conference": started.conference,
            "agency": started.agency,
            "status": "ringing",
        },
        status=202,
    )


def _call_action(name: str) -> Any:
    @requires(*DESK)
    async def handler(request: web.Request) -> web.Response:
        call = await _steered_call(request)
        try:
            await getattr(services_of(request).calls, name)(call, user_of(request).username)
        except CallError as e:
            raise refused(e) from None
        return web.json_response({"unique_id": call.unique_id, "done": name})

    handler.__name__ = f"post_{name}"
    return handler


@requires(*READERS)
async def get_agencies(request: web.Request) -> web.Response:
    """The agencies a call-taker can dispatch to (targets are not shown: they are plumbing)."""
    config = services_of(request).config
    return web.json_response(
        {
            "agencies": [
                {"id": a.id, "name": a.name, "categories": a.categories} for a in config.agencies
            ]
        }
    )


# ---- desks and the queue --------------------------------------------------------------------


@requires(*OVERSEERS)
async def get_agents(request: web.Request) -> web.Response:
    """Every call-taker's desk: state, since when, paused why, the call at it."""
    desks = services_of(request).desks.desks.all()
    return web.json_response({"agents": [d.as_json() for d in desks]})


def _own_or_overseen(request: web.Request) -> str:
    extension = request.match_info["extension"]
    services, user = services_of(request), user_of(request)
    if not EXTENSION_RE.fullmatch(extension):
        raise error(web.HTTPNotFound, "no such desk")
    if user.role not in OVERSEERS:
        phone = services.config.calltaker_of(user.username)
        if phone is None or phone.extension != extension:
            raise error(web.HTTPForbidden, "not your desk")
    return extension


@requires(*DESK)
async def post_agent_state(request: web.Request) -> web.Response:
    """Join the queue, pause (with a reason) or leave it: {"state": "available"|"paused"|
    "logged-out", "reason": "istirahat"}. A call-taker for their own desk, a supervisor any."""
    extension = _own_or_overseen(request)
    body = await json_body(request)
    try:
        wanted = Wanted(str(body.get("state")))
    except ValueError:
        raise error(web.HTTPBadRequest, "state must be available, paused or logged-out") from None
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise error(web.HTTPBadRequest, "reason must be text")
    try:
        desk = await services_of(request).desks.set_state(
            extension, wanted, reason, user_of(request).username
        )
    except DeskError as e:
        raise refused(e) from None
    return web.json_response({"requested": wanted.value, "desk": desk.as_json()})


@requires(*DESK)
async def get_agent_events(request: web.Request) -> web.Response:
    """A desk's session log (login, pause and why, logout, and who did it)."""
    extension = _own_or_overseen(request)
    events = await services_of(request).store.desk_events(extension)
    return web.json_response(
        {
            "events": [
                {"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "reason": e.reason}
                for e in events
            ]
        }
    )


@requires(*DESK)
async def get_queues(request: web.Request) -> web.Response:
    """Callers waiting for a call-taker, most urgent first, and how many desks are free."""
    services = services_of(request)
    waiting = await services.store.list_tickets(status=Status.QUEUED.value, limit=500)
    at = datetime.now(UTC)
    # The queue answers higher priority first, then in order of arrival: show it the same way.
    waiting.sort(key=lambda t: (-t.priority, t.queued_at or t.arrived_at))
    states: dict[str, int] = {}
    for desk in services.desks.desks.all():
        states[desk.state.value] = states.get(desk.state.value, 0) + 1
    return web.json_response(
        {
            "queues": [
                {
                    "name": services.config.queue.name,
                    "waiting": [_waiting(t, at) for t in waiting],
                    "desks": states,
                }
            ]
        }
    )


def _waiting(ticket: Ticket, at: datetime) -> dict[str, Any]:
    since = ticket.queued_at or ticket.arrived_at
    return {**ticket_summary(ticket), "waited": round((at - since).total_seconds())}


# ---- what the console needs to know --------------------------------------------------------


@requires(*READERS)
async def get_places(request: web.Request) -> web.Response:
    """Kota Malang's kecamatan and their kelurahan, for the ticket form."""
    return web.json_response({"kecamatan": services_of(request).gazetteer.districts()})


@requires(*READERS)
async def get_protocols(request: web.Request) -> web.Response:
    cards = services_of(request).protocols.all()
    return web.json_response({"cards": [c.as_json() for c in cards]})


@requires(*OVERSEERS)
async def put_protocol(request: web.Request) -> web.Response:
    """A supervisor rewrites a category's card: {"ask": [...], "tell": [...]}."""
    services = services_of(request)
    category = request.match_info["category"]
    if category not in services.config.categories and category != GENERAL:
        raise error(web.HTTPNotFound, "no such category")
    body = await json_body(request)
    try:
        ask = check_items("ask", body.get("ask", []))
        tell = check_items("tell", body.get("tell", []))
    except CardError as e:
        raise error(web.HTTPBadRequest, str(e)) from None
    saved = await services.store.save_protocol_card(category, ask, tell, user_of(request).username)
    card = make_card(category, saved.ask, saved.tell, saved.updated_by)
    services.protocols.use_edits([card])
    return web.json_response(card.as_json())


# ---- administration -------------------------------------------------------------------------


@requires(Role.ADMIN)
async def get_users(request: web.Request) -> web.Response:
    users = await services_of(request).store.users()
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


@requires(Role.ADMIN)
async def post_users(request: web.Request) -> web.Response:
    """Add a login: {"username", "password" (>= 10 characters), "role", "agency" (agency role)}."""
    services = services_of(request)
    body = await json_body(request)
    username, password = body.get("username"), body.get("password")
    role, agency = body.get("role"), body.get("agency")
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise error(web.HTTPBadRequest, "username: letters, digits and . _ @ - only (1-64)")
    if not isinstance(password, str) or not 10 <= len(password) <= 1024:
        raise error(web.HTTPBadRequest, "password: 10 to 1024 characters")
    if role not in {r.value for r in Role}:
        raise error(web.HTTPBadRequest, f"role: one of {', '.join(r.value for r in Role)}")
    if role == Role.AGENCY and (
        not isinstance(agency, str) or services.config.agency(agency) is None
    ):
        raise error(web.HTTPBadRequest, "agency: the agency role needs a configured agency id")
    if await services.store.user_by_name(username) is not None:
        raise error(web.HTTPConflict, f"{username} exists")
    user = await services.store.add_user(
        username, hash_password(password), str(role), agency if role == Role.AGENCY else None
    )
    return web.json_response({"username": user.username, "role": user.role}, status=201)


@requires(Role.ADMIN)
async def delete_user(request: web.Request) -> web.Response:
    """Remove a login (someone has left the centre): its sessions end and its open consoles
    close at once. Tickets keep the name it acted under."""
    services, admin = services_of(request), user_of(request)
    username = request.match_info["username"]
    if not USERNAME_RE.fullmatch(username):
        raise error(web.HTTPNotFound, "no such user")
    if username == admin.username:
        raise error(web.HTTPConflict, "an administrator cannot remove their own login")
    if not await services.store.remove_user(username):
        raise error(web.HTTPNotFound, "no such user")
    end_feeds_of(request.app, username)
    return web.json_response({"removed": username})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/login", post_login)
    app.router.add_post("/api/logout", post_logout)
    app.router.add_get("/api/me", get_me)
    app.router.add_get("/api/tickets", get_tickets)
    app.router.add_get("/api/tickets/{id}", get_ticket)
    app.router.add_patch("/api/tickets/{id}", patch_ticket)
    app.router.add_post("/api/tickets/{id}/close", post_close)
    app.router.add_get("/api/agencies", get_agencies)
    app.router.add_post("/api/calls/{unique_id}/dispatch", post_dispatch)
    for action, route in (("hold", "hold"), ("resume", "resume"), ("hang_up", "hangup")):
        app.router.add_post(f"/api/calls/{{unique_id}}/{route}", _call_action(action))
    app.router.add_get("/api/agents", get_agents)
    app.router.add_post("/api/agents/{extension}/state", post_agent_state)
    app.router.add_get("/api/agents/{extension}/events", get_agent_events)
    app.router.add_get("/api/queues", get_queues)
    app.router.add_get("/api/places", get_places)
    app.router.add_get("/api/protocols", get_protocols)
    app.router.add_put("/api/protocols/{category}", put_protocol)
    app.router.add_get("/api/users", get_users)
    app.router.add_post("/api/users", post_users)
    app.router.add_delete("/api/users/{username}", delete_user)
