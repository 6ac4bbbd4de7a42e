"""Catching up with Asterisk: the resync after each login, tried again with backoff until it
succeeds, and the periodic channel sweep that closes calls whose end we never heard of.

Both run in the AMI client's consumer (ami.py), queued among the live events as "resync" and
"sweep", so they cannot race them; this module only decides what to ask and when.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from ..live.facts import CallEvent
from .ami_liveness import TelephonyUnavailable
from .ami_translate import Ami, channels_alive, channels_to_resync, members_to_resync

log = logging.getLogger(__name__)

# Seconds before a resync is tried again (Asterisk still starting, no answer, a database write
# that failed): doubling up to the most, for as long as the session lasts (a new one resyncs).
RESYNC_RETRY = 0.5
RESYNC_RETRY_MAX = 10.0


class Backoff:
    """Delays between reconnect attempts: doubling from `low` up to `high`, reset after a login."""

    def __init__(self, low: float, high: float):
        self.low, self.high = low, high
        self.next = low

    def take(self) -> float:
        delay = self.next
        self.next = min(self.next * 2, self.high)
        return delay

    def reset(self) -> None:
        self.next = self.low


class Resync:
    """Rebuilds what Asterisk has (live 112 calls, the queue's call-takers, calls ended while
    away) and hands it to `handle`; `resynced` is told once a resync has succeeded."""

    def __init__(
        self,
        *,
        send: Callable[..., Awaitable[Any]],
        connected: asyncio.Event,
        events: asyncio.Queue[CallEvent | str],
        handle: Callable[[CallEvent], Awaitable[None]],
        catch_up: Callable[[bool], Awaitable[int]] | None,
        queue: str,
        resynced: Callable[[], None],
    ):
        self._send = send
        self._connected = connected
        # The AMI client's event queue: a retry or a sweep is queued there, behind live events.
        self._events = events
        self._handle = handle
        # Handles the calls the call records name: after a reconnect (True) all of them, those
        # that ended while we were away, before the live channels are read; at each sweep
        # (False) those recorded before the last one. Says how many it handled.
        self._catch_up = catch_up
        self._queue = queue
        self._resynced = resynced
        self._backoff = Backoff(RESYNC_RETRY, RESYNC_RETRY_MAX)
        self._failed = 0
        self._timer: asyncio.TimerHandle | None = None

    def new_session(self) -> None:
        """A login: its resync starts from the shortest retry delay, with nothing failed yet."""
        self._backoff.reset()
        self._failed = 0
        self.cancel_later()

    async def resync_or_retry(self) -> None:
        """AMI is up only once a resync has succeeded: one that fails (no answer, a database write
        that failed) is tried again later, on the same session, however often it takes."""
        try:
            await self._resync()
        except Exception as e:
            if not self._connected.is_set():
                log.warning("AMI resync ended with the connection (%s); the next login resyncs", e)
                return
            self._failed += 1
            delay = self._later()
            # The whole traceback once; after that a line each time.
            log.error(
                "AMI resync failed (%d in a row): %s: %s; trying again in %.1f s",
                self._failed,
                type(e).__name__,
                e,
                delay,
                exc_info=self._failed == 1,
            )

    async def _resync(self) -> None:
        """After a (re)connect, rebuild what we missed: live 112 calls, and calls ended meanwhile."""
        ended = await self._caught_up(reconnected=True)
        at = datetime.now(UTC)
        channels = await self._channels()
        events: list[CallEvent] = channels_to_resync(channels, at)
        calls = len(events)
        alive = channels_alive(channels, at)
        if alive is not None:  # after the CDR's ends: they carry the real times
            events.append(alive)
        # Who is at the queue now: call-takers may have joined, paused or left while we were away.
        reply = await self._send({"Action": "QueueStatus", "Queue": self._queue})
        if not isinstance(reply, list):
            # Asterisk takes logins while still loading its modules; until app_queue is loaded
            # QueueStatus is an "Invalid/unknown command", and taking that for an empty queue
            # would log every call-taker out of the console while Asterisk still has them.
            log.info("AMI resync: the queue is not ready yet (%s)", getattr(reply, "message", ""))
            self._later()
            return
        members = [dict(m) for m in reply]
        resynced = members_to_resync(members, self._queue, datetime.now(UTC))
        events.append(resynced)
        log.info(
            "AMI resync: %d 112 calls ended while away, %d live, %d call-takers in the queue",
            ended,
            calls,
            len(resynced.members),
        )
        for event in events:
            await self._handle(event)
        self._backoff.reset()
        self._failed = 0
        self._resynced()

    def _later(self) -> float:
        """Queue a resync after the next backoff delay (unless the session ends first); the delay."""

        def again() -> None:
            self._timer = None
            if self._connected.is_set():  # else the next login resyncs
                self._events.put_nowait("resync")

        delay = self._backoff.take()
        self.cancel_later()
        self._timer = asyncio.get_running_loop().call_later(delay, again)
        return delay

    def cancel_later(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _channels(self) -> list[Ami]:
        """Asterisk's channel list; empty if it does not come (the events wait behind it)."""
        try:
            reply = await self._send({"Action": "CoreShowChannels"}, timeout=10)
        except TelephonyUnavailable as e:
            log.warning("CoreShowChannels: %s", e)
            return []
        return [dict(m) for m in (reply if isinstance(reply, list) else [])]

    async def _caught_up(self, reconnected: bool) -> int:
        # Unreadable records (a full disk, a bad mount) must not stop the channels' resync.
        if self._catch_up is None:
            return 0
        try:
            return await self._catch_up(reconnected)
        except Exception:
            log.exception("catching up on the call records failed; trying again at the next sweep")
            return 0

    async def sweep(self) -> None:
        """Which channels Asterisk has now, so calls whose end we never heard of get closed; and
        the call records, so the position a restart resumes from stays recent."""
        await self._caught_up(reconnected=False)
        at = datetime.now(UTC)
        alive = channels_alive(await self._channels(), at)
        if alive is None:
            log.warning("channel sweep skipped: Asterisk's channel list came back incomplete")
            return
        # Behind the events that came while the list was asked for: a Hangup Asterisk sent
        # before its list (the channel is not in it) ends its call with its own cause first,
        # rather than the sweep closing it as gone. (A channel that appeared meanwhile is newer
        # than the list, and calls_gone leaves calls that young alone.)
        self._events.put_nowait(alive)

    async def sweep_every(self, interval: float) -> None:
        # Queued, not run here: the sweep takes its turn among the events, so it cannot race them.
        while True:
            await asyncio.sleep(interval)
            if self._connected.is_set():
                self._events.put_nowait("sweep")
