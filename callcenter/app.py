"""The one wiring place: builds every collaborator from the config, starts them, stops them in order."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

from .config import Config, require_secrets
from .ivr.channel import Channel
from .ivr.flow import ivr
from .live.bus import Bus
from .live.events import CallEnded, CallEvent
from .telephony.agi import FastAgiServer
from .telephony.ami import AmiClient
from .telephony.asterisk import LocalAsterisk, instance_paths
from .telephony.cdr import CdrReader
from .tickets.migrations import migrate
from .tickets.store import TicketStore, create_engine
from .web.app import create_app

log = logging.getLogger(__name__)

# Asterisk unique ids look like "1732261234.12", optionally prefixed by the system name.
_UNIQUE_ID = re.compile(r"^[A-Za-z0-9_-]*[0-9]+\.[0-9]+$")


def recording_path(recordings: Path, unique_id: str) -> Path | None:
    """Where the dialplan's MixMonitor wrote this call; None for an id that is not Asterisk's."""
    if not _UNIQUE_ID.match(unique_id):
        return None
    return recordings / f"{unique_id}.wav"


class Centre:
    def __init__(self, config: Config, *, local_asterisk: bool = False):
        require_secrets(config)
        self.config = config
        self.bus = Bus()
        self.engine = create_engine(config.database.url)
        self.store = TicketStore(self.engine, self.bus)
        self.paths = instance_paths(config)
        self.asterisk = LocalAsterisk(config) if local_asterisk else None
        self.cdr = CdrReader(self.paths.cdr_csv)
        self.agi = FastAgiServer(
            {"ivr": self._ivr}, prompts_dir=config.asterisk.seen_by_asterisk(self.paths.prompts)
        )
        self.ami = AmiClient(config, self._on_call_event, resync_extra=self._cdr_since_last)
        self._runner: web.AppRunner | None = None

    async def _ivr(self, channel: Channel) -> None:
        await ivr(channel, self.store)

    async def _cdr_since_last(self) -> list[CallEvent]:
        return await asyncio.to_thread(self.cdr.read_new)

    async def _on_call_event(self, event: CallEvent) -> None:
        await self.store.apply(event)
        if isinstance(event, CallEnded):
            recording = recording_path(self.paths.recordings, event.call.unique_id)
            if recording is not None and recording.exists():
                await self.store.set_recording(event.call.unique_id, str(recording))

    async def health(self) -> dict[str, Any]:
        try:
            await self.store.ping()
            database = "ok"
        except Exception as e:
            database = f"error: {type(e).__name__}"
        return {
            "database": database,
            "ami": "ok" if self.ami.connected.is_set() else "disconnected",
            "agi": "ok" if self.agi.listening else "not listening",
        }

    async def start(self) -> None:
        await migrate(self.engine)
        c = self.config.controller
        # AGI first: Asterisk may send calls as soon as it is up.
        await self.agi.start(c.agi_bind, c.agi_port)
        if self.asterisk is not None:
            await self.asterisk.start()
        await self.ami.start()
        self._runner = web.AppRunner(create_app(self.store, self.health), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, c.http_bind, c.http_port).start()
        log.info("web on http://%s:%d", c.http_bind, c.http_port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.ami.stop()
        if self.asterisk is not None:
            await self.asterisk.stop()
        await self.agi.stop()
        await self.engine.dispose()


async def run(config: Config, *, local_asterisk: bool = False, ready: Any = None) -> None:
    """Run until SIGINT/SIGTERM, then stop everything cleanly."""
    centre = Centre(config, local_asterisk=local_asterisk)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await centre.start()
        if ready is not None:
            ready(centre)
        await stop.wait()
        log.info("stopping")
    finally:
        await centre.stop()
