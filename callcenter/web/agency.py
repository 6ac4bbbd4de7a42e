"""The agency side: an agency's open assignments (its page reads them here), moving an assignment
along the agency loop, and a ticket as a NENA EIDO document.

An agency user sees a ticket only while its agency holds an assignment on it (any status: a
cleared one stays readable), never because of `ticket.agency`, which is only set once a dispatch
is answered. Whether the caller's number is in what an agency reads is its `show_caller_number`,
decided here on the server: a number the agency may not see is never in its JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from ..config import Config
from ..routing.agency_loop import LoopRefused, Mover, NotPermitted
from ..routing.assignments import assignment_json
from ..routing.eido import AgencyStatus, CallView, Incident, Note, eido_document
from ..tickets.models import Assignment, Ticket, User, now
from .access import OVERSEERS, READERS, Role
from .auth import is_text, requires
from .requests import (
    error,
    json_fields,
    refused,
    row_id_of,
    services_of,
    ticket_id_of,
    user_of,
)

# The centre's Agency Identifier and this controller's Element Identifier in EIDO documents.
CENTRE_AGENCY_ID = "112.malangkota.go.id"
ISSUING_ELEMENT = "controller.112.malangkota.go.id"
# Ticket events that are the centre's notes to whoever follows the ticket up.
NOTE_EVENT = "note"
# Who may move an assignment: the agency itself, and supervisors recording for it.
MOVERS = (Role.AGENCY, *OVERSEERS)


def shows_caller_number(config: Config, agency_id: str) -> bool:
    agency = config.agency(agency_id)
    return agency is not None and agency.show_caller_number


def notes_of(ticket: Ticket) -> list[dict[str, Any]]:
    """The centre's notes on a ticket, oldest first (loaded with its events)."""
    return [
        {"text": str(e.data.get("text", "")), "author": e.actor, "at": e.at.isoformat()}
        for e in ticket.events
        if e.kind == NOTE_EVENT and isinstance(e.data, dict)
    ]


def agency_ticket_json(config: Config, ticket: Ticket, *, caller_number: bool) -> dict[str, Any]:
    """A ticket as an agency reads it: what it needs to respond, and the caller's number only if
    `caller_number`. No calls, recording or event log: those are the centre's."""
    category = config.categories.get(ticket.category or "")
    data: dict[str, Any] = {
        "id": ticket.id,
        "status": ticket.status,
        "category": ticket.category,
        "category_name": category.name if category else None,
        "priority": ticket.priority,
        "what": ticket.what,
        "where": ticket.where,
        "who": ticket.who,
        "kecamatan": ticket.kecamatan,
        "kelurahan": ticket.kelurahan,
        "address": ticket.address,
        "landmark": ticket.landmark,
        "transcript": ticket.transcript,
        "arrived_at": ticket.arrived_at.isoformat(),
        "notes": notes_of(ticket),
    }
    if caller_number:
        data["caller_number"] = ticket.caller_number
        data["caller_name"] = ticket.caller_name
    return data


def _assignment_item(config: Config, assignment: Assignment, ticket: Ticket) -> dict[str, Any]:
    deadline_at = assignment.deadline_at
    return {
        "assignment": assignment_json(assignment),
        "overdue": deadline_at is not None and deadline_at <= now(),
        "ticket": agency_ticket_json(
            config, ticket, caller_number=shows_caller_number(config, assignment.agency)
        ),
    }


def _agency_asked(request: web.Request, user: User) -> str:
    """Whose assignments: an agency user's own; an overseer names one (?agency=<id>)."""
    config = services_of(request).config
    if user.role == Role.AGENCY:
        if user.agency is None or config.agency(user.agency) is None:
            raise error(web.HTTPForbidden, "this login belongs to no configured agency")
        return user.agency
    asked = request.query.get("agency", "")
    if config.agency(asked) is None:
        known = ", ".join(a.id for a in config.agencies)
        raise error(web.HTTPBadRequest, f"agency must be an agency id ({known})")
    return asked


@requires(Role.AGENCY, *OVERSEERS)
async def get_agency_assignments(request: web.Request) -> web.Response:
    """The agency's open assignments, most urgent then most overdue first, each with its ticket
    as the agency reads it. Agency users: their own; supervisors and admins: ?agency=<id>."""
    services = services_of(request)
    agency_id = _agency_asked(request, user_of(request))
    agency = services.config.agency(agency_id)
    assert agency is not None
    items = []
    for assignment in await services.assignments.open_for_agency(agency_id):
        ticket = await services.tickets.get(assignment.ticket_id)  # with its notes
        if ticket is not None:
            items.append(_assignment_item(services.config, assignment, ticket))
    return web.json_response(
        {
            "agency": {
                "id": agency.id,
                "name": agency.name,
                "show_caller_number": agency.show_caller_number,
            },
            "assignments": items,
            "at": now().isoformat(),
        }
    )


@requires(*OVERSEERS)
async def get_declined(request: web.Request) -> web.Response:
    """The tickets an agency declined and the centre has not yet given to another (nor closed):
    each decline with its ticket, the earliest first. The board's "perlu ditugaskan ulang"."""
    services = services_of(request)
    items = []
    for assignment in await services.assignments.needing_reassignment():
        ticket = assignment.ticket
        agency = services.config.agency(assignment.agency)
        items.append(
            {
                "assignment": assignment_json(assignment),
                "agency_name": agency.name if agency else assignment.agency,
                "ticket": {
                    "id": ticket.id,
                    "status": ticket.status,
                    "category": ticket.category,
                    "what": ticket.what,
                    "kecamatan": ticket.kecamatan,
                    "kelurahan": ticket.kelurahan,
                },
            }
        )
    return web.json_response({"declined": items, "at": now().isoformat()})


