"""The FastAGI routes the dialplan calls (`AGI(agi://…/<route>)`): one module per route, named
after it, holding one `async def` of the same name. A route is thin: it hands the call to the
domain (routing/, supervision/), which reads the channel's variables and writes its answer
back as variables. Route names are the dialplan's (telephony/dialplan.py); `table()` is what the
FastAGI server serves, and only to this instance's Asterisk, for a channel it has (the server
checks that before any route runs: telephony/agi.py, AgiTrust).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..config import Config
from ..routing.dispatch import Dispatcher
from ..routing.dispatch_log import DispatchLog
from ..telephony import dialplan
from ..telephony.agi import Route
from ..telephony.channel import Channel
from ..tickets.calls import Calls
from ..tickets.repository import Tickets
from . import answered, callback, dialled, overflow, ring, unanswered


@dataclass(frozen=True)
class RouteDeps:
    """What the routes need from the centre: each route takes only the parts its domain uses."""

    config: Config
    calls: Calls
    tickets: Tickets
    dispatches: DispatchLog
    dispatcher: Dispatcher


def table(deps: RouteDeps) -> dict[str, Route]:
    """Route name → handler, as the FastAGI server looks them up."""
    routes: dict[str, Callable[[Channel, RouteDeps], Awaitable[None]]] = {
        dialplan.ROUTE_OVERFLOW: overflow.overflow,
        dialplan.ROUTE_RING: ring.ring,
        dialplan.ROUTE_ANSWERED: answered.answered,
        dialplan.ROUTE_DIALLED: dialled.dialled,
        dialplan.ROUTE_UNANSWERED: unanswered.unanswered,
        dialplan.ROUTE_CALLBACK: callback.callback,
    }
    return {name: _bound(route, deps) for name, route in routes.items()}


def _bound(route: Callable[[Channel, RouteDeps], Awaitable[None]], deps: RouteDeps) -> Route:
    async def run(channel: Channel) -> None:
        await route(channel, deps)

    return run
