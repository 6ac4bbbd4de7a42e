"""`/ws/live`: the live feed of a logged-in console.

Each socket subscribes to the bus with its own bounded queue (a slow browser is dropped, never
waited for) and receives only what its user may see (`LiveFeed`). Every message carries `seq`,
counting from 1 on each connection, so a console can tell it missed nothing; one that reconnects
reloads from the API.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from ..calltakers.waiting import with_waiting_key
from ..config import Config
from ..live.bus import Subscription
from ..live.messages import (
    AgencyOverdue,
    AssignmentChanged,
    BoardChanged,
    DeskChanged,
    DispatchAlert,
    OutageChanged,
    ScreenPop,
    TicketChanged,
)
from .access import OVERSEERS, Role
from .auth import current_user, token_of
from .origins import cookie_authenticated, from_our_pages
from .services import SERVICES

log = logging.getLogger(__name__)

GOING_AWAY = 1001
# A logout closes its session's sockets at once; an expiry (or a session ended elsewhere) within
# this many seconds: every open socket's session is checked, in one query, this often.
SESSION_RECHECK = 15.0
# Close codes: the browser reconnects after "try again later"; a policy refusal needs a login.
TOO_SLOW = 1013
LOGGED_OUT = 4401


@dataclass
class _OpenFeed:
    """One open socket: its session, and its reasons to stop."""

    token: str
    username: str
    subscription: Subscription
    ended: bool = False  # the session is over: close with LOGGED_OUT

    def end(self) -> None:
        self.ended = True
        self.wake()

    def wake(self) -> None:
        self.subscription.wake()


# The open sockets and their sessions: closed when the controller shuts down (else it would wait
# for each console), and when their session ends.
SOCKETS: web.AppKey[dict[web.WebSocketResponse, _OpenFeed]] = web.AppKey("sockets")

# The outage state now (supervision/outages.py), sent first on every socket: a page opened during
# an outage shows its banner at once. Unset: the app has no outage state (a test's).
OUTAGES: web.AppKey[Callable[[], OutageChanged]] = web.AppKey("outages")


async def log_out(request: web.Request) -> None:
    """End the request's session. Its consoles stop receiving caller data now, not at the next
    check: a call-taker who logs out at the end of a shift leaves no feed behind."""
    token = token_of(request)
    if not token:
        return
    await request.app[SERVICES].accounts.end_session(token)
    _end_feeds(request.app, lambda feed: feed.token == token)


def end_feeds_of(app: web.Application, username: str) -> None:
    """The login is gone: every console it has open stops now."""
    _end_feeds(app, lambda feed: feed.username == username)


def _end_feeds(app: web.Application, ended: Callable[[_OpenFeed], bool]) -> None:
    for feed in list(app[SOCKETS].values()):
        if ended(feed):
            feed.end()


async def _check_sessions(app: web.Application) -> None:
    """Every SESSION_RECHECK, end the feeds whose session has expired or was ended elsewhere."""
    while True:
        await asyncio.sleep(SESSION_RECHECK)
        feeds = list(app[SOCKETS].values())
        if not feeds:
            continue
        try:
            in_force = await app[SERVICES].accounts.sessions_in_force({f.token for f in feeds})
        except Exception:  # the database is down: check again next time, keep serving
            log.exception("could not check the live feeds' sessions")
            continue
        _end_feeds(app, lambda feed: feed.token not in in_force)  # noqa: B023 (used at once)


async def _session_checks(app: web.Application) -> AsyncIterator[None]:
    checks = asyncio.create_task(_check_sessions(app))
    yield
    checks.cancel()
    with suppress(asyncio.CancelledError):
        await checks


@dataclass(frozen=True)
class Viewer:
    username: str
    role: str
    agency: str | None


class LiveFeed:
    """What one user's console receives, as JSON messages (None: not for them)."""

    def __init__(self, viewer: Viewer, config: Config):
        self.viewer = viewer
        self._config = config

    @property
    def _oversees(self) -> bool:
        return self.viewer.role in OVERSEERS

    def sees(self, event: Any) -> bool:
        viewer = self.viewer
        match event:
            case TicketChanged():
                # Not agencies: a ticket carries the caller's number, which an agency sees only
                # if its configuration says so (web/agency.py); its page follows its assignments.
                return viewer.role != Role.AGENCY
            case ScreenPop():
                return event.username == viewer.username
            case BoardChanged():
                return self._oversees
            case DeskChanged():
                return self._oversees or event.username == viewer.username
            case DispatchAlert():
                phone = self._config.calltaker_at(event.calltaker)
                return self._oversees or (phone is not None and phone.username == viewer.username)
            case OutageChanged():
                return viewer.role != Role.AGENCY
            case AssignmentChanged():
                # The centre sees every agency's; an agency only its own.
                return viewer.role != Role.AGENCY or event.agency == viewer.agency
            case AgencyOverdue():
                return self._oversees  # the board's alarm
        return False

    def _answered(self, event: AssignmentChanged) -> bool:
        """Whether the ticket an agency declined was answered at this viewer's desk."""
        phone = self._config.calltaker_of(self.viewer.username)
        return phone is not None and phone.interface in event.answered_at

    def message(self, event: Any) -> dict[str, Any] | None:
        if not self.sees(event):
            return None
        message = message_of(event)
        if isinstance(event, AssignmentChanged) and message and self._answered(event):
            message["answered_here"] = True
        return message

    def encoded(self, event: Any) -> str | None:
        """The message as JSON, made once for every socket that receives this event (but for the
        desk that answered a declined ticket: its console is told so, and only it)."""
        if isinstance(event, AssignmentChanged) and event.answered_at and self.sees(event):
            return json.dumps(self.message(event))
        return ENCODED.get(event) if self.sees(event) else None


