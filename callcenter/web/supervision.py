"""The supervisors' API: the board, listening in on calls."""

from __future__ import annotations

from aiohttp import web

from ..supervision.listen import ListenError
from .api import OVERSEERS, UNIQUE_ID_RE
from .auth import requires
from .requests import error, json_body, services_of, user_of


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
    mode = (await json_body(request)).get("mode")
    try:
        await services_of(request).listen.listen(unique_id, str(mode), user_of(request).username)
    except ListenError as e:
        status = {
            "bad-request": web.HTTPBadRequest,
            "no-phone": web.HTTPConflict,
            "no-call": web.HTTPNotFound,
        }.get(e.kind, web.HTTPConflict)
        raise error(status, str(e)) from None
    return web.json_response(
        {"unique_id": unique_id, "mode": mode, "status": "ringing"}, status=202
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/board", get_board)
    app.router.add_post("/api/calls/{unique_id}/listen", post_listen)
