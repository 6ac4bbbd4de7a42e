"""In-process fan-out of view messages (live/messages.py) to the live views (WebSockets).

Each subscriber has its own bounded queue, so one slow browser cannot stall the others or the
controller: when its queue is full it is dropped and its socket closed (it reconnects and reloads).
"""

from __future__ import annotations

import asyncio
import logging

from .messages import ViewMessage

log = logging.getLogger(__name__)


class Subscription:
    def __init__(self, bus: Bus, size: int):
        self._bus = bus
        # None wakes the reader for something other than a message (see wake()).
        self.queue: asyncio.Queue[ViewMessage | None] = asyncio.Queue(maxsize=size)
        self.dropped = False

    async def next(self) -> ViewMessage | None:
        return await self.queue.get()

    def wake(self) -> None:
        """Wake the reader without a message (its session ended, say); a full queue needs no
        waking: the reader looks at its flags before each message it takes."""
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            pass

    def close(self) -> None:
        self._bus._subscribers.discard(self)


class Bus:
    def __init__(self, queue_size: int = 1000):
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self._queue_size)
        self._subscribers.add(sub)
        return sub

    def publish(self, message: ViewMessage) -> None:
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("live subscriber too slow, dropping it")
                sub.dropped = True
                sub.close()