def message_of(event: Any) -> dict[str, Any] | None:
    """An event as a console receives it: the same for every viewer who may see it."""
    match event:
        case TicketChanged():
            return {
                "type": "ticket",
                "kind": event.kind,
                # A waiting ticket carries its place in the queue: the console sorts by it.
                "ticket": with_waiting_key(event.ticket),
                "event": event.event,
            }
        case ScreenPop():
            return {
                "type": "screen-pop",
                "stage": event.stage,
                "unique_id": event.unique_id,
                "ticket": event.ticket,
                "at": event.at.isoformat(),
            }
        case BoardChanged():
            return {"type": "board", "board": event.board}
        case DeskChanged():
            return {"type": "desk", "desk": event.desk}
        case DispatchAlert():
            return {
                "type": "alert",
                "kind": "dispatch-failed",
                "ticket_id": event.ticket_id,
                "unique_id": event.unique_id,
                "agency": event.agency,
                "at": event.at.isoformat(),
            }
        case OutageChanged():
            return {"type": "outage", "down": list(event.down), "at": event.at.isoformat()}
        case AssignmentChanged():
            return {
                "type": "assignment",
                "ticket_id": event.ticket_id,
                "assignment": event.assignment,
                "previous": event.previous,
                "actor": event.actor,
                "back_to_centre": event.back_to_centre,
                "at": event.at.isoformat(),
            }
        case AgencyOverdue():
            return {
                # Not "alert": that one says a dispatch went unanswered, to whoever has the call.
                "type": "agency-overdue",
                "ticket_id": event.ticket_id,
                "assignment_id": event.assignment_id,
                "agency": event.agency,
                "deadline": event.deadline,
                "due_at": event.due_at.isoformat(),
                "status": event.status,
                # The board sounds its alarm for this one.
                "sound": True,
                "at": event.at.isoformat(),
            }
    return None


