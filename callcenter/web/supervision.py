"""The supervisors' API: the board, listening in, callbacks of abandoned calls, restrictions of
prank callers."""

from __future__ import annotations

from aiohttp import web

from ..supervision.callbacks import CallbackError
from ..supervision.listen import ListenError
from ..supervision.restrictions import RestrictionError, restriction_json
from .access import DESK, OVERSEERS, steers_desk
from .auth import requires
from .calls import UNIQUE_ID_RE
from .desks import EXTENSION_RE
from .requests import error, json_fields, refused, row_id_of, services_of, ticket_id_of, user_of


@requires(*OVERSEERS)
async def get_board(request: web.Request) -> web.Response:
    """Live calls, every desk, today's figures (also pushed on /ws/live as "board")."""
    return web.json_response(await services_of(request).board.snapshot())


@requires(*OVERSEERS)
async def post_listen(request: web.Request) -> web.Response:
    """{"mode": "listen"|"whisper"|"barge"}: the supervisor's own phone rings into the call."""
    unique_id = request.match_info["unique_id"]
    if not UNIQUE_ID_RE.fullmatch(unique_id):
        raise error(web.HTTPNotFound, "no such call")
    mode = (await json_fields(request, ("mode",)))["mode"]
    if not isinstance(mode, str):
        raise error(web.HTTPBadRequest, "mode: listen, whisper or barge")
    try:
        await services_of(request).listen.listen(unique_id, mode, user_of(request).username)
    except ListenError as e:
        raise refused(e) from None
    return web.json_response(
        {"unique_id": unique_id, "mode": mode, "status": "ringing"}, status=202
    )


@requires(*DESK)
async def get_callbacks(request: web.Request) -> web.Response:
    """One entry per number that hung up unanswered and was not reached since, newest first: how
    many times and when it rang, its newest ticket (`ticket.id`, where a callback goes), callback
    attempts, and the number's prank/silent record. Unknown numbers: one entry per call."""
    return web.json_response({"callbacks": await services_of(request).callbacks.waiting()})


@requires(*DESK)
async def post_callback(request: web.Request) -> web.Response:
    """{"extension": "2001"}: ring that call-taker, then the caller. A call-taker calls back from
    their own desk; a supervisor chooses any."""
    ticket_id = ticket_id_of(request)
    extension = (await json_fields(request, ("extension",)))["extension"]
    user = user_of(request)
    if not isinstance(extension, str) or not EXTENSION_RE.fullmatch(extension):
        raise error(web.HTTPBadRequest, "extension: the call-taker's desk")
    if not steers_desk(services_of(request).config, user, extension):
        raise error(web.HTTPForbidden, "call back from your own desk")
    try:
        leg = await services_of(request).callbacks.call_back(ticket_id, extension, user.username)
    except CallbackError as e:
        raise refused(e) from None
    return web.json_response({"ticket_id": ticket_id, "leg": leg, "status": "ringing"}, status=202)


@requires(*OVERSEERS)
async def get_restrictions(request: web.Request) -> web.Response:
    return web.json_response({"restrictions": await services_of(request).restrictions.listing()})


@requires(*OVERSEERS)
async def post_restriction(request: web.Request) -> web.Response:
    """{"number", "reason", "evidence": [ticket ids]}: the next level of the prank policy."""
    try:
        restriction = await services_of(request).restrictions.restrict(
            await json_fields(request, ("number", "reason"), ("evidence",)),
            user_of(request).username,
        )
    except RestrictionError as e:
        raise refused(e) from None
    return web.json_response(restriction_json(restriction), status=201)


@requires(*OVERSEERS)
async def post_lift(request: web.Request) -> web.Response:
    """{"reason"}: lift a restriction now."""
    restriction_id = row_id_of(request, "restriction")
    try:
        lifted = await services_of(request).restrictions.lift(
            restriction_id, await json_fields(request, ("reason",)), user_of(request).username
        )
    except RestrictionError as e:
        raise refused(e) from None
    if lifted is None:
        raise error(web.HTTPNotFound, "no such restriction")
    return web.json_response(restriction_json(lifted))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/board", get_board)
    app.router.add_post("/api/calls/{unique_id}/listen", post_listen)
    app.router.add_get("/api/callbacks", get_callbacks)
    app.router.add_post("/api/tickets/{id}/callback", post_callback)
    app.router.add_get("/api/restrictions", get_restrictions)
    app.router.add_post("/api/restrictions", post_restriction)
    app.router.add_post("/api/restrictions/{id}/lift", post_lift)
