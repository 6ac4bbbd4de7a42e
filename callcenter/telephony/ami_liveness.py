"""Whether Asterisk can be asked: `TelephonyUnavailable` when it cannot, and the Ping check that
notices an Asterisk that is connected but answers nothing (stopped, deadlocked).

A hung Asterisk keeps its connection open, so only a Ping notices it; the AMI client (ami.py)
then drops the connection and connects again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..refused import Refused, Why

log = logging.getLogger(__name__)

# The liveness check: a Ping every PING_INTERVAL s while connected. An Asterisk that lets
# MISSED_PINGS in a row go PING_TIMEOUT s each without an answer is hung (stopped, deadlocked):
# under ten seconds from the hang to the outage, where a healthy one answers in milliseconds.
PING_INTERVAL = 3.0
PING_TIMEOUT = 2.0
MISSED_PINGS = 3


class TelephonyUnavailable(Refused):
    """Asterisk cannot be asked now: AMI is not connected, the connection dropped before the
    answer came, or no answer came in time. (`AmiRefused` is Asterisk answering no.)"""

    def __init__(self, message: str):
        super().__init__(message, Why.UNAVAILABLE)


class Liveness:
    """Pings Asterisk every `interval` s while `connected`; after `missed_pings` unanswered in a
    row, Asterisk is hung and `hung` is told (it drops the session)."""

    def __init__(
        self,
        connected: asyncio.Event,
        ping: Callable[[float], Awaitable[object]],
        hung: Callable[[], None],
    ):
        self._connected = connected
        # Sends one Ping and waits for its answer at most the given seconds.
        self._ping = ping
        self._hung = hung
        self.interval, self.timeout = PING_INTERVAL, PING_TIMEOUT
        self.missed_pings = MISSED_PINGS

    async def run(self) -> None:
        """A hung Asterisk (stopped, deadlocked) keeps its connection open and answers nothing:
        only a Ping notices. After `missed_pings` unanswered in a row, AMI is down."""
        missed = 0
        while True:
            if missed == 0:  # after a miss, ask again at once: the timeout was the wait
                await self._connected.wait()
                await asyncio.sleep(self.interval)
            if not self._connected.is_set():
                missed = 0
                continue
            try:
                await self._ping(self.timeout)
                missed = 0
            except TelephonyUnavailable as e:
                if not self._connected.is_set():
                    missed = 0  # the connection dropped: the reconnect takes it from here
                    continue
                missed += 1
                log.warning("AMI: Ping %d of %d unanswered (%s)", missed, self.missed_pings, e)
                if missed >= self.missed_pings:
                    missed = 0
                    self._give_up()
            except Exception:
                # The check must outlive any surprise, or a later hang would go unnoticed.
                log.exception("AMI liveness check failed; checking again")
                missed = 0

    def _give_up(self) -> None:
        log.error(
            "AMI: Asterisk answered none of the last %d Pings (%.1f s each); taking it for hung, "
            "dropping the connection and connecting again",
            self.missed_pings,
            self.timeout,
        )
        self._hung()
