"""The JSON API (documented in README.md). Thin: parse and check input, call the store, shape output."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from ..config import Config
from ..routing.dispatch import Dispatcher, DispatchError
from ..tickets.models import Dispatch, Ticket, TicketEvent, User
from ..tickets.rules import Status
from .auth import SESSION_COOKIE, SESSION_LIFETIME, STORE_KEY, USER_KEY, Role, login, requires

READERS = (Role.CALLTAKER, Role.SUPERVISOR, Role.ADMIN, Role.AGENCY)
# Who may steer a live call (bring an agency in): the people at the 112 desk.
DESK = (Role.CALLTAKER, Role.SUPERVISOR, Role.ADMIN)
MAX_BODY = 64 * 1024
CONFIG_KEY = web.AppKey("config", Config)
DISPATCHER_KEY = web.AppKey("dispatcher", Dispatcher)
UNIQUE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_json(ticket: Ticket, *, detail: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": ticket.id,
        "caller_number": ticket.caller_number,
        "caller_name": ticket.caller_name,
        "category": ticket.category,
        "priority": ticket.priority,
        "agency": ticket.agency,
        "status": ticket.status,
        "source": ticket.source,
        "what": ticket.what,
        "where": ticket.where,
        "who": ticket.who,
        "kecamatan": ticket.kecamatan,
        "kelurahan": ticket.kelurahan,
        "flags": ticket.flags,
        "recording_path": ticket.recording_path,
        "arrived_at": _time(ticket.arrived_at),
        "ivr_done_at": _time(ticket.ivr_done_at),
        "queued_at": _time(ticket.queued_at),
        "answered_at": _time(ticket.answered_at),
        "dispatched_at": _time(ticket.dispatched_at),
        "ended_at": _time(ticket.ended_at),
    }
    if detail:
        data["transcript"] = ticket.transcript
        data["transcript_partial"] = ticket.transcript_partial
        data["calls"] = [
            {
                "unique_id": c.unique_id,
                "channel": c.channel,
                "started_at": _time(c.started_at),
                "answered_at": _time(c.answered_at),
                "ended_at": _time(c.ended_at),
                "hangup_cause": c.hangup_cause,
                "recording_path": c.recording_path,
            }
            for c in ticket.calls
        ]
        data["events"] = [_event_json(e) for e in ticket.events]
        data["dispatches"] = [_dispatch_json(d) for d in ticket.dispatches]
        data["transcriptions"] = [
            {
                "id": t.id,
                "unique_id": t.unique_id,
                "status": t.status,
                "attempts": t.attempts,
                "error": t.error,
                "text": t.text,
                "words": t.words,
                "seconds": t.seconds,
                "finished_at": _time(t.finished_at),
            }
            for t in ticket.transcriptions
        ]
    return data


def _dispatch_json(dispatch: Dispatch) -> dict[str, Any]:
    return {
        "id": dispatch.id,
        "agency": dispatch.agency,
        "target": dispatch.target,
        "mode": dispatch.mode,
        "requested_by": dispatch.requested_by,
        "outcome": dispatch.outcome,
        "reason": dispatch.reason,
        "rung_at": _time(dispatch.rung_at),
        "answered_at": _time(dispatch.answered_at),
        "ended_at": _time(dispatch.ended_at),
        "duration": dispatch.duration,
    }


def _event_json(event: TicketEvent) -> dict[str, Any]:
    return {"at": _time(event.at), "actor": event.actor, "kind": event.kind, "data": event.data}


def _agency_scope(user: User) -> str | None:
    """Agency users see only their own agency's tickets; an agency user without one sees none."""
    if user.role == Role.AGENCY:
        return user.agency or "\0none"
    return None


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _error(web.HTTPRequestEntityTooLarge, f"body larger than {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise _error(web.HTTPRequestEntityTooLarge, f"body larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _error(web.HTTPBadRequest, "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _error(web.HTTPBadRequest, "body must be a JSON object")
    return body


async def post_login(request: web.Request) -> web.Response:
    body = await _json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise _error(web.HTTPBadRequest, "username and password must be strings")
    if len(username) > 64 or len(password) > 1024:
        raise _error(web.HTTPUnauthorized, "wrong username or password")
    result = await login(request.app[STORE_KEY], username, password)
    if result is None:
        raise _error(web.HTTPUnauthorized, "wrong username or password")
    user, token = result
    response = web.json_response({"token": token, "username": user.username, "role": user.role})
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        max_age=int(SESSION_LIFETIME.total_seconds()),
        secure=request.secure,
    )
    return response


@requires(*READERS)
async def post_logout(request: web.Request) -> web.Response:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    await request.app[STORE_KEY].end_session(token or request.cookies.get(SESSION_COOKIE, ""))
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE)
    return response


