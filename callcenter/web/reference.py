"""What the console needs to know beside the calls: the agencies to dispatch to, Kota Malang's
places, and the protocol cards (which supervisors edit)."""

from __future__ import annotations

from aiohttp import web

from ..calltakers.protocols import GENERAL, CardError, check_items
from .access import OVERSEERS, READERS
from .auth import requires
from .requests import error, json_fields, services_of, user_of


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
    # A misspelt or missing key would otherwise save an empty list over the card.
    body = await json_fields(request, ("ask", "tell"))
    try:
        ask = check_items("ask", body["ask"])
        tell = check_items("tell", body["tell"])
    except CardError as e:
        raise error(web.HTTPBadRequest, str(e)) from None
    card = await services.protocols.save(category, ask, tell, user_of(request).username)
    return web.json_response(card.as_json())
