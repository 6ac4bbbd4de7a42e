"""AMI: Asterisk's events become domain events, in order; reconnects with backoff, then resyncs.

Callbacks registered with panoramisk are synchronous and only enqueue, so events keep their order
and no callback task can lose an exception (panoramisk 1.4 does not keep references to them).
What the client composes: the translation of events (ami_translate), the resync that fails and is
tried again with backoff, and the channel sweep (ami_resync), and the Ping check that takes an
Asterisk that is connected but answers nothing (stopped, deadlocked) for down, so its connection
is dropped and made again (ami_liveness).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from panoramisk import Manager

from ..config import Config
from ..live.facts import CallEvent
from .ami_liveness import Liveness, TelephonyUnavailable
from .ami_resync import Backoff, Resync
from .ami_translate import (
    EVENTS,
    RECEIVED_EVENTS,
    channels_alive,
    channels_to_resync,
    is_caller_channel,
    members_to_resync,
    translate,
)

# Imported from here by the rest of the controller and the tests: the AMI's public face.
__all__ = [
    "EVENTS",
    "RECEIVED_EVENTS",
    "AmiClient",
    "Backoff",
    "TelephonyUnavailable",
    "channels_alive",
    "channels_to_resync",
    "is_caller_channel",
    "members_to_resync",
    "translate",
]

log = logging.getLogger(__name__)

# Seconds an action waits for Asterisk's answer by default: a desk's click must not hang on an
# Asterisk that died or is stuck (Asterisk answers a healthy action within milliseconds).
ACTION_TIMEOUT = 5.0


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk reconnects at a fixed interval; each attempt here sets the delay before the next."""

    backoff: Backoff
    attempts = 0
    stopped = False

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.stopped:
            return None  # panoramisk schedules reconnects on the loop; after stop() they do nothing
        self.reconnect_timeout = self.backoff.take()
        self.attempts += 1
        if self.attempts > 1:
            log.warning(
                "AMI connect attempt %d to %s:%s (next retry in %.1f s)",
                self.attempts,
                self.config["host"],
                self.config["port"],
                self.reconnect_timeout,
            )
        return super().connect(*args, **kwargs)

    def ping(self) -> None:
        """panoramisk's own Ping waits for no answer and keeps each unanswered one for the life of
        the connection: AmiClient pings instead, with a timeout."""


