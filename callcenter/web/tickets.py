"""Tickets: the list, one ticket, its recording, a call-taker's edits and closing. Agency users
read only tickets assigned to their agency (web/agency.py); a call-taker edits only tickets their
desk answered (or none did), and hears only the recordings of calls they answered. The centre's
notes on a ticket (for whoever follows it up) are written by the desk that may edit it, an
overseer, or an agency holding an assignment on it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from ..config import Config
from ..refused import Refused
from ..telephony.asterisk import instance_paths
from ..tickets.lifecycle import Status
from ..tickets.models import Ticket
from ..tickets.views import ticket_detail, ticket_summary
from .access import DESK, READERS, Role, edits_ticket, hears_recording
from .agency import NOTE_EVENT, agency_ticket_json, notes_of, readable_ticket
from .auth import is_text, requires
from .requests import error, json_body, json_fields, refused, services_of, ticket_id_of, user_of

# The longest note, in characters: a few paragraphs, not a document.
MAX_NOTE = 2000


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


@requires(*DESK)
async def get_tickets(request: web.Request) -> web.Response:
    """Newest first. Query: status, caller_number, limit (1-500, default 100), before_id (paging).
    Not for agencies: they list their assignments (/api/agency/assignments)."""
    status = request.query.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise error(web.HTTPBadRequest, f"unknown status {status[:40]!r}")
    caller_number = request.query.get("caller_number")
    if caller_number is not None and len(caller_number) > 64:
        raise error(web.HTTPBadRequest, "caller_number longer than 64 characters")
    tickets = await services_of(request).tickets.newest(
        status=status,
        caller_number=caller_number,
        limit=_query_int(request, "limit", 100, 1, 500) or 100,
        before_id=_query_int(request, "before_id", None, 1, 2**62),
    )
    return web.json_response({"tickets": [ticket_summary(t) for t in tickets]})


@requires(*READERS)
async def get_ticket(request: web.Request) -> web.Response:
    if user_of(request).role == Role.AGENCY:
        # Only while its agency holds an assignment on it, and as an agency reads it.
        theirs, _assignments, with_number = await readable_ticket(request)
        config = services_of(request).config
        return web.json_response(agency_ticket_json(config, theirs, caller_number=with_number))
    ticket = await services_of(request).tickets.get(ticket_id_of(request))
    if ticket is None:
        raise error(web.HTTPNotFound, "no such ticket")
    return web.json_response(ticket_detail(ticket))


@requires(*DESK)
async def get_recording(request: web.Request) -> web.StreamResponse:
    """The ticket's recording (audio/wav), to an overseer or the call-taker who answered it. The
    file is looked up by ticket, never named by the client, and served only from inside the
    recordings directory."""
    services, user = services_of(request), user_of(request)
    ticket = await services.tickets.get(ticket_id_of(request))
    if ticket is None:
        raise error(web.HTTPNotFound, "no such ticket")
    if not hears_recording(services.config, user, ticket):
        raise error(web.HTTPForbidden, "only the call-taker who answered it, or a supervisor")
    path = await asyncio.to_thread(_recording_file, services.config, ticket.recording_path)
    if path is None:
        raise error(web.HTTPNotFound, "this ticket has no recording")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})


def _recording_file(config: Config, stored: str | None) -> Path | None:
    """The recording's file, if it is there and inside the recordings directory (the stored
    path came from telephony; a link or a path of another directory is not served)."""
    if not stored:
        return None
    recordings = instance_paths(config).recordings.resolve()
    path = Path(stored).resolve()
    return path if path.is_relative_to(recordings) and path.is_file() else None


@requires(*DESK)
async def patch_ticket(request: web.Request) -> web.Response:
    """Edit what/where/who, the place, category, prank/silent flags and protocol ticks (the body
    is checked key by key in tickets/edits.py: an unknown key is a 400)."""
    ticket_id = ticket_id_of(request)
    body = await json_body(request)
    return await _change(request, services_of(request).ticket_work.edit, ticket_id, body)


@requires(*DESK)
async def post_close(request: web.Request) -> web.Response:
    """Close with the call's type: darurat, informasi, prank, ghost, tidak-tercatat."""
    ticket_id = ticket_id_of(request)
    body = await json_fields(request, ("outcome",))
    return await _change(request, services_of(request).ticket_work.close, ticket_id, body)


async def _change(
    request: web.Request,
    change: Callable[[int, dict[str, Any], str], Awaitable[Ticket]],
    ticket_id: int,
    body: dict[str, Any],
) -> web.Response:
    """A call-taker's change to a ticket: the changed ticket, or the domain's no as HTTP. Another
    desk's ticket is refused before anything changes."""
    services, user = services_of(request), user_of(request)
    ticket = await services.tickets.get(ticket_id)
    if ticket is None:
        raise error(web.HTTPNotFound, "no such ticket")
    if not edits_ticket(services.config, user, ticket):
        raise error(web.HTTPForbidden, "another desk answered this ticket")
    try:
        changed = await change(ticket_id, body, user.username)
    except Refused as e:
        raise refused(e) from None
    return web.json_response(ticket_summary(changed))


@requires(*READERS)
async def post_note(request: web.Request) -> web.Response:
    """Add the centre's note to a ticket: {"text": 1-2000 characters}. One `note` event with the
    writer's name and role; the agencies read it on their page and in the EIDO document. Answers
    the ticket's notes as an agency reads them (never the caller's number)."""
    services, user = services_of(request), user_of(request)
    body = await json_fields(request, ("text",))
    text = body["text"]
    if not isinstance(text, str):
        raise error(web.HTTPBadRequest, "text must be a string")
    if not is_text(text):
        raise error(web.HTTPBadRequest, "text is not valid Unicode (a lone surrogate)")
    text = text.strip()
    if not 1 <= len(text) <= MAX_NOTE:
        raise error(web.HTTPBadRequest, f"text must be 1 to {MAX_NOTE} characters")
    if user.role == Role.AGENCY:
        ticket, _assignments, _with_number = await readable_ticket(request)
    else:
        found = await services.tickets.get(ticket_id_of(request))
        if found is None:
            raise error(web.HTTPNotFound, "no such ticket")
        if not edits_ticket(services.config, user, found):
            raise error(web.HTTPForbidden, "another desk answered this ticket")
        ticket = found
    # The event is published on the live feed once committed (tickets/db.py). An agency's note
    # names the agency it was written for (the EIDO document credits it there).
    data = {"text": text, "role": str(user.role)}
    if user.role == Role.AGENCY and user.agency:
        data["agency"] = user.agency
    await services.tickets.note(ticket.id, user.username, NOTE_EVENT, data)
    noted = await services.tickets.get(ticket.id)
    assert noted is not None  # tickets are never deleted
    return web.json_response({"notes": notes_of(noted)}, status=201)
