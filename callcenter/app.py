"""The one wiring place: builds every collaborator from the config, starts them, stops them in order."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from .config import Config, require_routing, require_secrets
from .ivr.channel import Channel
from .ivr.flow import Menu, ivr
from .live.bus import Bus
from .live.events import CallEnded, CallEvent
from .routing import overflow
from .routing.dispatch import Dispatcher
from .speech.jobs import FIRST_DELAY, Transcriber
from .speech.live import LiveSpeech
from .speech.meaning import Gazetteer, Lexicon
from .speech.model import SpeechModel, SpeechUnavailable, load_model
from .telephony.agi import FastAgiServer, Media
from .telephony.ami import AmiClient
from .telephony.asterisk import LocalAsterisk, instance_paths
from .telephony.audiosocket import AudioSocketServer
from .telephony.cdr import CdrReader
from .telephony.conference import AmiTelephony
from .tickets.migrations import migrate
from .tickets.store import TicketStore, create_engine
from .web.app import create_app

log = logging.getLogger(__name__)


class Centre:
    def __init__(self, config: Config, *, local_asterisk: bool = False):
        require_secrets(config)
        require_routing(config)
        self.config = config
        self.bus = Bus()
        self.engine = create_engine(config.database.url)
        self.store = TicketStore(self.engine, self.bus)
        self.paths = instance_paths(config)
        self.asterisk = LocalAsterisk(config) if local_asterisk else None
        self.cdr = CdrReader(self.paths.cdr_csv)
        self.agi = FastAgiServer(
            {
                "ivr": self._ivr,
                "overflow": self._route(overflow.overflow),
                "ring": self._route(overflow.ring),
                "answered": self._route(overflow.answered),
                "dialled": self._route(overflow.dialled),
                "unanswered": self._route(overflow.unanswered),
            },
            Media(self.paths, config.asterisk.seen_by_asterisk),
        )
        self.ami = AmiClient(config, self._on_call_event, resync_extra=self._cdr_since_last)
        self.dispatcher = Dispatcher(config, self.store, AmiTelephony(self.ami))
        # Data files are checked now: a bad edit stops start-up with the file and key named.
        self.lexicon = Lexicon.load(categories=set(config.categories))
        self.gazetteer = Gazetteer.load()
        self.menu = Menu.from_config(config, self.lexicon)
        self.speech: SpeechModel | SpeechUnavailable = SpeechUnavailable("", "not loaded yet")
        self.transcriber: Transcriber | None = None
        self.live: LiveSpeech | None = None
        self.audiosocket = AudioSocketServer(
            lambda stream: self.live.listener_for(stream) if self.live else None
        )
        self._runner: web.AppRunner | None = None

    async def _ivr(self, channel: Channel) -> None:
        await ivr(channel, self.store, self.menu)

    def _route(
        self, route: Callable[[Channel, TicketStore, Config], Awaitable[None]]
    ) -> Callable[[Channel], Awaitable[None]]:
        async def run(channel: Channel) -> None:
            await route(channel, self.store, self.config)

        return run

    async def _cdr_since_last(self) -> list[CallEvent]:
        return await asyncio.to_thread(self.cdr.read_new)

    async def _on_call_event(self, event: CallEvent) -> None:
        await self.store.apply(event)
        if isinstance(event, CallEnded):
            recording = self.paths.recording(event.call.unique_id)
            if recording is not None and recording.exists():
                await self.store.set_recording(event.call.unique_id, str(recording))
                # Queued even without a model: the job waits, pending, until there is one.
                await self.store.queue_transcription(
                    event.call.unique_id, str(recording), delay=FIRST_DELAY
                )

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
            # Not critical: without it the IVR is DTMF-only (healthz stays 200).
            "speech": "ok"
            if isinstance(self.speech, SpeechModel)
            else f"degraded: {self.speech.reason}",
        }

    async def start(self) -> None:
        await migrate(self.engine)
        c = self.config.controller
        # AGI first: Asterisk may send calls as soon as it is up.
        await self.agi.start(c.agi_bind, c.agi_port)
        if self.asterisk is not None:
            await self.asterisk.start()
        await self.ami.start()
        await self._start_speech()
        self._runner = web.AppRunner(
            create_app(self.store, self.health, self.config, self.dispatcher), access_log=None
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, c.http_bind, c.http_port).start()
        log.info("web on http://%s:%d", c.http_bind, c.http_port)

    async def _start_speech(self) -> None:
        # Loading takes seconds and ~0.5 GB: once, in a thread, shared by every call.
        self.speech = await asyncio.to_thread(load_model, self.config.speech.model_path)
        if isinstance(self.speech, SpeechUnavailable):
            log.error("%s; the IVR runs DTMF-only", self.speech)
            return
        log.info("speech model %s loaded (%d Hz)", self.speech.path, self.speech.sample_rate)
        c = self.config.controller
        await self.audiosocket.start(c.agi_bind, c.audiosocket_port)
        # Live recognition and transcription share the model; each has its own threads so a
        # backlog of recordings never delays a caller's live description.
        self.live = LiveSpeech(
            self.speech,
            self.store,
            ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="live-speech"),
            f"{self.config.asterisk.agi_host}:{c.audiosocket_port}",
        )
        self.agi.describer = self.live
        self.transcriber = Transcriber(
            self.speech,
            self.store,
            self.lexicon,
            self.gazetteer,
            self.config.speech.max_seconds,
        )
        self.transcriber.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self.transcriber is not None:
            await self.transcriber.stop()
        await self.audiosocket.stop()
        await self.dispatcher.stop()
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