@requires(*MOVERS)
async def post_assignment_status(request: web.Request) -> web.Response:
    """Move an assignment: {"status": "acknowledged" | "en-route" | "on-scene" | "cleared" |
    "declined", "text": the disposition (cleared) or the reason (declined)}. An agency user moves
    only its own agency's assignments; supervisors and admins any (for an agency that reports by
    radio)."""
    services, user = services_of(request), user_of(request)
    assignment_id = row_id_of(request, "assignment")
    body = await json_fields(request, ("status",), ("text",))
    status, text = body["status"], body.get("text", "")
    if not isinstance(status, str) or len(status) > 32:
        raise error(web.HTTPBadRequest, "status must be a status name")
    if not isinstance(text, str):
        raise error(web.HTTPBadRequest, "text must be a string")
    if not is_text(text):
        raise error(web.HTTPBadRequest, "text is not valid Unicode (a lone surrogate)")
    mover = Mover(user.username, user.role, user.agency)
    try:
        assignment = await services.assignments.move(assignment_id, status, mover, text)
    except NotPermitted:
        raise error(web.HTTPForbidden, "this assignment belongs to another agency") from None
    except LoopRefused as e:
        raise refused(e) from None
    return web.json_response({"assignment": assignment_json(assignment)})


async def readable_ticket(request: web.Request) -> tuple[Ticket, list[Assignment], bool]:
    """The path's ticket, its assignments, and whether the caller's number may be shown to this
    user: 404 if there is no such ticket, 403 for an agency user without an assignment on it."""
    services, user = services_of(request), user_of(request)
    ticket = await services.tickets.get(ticket_id_of(request))
    if ticket is None:
        raise error(web.HTTPNotFound, "no such ticket")
    assignments = await services.assignments.of_ticket(ticket.id)
    if user.role != Role.AGENCY:
        return ticket, assignments, True
    if user.agency is None or not any(a.agency == user.agency for a in assignments):
        raise error(web.HTTPForbidden, "this ticket is not assigned to your agency")
    return ticket, assignments, shows_caller_number(services.config, user.agency)


@requires(*READERS)
async def get_eido(request: web.Request) -> web.Response:
    """The ticket as a NENA EIDO (STA-021) JSON document, with every agency's resource status.
    An agency reads it only for a ticket assigned to it, with the caller's number only if its
    configuration says so."""
    config = services_of(request).config
    ticket, assignments, with_number = await readable_ticket(request)
    document = eido_document(
        incident_of(config, ticket, assignments),
        centre_agency_id=CENTRE_AGENCY_ID,
        issuing_element=ISSUING_ELEMENT,
        with_caller_number=with_number,
    )
    return web.json_response(document, content_type="application/emergency.eido+json")


def incident_of(config: Config, ticket: Ticket, assignments: Iterable[Assignment]) -> Incident:
    """The EIDO's view of a ticket loaded with its calls and events."""
    category = config.categories.get(ticket.category or "")
    return Incident(
        ticket_id=ticket.id,
        status=ticket.status,
        closed=ticket.closed_at is not None,
        category=ticket.category,
        category_name=category.name if category else "",
        priority=ticket.priority,
        caller_number=ticket.caller_number,
        caller_name=ticket.caller_name,
        what=ticket.what,
        where=ticket.where,
        who=ticket.who,
        kecamatan=ticket.kecamatan,
        kelurahan=ticket.kelurahan,
        address=ticket.address,
        landmark=ticket.landmark,
        transcript=ticket.transcript,
        arrived_at=ticket.arrived_at,
        updated_at=ticket.updated_at,
        calls=tuple(
            CallView(
                unique_id=c.unique_id,
                caller_number=c.caller_number,
                started_at=c.started_at,
                answered_at=c.answered_at,
                ended_at=c.ended_at,
                calltaker=c.calltaker,
            )
            for c in ticket.calls
        ),
        notes=tuple(
            Note(str(e.data.get("text", "")), e.actor, e.at, _writer_agency(e.data))
            for e in ticket.events
            if e.kind == NOTE_EVENT and isinstance(e.data, dict)
        ),
        agencies=tuple(_agency_status(config, a) for a in assignments),
    )


def _writer_agency(data: dict[str, Any]) -> str | None:
    """The agency a note was written for (web/tickets.py records it); None: the centre's."""
    agency = data.get("agency")
    return agency if data.get("role") == Role.AGENCY and isinstance(agency, str) else None


def _agency_status(config: Config, assignment: Assignment) -> AgencyStatus:
    agency = config.agency(assignment.agency)
    moved = assignment.status != "assigned"
    return AgencyStatus(
        agency_id=assignment.agency,
        agency_name=agency.name if agency else assignment.agency,
        categories=tuple(agency.categories) if agency else (),
        status=assignment.status,
        assigned_at=assignment.assigned_at,
        assigned_by=assignment.assigned_by,
        updated_at=assignment.moved_at,
        updated_by=assignment.moved_by if moved else "",
        reason=assignment.disposition or assignment.decline_reason or "",
    )