class AmiClient:
    """Keeps an AMI session to Asterisk and feeds domain events to `handle`, one at a time, in order."""

    def __init__(
        self,
        config: Config,
        handle: Callable[[CallEvent], Awaitable[None]],
        catch_up: Callable[[bool], Awaitable[int]] | None = None,
        on_connection: Callable[[bool], None] | None = None,
    ):
        self._handle = handle
        # Told True once each login's resync is done, False at each loss: the outage state
        # follows at once.
        self._on_connection = on_connection
        # Futures of the actions sent on this connection and not answered yet: failed at once
        # when it drops, rather than left waiting for a reply that cannot come.
        self._in_flight: set[asyncio.Future[Any]] = set()
        self._events: asyncio.Queue[CallEvent | str] = asyncio.Queue()
        self._consumer: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._sweep_interval = config.controller.channel_sweep
        self.connected = asyncio.Event()
        # Connected, and what Asterisk has was read since (desks, calls): until then the
        # controller's picture may be from before an Asterisk restart.
        self.synced = asyncio.Event()
        # Asterisk let the last session's Pings go unanswered; until the next login.
        self.not_answering = False
        self.logins = 0
        self.action_timeout = ACTION_TIMEOUT
        self._liveness = Liveness(self.connected, self._ping, self._give_up_on_session)
        self._pinger: asyncio.Task[None] | None = None
        self._resync = Resync(
            send=self.send,
            connected=self.connected,
            events=self._events,
            handle=handle,
            catch_up=catch_up,
            queue=config.queue.name,
            resynced=self._resynced,
        )
        a = config.asterisk
        self.manager = _Manager(
            host=a.bind if a.bind != "0.0.0.0" else "127.0.0.1",  # noqa: S104
            port=a.ami_port,
            username=a.ami_user,
            secret=a.ami_secret,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )
        self.manager.backoff = Backoff(
            config.controller.ami_reconnect_min, config.controller.ami_reconnect_max
        )
        for name in EVENTS:
            self.manager.register_event(name, self._on_event)

    # The liveness check's settings, here where the centre (and its tests) tune the client.
    @property
    def ping_interval(self) -> float:
        return self._liveness.interval

    @ping_interval.setter
    def ping_interval(self, seconds: float) -> None:
        self._liveness.interval = seconds

    @property
    def ping_timeout(self) -> float:
        return self._liveness.timeout

    @ping_timeout.setter
    def ping_timeout(self, seconds: float) -> None:
        self._liveness.timeout = seconds

    @property
    def missed_pings(self) -> int:
        return self._liveness.missed_pings

    @missed_pings.setter
    def missed_pings(self, count: int) -> None:
        self._liveness.missed_pings = count

    async def start(self) -> None:
        self._consumer = asyncio.create_task(self._consume(), name="ami-events")
        self._sweeper = asyncio.create_task(
            self._resync.sweep_every(self._sweep_interval), name="ami-channel-sweep"
        )
        self._pinger = asyncio.create_task(self._liveness.run(), name="ami-liveness")
        self.manager.loop = asyncio.get_running_loop()
        self.manager.connect()

    async def stop(self) -> None:
        self.manager.stopped = True
        self.manager.close()
        self._resync.cancel_later()
        for task in (self._consumer, self._sweeper, self._pinger):
            if task is not None:
                task.cancel()

    @property
    def status(self) -> str:
        """AMI in a word or two, as /healthz and the outage banner say it: "ok" once logged in
        and resynced."""
        if self.not_answering:
            return "not answering"
        if self.synced.is_set():
            return "ok"
        return "resyncing" if self.connected.is_set() else "disconnected"

    async def send(
        self, action: dict[str, str], *, single: bool = False, timeout: float | None = None
    ) -> Any:
        """Send an action; its reply (or list of event replies). `single`: the action answers
        with one message only. panoramisk guesses from the reply's words otherwise, and takes
        QueueAdd's "Added interface to queue" for the start of a list that never ends.
        Raises TelephonyUnavailable at once while AMI is down, when the connection drops before
        the reply, or after `timeout` seconds (`action_timeout` by default) without one."""
        if timeout is None:
            timeout = self.action_timeout
        for key, value in action.items():
            if any(c in str(value) for c in "\r\n"):
                raise ValueError(f"AMI action field {key!r} contains a line break")
        name = action.get("Action", "?")
        if not self.connected.is_set():
            # panoramisk would write to the dead connection and wait for ever.
            raise TelephonyUnavailable(f"telephony unavailable: no AMI connection ({name})")
        reply = self.manager.send_action(action, as_list=False if single else None)
        self._in_flight.add(reply)
        try:
            return await asyncio.wait_for(reply, timeout)
        except TimeoutError:
            raise TelephonyUnavailable(
                f"telephony unavailable: Asterisk did not answer {name} in {timeout:.0f} s"
            ) from None
        finally:
            self._in_flight.discard(reply)
            if reply.cancelled():
                self._forget(reply)

    def _forget(self, reply: asyncio.Future[Any]) -> None:
        """panoramisk keeps an action until an answer completes its future, and an answer to one
        given up on (timed out, cancelled) completes nothing: without this every Getvar a hung
        Asterisk left unanswered would be kept for the life of the connection."""
        responses = getattr(self.manager.protocol, "responses", None) or {}
        for key in [key for key, action in responses.items() if action.future is reply]:
            del responses[key]

    def _on_event(self, _manager: Manager, message: Any) -> None:
        try:
            event = translate({str(k): str(v) for k, v in message.items()})
        except Exception:
            log.exception("AMI event %s could not be translated", message.get("Event"))
            return
        if event is not None:
            self._events.put_nowait(event)

    def _on_login(self, _manager: Manager) -> None:
        self.logins += 1
        self.manager.backoff.reset()
        self.manager.attempts = 0
        self.not_answering = False
        self._resync.new_session()
        log.info("AMI logged in (session %d)", self.logins)
        self.connected.set()
        # Resync runs in the consumer, in line with live events, so it cannot race them.
        self._events.put_nowait("resync")

    def _on_disconnect(self, _manager: Manager, exc: Any) -> None:
        self.connected.clear()
        self.synced.clear()
        self._resync.cancel_later()
        log.warning("AMI connection lost; reconnecting with backoff")
        lost = TelephonyUnavailable("telephony unavailable: the AMI connection was lost")
        for reply in list(self._in_flight):
            if not reply.done():
                reply.set_exception(lost)
        # panoramisk keeps unanswered actions to send again after a reconnect: a call-taker's
        # click would then act minutes later, on a call that may be over. They have failed.
        self.manager.awaiting_actions.clear()
        if self._on_connection is not None:
            self._on_connection(False)

    async def _consume(self) -> None:
        while True:
            item = await self._events.get()
            try:
                if item == "resync":
                    await self._resync.resync_or_retry()
                elif item == "sweep":
                    await self._resync.sweep()
                elif not isinstance(item, str):
                    await self._handle(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("handling %r failed", item)

    async def _ping(self, timeout: float) -> None:
        await self.send({"Action": "Ping"}, single=True, timeout=timeout)

    def _give_up_on_session(self) -> None:
        """Asterisk is hung: AMI is down ("not answering") and the connection is dropped, so every
        action waiting on it fails now and new ones fail at once. A new connection logs in when
        Asterisk runs again, and its resync ends the outage."""
        self.not_answering = True
        self.connected.clear()
        self.synced.clear()
        protocol = self.manager.protocol
        if protocol is not None:
            # As if the connection had been lost: panoramisk closes it and connects again, and
            # _on_disconnect fails what was in flight and tells the outage.
            protocol.connection_lost(TimeoutError("Asterisk did not answer AMI Pings"))

    def _resynced(self) -> None:
        """A resync succeeded: AMI is up, unless the session ended while it ran."""
        if self.connected.is_set():
            self.synced.set()
            if self._on_connection is not None:
                self._on_connection(True)
