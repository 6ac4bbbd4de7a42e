"""Live calls: bringing an agency in, hold, resume and hang up. A call-taker steers only the call
they answered (`access.steers_call`)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..calltakers.calls import CallError
from ..routing.dispatch import DispatchError
from ..tickets.models import Call
from .access import DESK, steers_call
from .auth import requires
from .requests import error, json_fields, refused, services_of, user_of

UNIQUE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


async def _steered_call(request: web.Request) -> Call:
    """The live call in the path, if this user may steer it: a call-taker only the call they
    answered (a supervisor any); nobody a call that has ended. Refusals change nothing."""
    unique_id = request.match_info["unique_id"]
    if not UNIQUE_ID_RE.fullmatch(unique_id):
        raise error(web.HTTPNotFound, "no such call")
    services, user = services_of(request), user_of(request)
    call = await services.call_log.call(unique_id)
    if call is None:
        raise error(web.HTTPNotFound, "no such call")
    if call.ended_at is not None:
        raise error(web.HTTPConflict, "the call has ended")
    if not steers_call(services.config, user, call):
        raise error(web.HTTPForbidden, "another call-taker has this call")
    return call


@requires(*DESK)
async def post_dispatch(request: web.Request) -> web.Response:
    """Bring an agency into a live call (three-way conference). Body: {"agency": "<id>"}.

    202: the call is in its conference and the agency is ringing; the outcome (answered, backup
    tried, failed) arrives as ticket events and on the live feed.
    """
    agency = (await json_fields(request, ("agency",)))["agency"]
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


def call_action(name: str) -> Any:
    """A handler for one of `CallControl`'s actions (hold, resume, hang_up) on a steered call."""

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
