"""Desks and the queue: every call-taker's state, joining, pausing and leaving the queue, a desk's
session log, and the callers waiting. A call-taker steers only their own desk
(`access.steers_desk`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..calltakers.desk import DeskError, Wanted
from ..calltakers.waiting import waiting_key, waiting_order
from ..tickets.lifecycle import Status
from ..tickets.models import Ticket
from ..tickets.views import ticket_summary
from .access import DESK, OVERSEERS, steers_desk
from .auth import requires
from .requests import error, json_fields, refused, services_of, user_of

EXTENSION_RE = re.compile(r"^[0-9]{2,8}$")


@requires(*OVERSEERS)
async def get_agents(request: web.Request) -> web.Response:
    """Every call-taker's desk: state, since when, paused why, the call at it."""
    desks = services_of(request).desks.desks.all()
    return web.json_response({"agents": [d.as_json() for d in desks]})


def _steered_desk(request: web.Request) -> str:
    """The desk in the path, if this user may steer it. Refusals change nothing."""
    extension = request.match_info["extension"]
    if not EXTENSION_RE.fullmatch(extension):
        raise error(web.HTTPNotFound, "no such desk")
    if not steers_desk(services_of(request).config, user_of(request), extension):
        raise error(web.HTTPForbidden, "not your desk")
    return extension


@requires(*DESK)
async def post_agent_state(request: web.Request) -> web.Response:
    """Join the queue, pause (with a reason) or leave it: {"state": "available"|"paused"|
    "logged-out", "reason": "istirahat"}. A call-taker for their own desk, a supervisor any."""
    extension = _steered_desk(request)
    body = await json_fields(request, ("state",), ("reason",))
    state, reason = body["state"], body.get("reason", "")
    try:
        wanted = Wanted(state if isinstance(state, str) else "")
    except ValueError:
        raise error(web.HTTPBadRequest, "state must be available, paused or logged-out") from None
    if not isinstance(reason, str) or len(reason) > 64:
        raise error(web.HTTPBadRequest, "reason must be one of the pause reasons")
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
    extension = _steered_desk(request)
    events = await services_of(request).desks.events(extension)
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
    waiting = await services.tickets.newest(status=Status.QUEUED.value, limit=500)
    at = datetime.now(UTC)
    states: dict[str, int] = {}
    for desk in services.desks.desks.all():
        states[desk.state.value] = states.get(desk.state.value, 0) + 1
    return web.json_response(
        {
            "queues": [
                {
                    "name": services.config.queue.name,
                    "waiting": [_waiting(t, at) for t in waiting_order(waiting)],
                    "desks": states,
                }
            ]
        }
    )


def _waiting(ticket: Ticket, at: datetime) -> dict[str, Any]:
    since = ticket.queued_at or ticket.arrived_at
    return {
        **ticket_summary(ticket),
        "waited": round((at - since).total_seconds()),
        # The console sorts by this: the order is decided here, once.
        "waiting_key": waiting_key(ticket),
    }
