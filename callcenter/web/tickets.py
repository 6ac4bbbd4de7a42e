"""Tickets: the list, one ticket, a call-taker's edits and closing. Agency users see only their
agency's tickets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..refused import Refused
from ..tickets.lifecycle import Status
from ..tickets.models import Ticket, User
from ..tickets.views import ticket_detail, ticket_summary
from .access import DESK, READERS, Role
from .auth import requires
from .requests import error, json_body, refused, services_of, ticket_id_of, user_of


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


@requires(*READERS)
async def get_tickets(request: web.Request) -> web.Response:
    """Newest first. Query: status, caller_number, limit (1-500, default 100), before_id (paging)."""
    status = request.query.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise error(web.HTTPBadRequest, f"unknown status {status[:40]!r}")
    caller_number = request.query.get("caller_number")
    if caller_number is not None and len(caller_number) > 64:
        raise error(web.HTTPBadRequest, "caller_number longer than 64 characters")
    tickets = await services_of(request).tickets.newest(
        agency=_agency_scope(user_of(request)),
        status=status,
        caller_number=caller_number,
        limit=_query_int(request, "limit", 100, 1, 500) or 100,
        before_id=_query_int(request, "before_id", None, 1, 2**62),
    )
    return web.json_response({"tickets": [ticket_summary(t) for t in tickets]})


@requires(*READERS)
async def get_ticket(request: web.Request) -> web.Response:
    ticket = await services_of(request).tickets.get(ticket_id_of(request))
    scope = _agency_scope(user_of(request))
    # A ticket outside an agency user's scope is reported as absent, not as forbidden.
    if ticket is None or (scope is not None and ticket.agency != scope):
        raise error(web.HTTPNotFound, "no such ticket")
    return web.json_response(ticket_detail(ticket))


@requires(*DESK)
async def patch_ticket(request: web.Request) -> web.Response:
    """Edit what/where/who, the place, category, prank/silent flags and protocol ticks."""
    return await _change(request, services_of(request).ticket_work.edit)


@requires(*DESK)
async def post_close(request: web.Request) -> web.Response:
    """Close with the call's type: darurat, informasi, prank, ghost, tidak-tercatat."""
    return await _change(request, services_of(request).ticket_work.close)


async def _change(
    request: web.Request,
    change: Callable[[int, dict[str, Any], str], Awaitable[Ticket]],
) -> web.Response:
    """A call-taker's change to a ticket: the changed ticket, or the domain's no as HTTP."""
    ticket_id = ticket_id_of(request)
    body = await json_body(request)
    try:
        changed = await change(ticket_id, body, user_of(request).username)
    except Refused as e:
        raise refused(e) from None
    return web.json_response(ticket_summary(changed))
