"""The TCP plumbing FastAGI and AudioSocket share: one task per connection, kept and cancelled."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


class ConnectionServer:
    """Serves each connection in its own task; subclasses say how (`_serve`)."""

    name = "TCP"
    line_limit = 2**16

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.listening = False

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port, limit=self.line_limit)
        self.listening = True
        log.info("%s listening on %s:%d", self.name, host, port)

    async def stop(self) -> None:
        self.listening = False
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Keep a reference: a dropped task's exception would vanish (the panoramisk pitfall).
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError
