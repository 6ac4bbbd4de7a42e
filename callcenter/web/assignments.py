"""A ticket's assignments to agencies: assigning one without bringing the agency into a call
(a report that needs no conference, a caller who has hung up). The agency's desk phone is then
called about it (routing/callouts.py). A call-taker assigns only tickets they may edit."""

from __future__ import annotations

from aiohttp import web

from ..routing.agency_loop import LoopRefused
from ..routing.assignments import assignment_json
from .access import DESK, edits_ticket
from .auth import requires
from .requests import error, json_fields, refused, services_of, ticket_id_of, user_of


@requires(*DESK)
async def post_assignment(request: web.Request) -> web.Response:
    """Assign the ticket to an agency. Body: {"agency": "<id>"}. The assignment (the open one the
    ticket already has with that agency, if any); its desk phone is being called."""
    ticket_id = ticket_id_of(request)
    agency = (await json_fields(request, ("agency",)))["agency"]
    services, user = services_of(request), user_of(request)
    if not isinstance(agency, str) or services.config.agency(agency) is None:
        known = ", ".join(a.id for a in services.config.agencies)
        raise error(web.HTTPBadRequest, f"agency must be an agency id ({known})")
    ticket = await services.tickets.get(ticket_id)
    if ticket is None:
        raise error(web.HTTPNotFound, "no such ticket")
    if not edits_ticket(services.config, user, ticket):
        raise error(web.HTTPForbidden, "another desk answered this ticket")
    try:
        assignment = await services.callouts.assign(ticket_id, agency, user.username)
    except LoopRefused as e:
        raise refused(e) from None
    return web.json_response({"assignment": assignment_json(assignment)})
