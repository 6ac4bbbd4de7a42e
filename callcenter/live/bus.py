"""In-process fan-out of domain events to live views (WebSockets).

Each subscriber has its own bounded queue, so one slow browser cannot stall the others or the
controller: when its queue is full it is dropped and its socket closed (it reconnects and reloads).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


class Subscription:
    def __init__(self, bus: Bus, size: int):
        self._bus = bus
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=size)
        self.dropped = False

    async def next(self) -> Any:
        return await self.queue.get()

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

    def publish(self, event: Any) -> None:
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("live subscriber too slow, dropping it")
                sub.dropped = True
                sub.close()