class _EncodedOnce:
    """Each event's message as JSON, kept for the sockets still to send it.

    The bus hands the same event object to every socket, and a message does not depend on who
    receives it, so a hundred consoles need one encoding, not a hundred. Keyed by identity; the
    entry holds the event, so its id cannot be reused while it is here. A socket far behind the
    others may find its event gone and encodes it again: slower, never wrong.
    """

    def __init__(self, size: int = 256):
        self._size = size
        self._recent: OrderedDict[int, tuple[Any, str | None]] = OrderedDict()

    def get(self, event: Any) -> str | None:
        hit = self._recent.get(id(event))
        if hit is not None and hit[0] is event:
            return hit[1]
        message = message_of(event)
        text = json.dumps(message) if message is not None else None
        self._recent[id(event)] = (event, text)
        if len(self._recent) > self._size:
            self._recent.popitem(last=False)
        return text


ENCODED = _EncodedOnce()


def _same_origin(request: web.Request) -> bool:
    """A page of another origin (another site, port or scheme) must not open a socket with this
    browser's session. Browsers always say the page's origin; only a client with a Bearer token
    (a program, which no page can lend a session to) may leave it out."""
    if request.headers.get("Origin") is None:
        return not cookie_authenticated(request)
    return from_our_pages(request)


async def ws_live(request: web.Request) -> web.StreamResponse:
    user = await current_user(request)
    if user is None:
        raise web.HTTPUnauthorized(
            text='{"error": "login required"}', content_type="application/json"
        )
    if not _same_origin(request):
        raise web.HTTPForbidden(
            text='{"error": "cross-site socket"}', content_type="application/json"
        )
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    if not ws.can_prepare(request).ok:
        # A plain GET (no Upgrade): nothing to subscribe, and nothing to close afterwards.
        raise web.HTTPBadRequest(
            text='{"error": "a WebSocket handshake is required"}', content_type="application/json"
        )
    services = request.app[SERVICES]
    token = token_of(request) or ""
    feed = LiveFeed(Viewer(user.username, user.role, user.agency), services.config)
    subscription = services.bus.subscribe()
    outages = request.app.get(OUTAGES)
    if outages is not None:
        # First in the queue, nothing published between: any later change comes after it.
        subscription.queue.put_nowait(outages())
    opened = _OpenFeed(token, user.username, subscription)
    request.app[SOCKETS][ws] = opened
    reader: asyncio.Task[None] | None = None
    try:
        await ws.prepare(request)
        reader = asyncio.create_task(_drain(ws, opened))
        seq = 0
        # One await per event, nothing else: whatever else can happen (logout, expiry, the
        # browser leaving) sets a flag and wakes this loop through the same queue.
        while not ws.closed:
            if opened.ended:
                await ws.close(code=LOGGED_OUT, message=b"session ended")
                break
            if subscription.dropped:
                # The bus gave up on this socket while it was sending: it missed events.
                await ws.close(code=TOO_SLOW, message=b"too slow; reconnect")
                break
            event = await subscription.next()
            message = feed.encoded(event) if event is not None else None
            if message is not None:
                seq += 1
                await ws.send_str(f'{{"seq": {seq}, {message[1:]}')
    except ConnectionResetError:
        pass  # the browser went away mid-send
    finally:
        subscription.close()
        request.app[SOCKETS].pop(ws, None)
        if reader is not None:
            reader.cancel()
        if ws.prepared and not ws.closed:
            await ws.close()
    return ws


async def _drain(ws: web.WebSocketResponse, opened: _OpenFeed) -> None:
    """Consoles only listen; read (and ignore) what they send so pings and closes are seen."""
    try:
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
    finally:
        opened.wake()  # the browser has gone: its handler stops waiting for events


async def _close_sockets(app: web.Application) -> None:
    sockets = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=GOING_AWAY, message=b"controller stopping")


def add_routes(app: web.Application) -> None:
    app[SOCKETS] = {}
    app.on_shutdown.append(_close_sockets)
    app.cleanup_ctx.append(_session_checks)
    app.router.add_get("/ws/live", ws_live)