def _query_int(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise _error(web.HTTPBadRequest, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise _error(web.HTTPBadRequest, f"{name} must be between {low} and {high}")
    return value


@requires(*READERS)
async def get_tickets(request: web.Request) -> web.Response:
    """Newest first. Query: status, caller_number, limit (1-500, default 100), before_id (paging)."""
    status = request.query.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise _error(web.HTTPBadRequest, f"unknown status {status[:40]!r}")
    caller_number = request.query.get("caller_number")
    if caller_number is not None and len(caller_number) > 64:
        raise _error(web.HTTPBadRequest, "caller_number longer than 64 characters")
    tickets = await request.app[STORE_KEY].list_tickets(
        agency=_agency_scope(request[USER_KEY]),
        status=status,
        caller_number=caller_number,
        limit=_query_int(request, "limit", 100, 1, 500) or 100,
        before_id=_query_int(request, "before_id", None, 1, 2**62),
    )
    return web.json_response({"tickets": [ticket_json(t) for t in tickets]})


@requires(*READERS)
async def get_ticket(request: web.Request) -> web.Response:
    try:
        ticket_id = int(request.match_info["id"])
    except ValueError:
        raise _error(web.HTTPNotFound, "no such ticket") from None
    ticket = await request.app[STORE_KEY].get_ticket(ticket_id)
    scope = _agency_scope(request[USER_KEY])
    # A ticket outside an agency user's scope is reported as absent, not as forbidden.
    if ticket is None or (scope is not None and ticket.agency != scope):
        raise _error(web.HTTPNotFound, "no such ticket")
    return web.json_response(ticket_json(ticket, detail=True))


@requires(*READERS)
async def get_agencies(request: web.Request) -> web.Response:
    """The agencies a call-taker can dispatch to (targets are not shown: they are plumbing)."""
    config = request.app[CONFIG_KEY]
    return web.json_response(
        {
            "agencies": [
                {"id": a.id, "name": a.name, "categories": a.categories} for a in config.agencies
            ]
        }
    )


@requires(*DESK)
async def post_dispatch(request: web.Request) -> web.Response:
    """Bring an agency into a live call (three-way conference). Body: {"agency": "<id>"}.

    202: the call is in its conference and the agency is ringing; the outcome (answered, backup
    tried, failed) arrives as ticket events and on the live feed.
    """
    unique_id = request.match_info["unique_id"]
    if not UNIQUE_ID_RE.match(unique_id):
        raise _error(web.HTTPNotFound, "no such call")
    body = await _json_body(request)
    agency = body.get("agency")
    if not isinstance(agency, str) or not agency or len(agency) > 64:
        raise _error(web.HTTPBadRequest, "agency must be an agency id")
    try:
        started = await request.app[DISPATCHER_KEY].dispatch(
            unique_id, agency, request[USER_KEY].username
        )
    except DispatchError as e:
        status = {"unknown-agency": web.HTTPBadRequest, "no-call": web.HTTPNotFound}.get(
            e.kind, web.HTTPConflict
        )
        raise _error(status, str(e)) from None
    return web.json_response(
        {
            "ticket_id": started.ticket_id,
            "conference": started.conference,
            "agency": started.agency,
            "status": "ringing",
        },
        status=202,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/login", post_login)
    app.router.add_post("/api/logout", post_logout)
    app.router.add_get("/api/tickets", get_tickets)
    app.router.add_get("/api/tickets/{id}", get_ticket)
    app.router.add_get("/api/agencies", get_agencies)
    app.router.add_post("/api/calls/{unique_id}/dispatch", post_dispatch)
