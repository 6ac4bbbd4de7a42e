"""The one wiring place: builds every collaborator from the config, starts them, stops them in order."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from aiohttp import web

from .calltakers.calls import CallControl
from .calltakers.desk import DeskService
from .calltakers.protocols import Protocols, load_cards, make_card
from .config import Config, require_routing, require_secrets
from .ivr.channel import Channel
from .ivr.flow import Menu, ivr
from .live.bus import Bus
from .live.events import (
    CHANNEL_GONE,
    CallAnswered,
    CallCompleted,
    CallEnded,
    CallEvent,
    CallNotPickedUp,
    CallOffered,
    ChannelsAlive,
    MemberChanged,
    MembersResynced,
)
from .routing import overflow
from .routing.dispatch import Dispatcher
from .speech.jobs import FIRST_DELAY, Transcriber
from .speech.live import LiveSpeech
from .speech.meaning import Gazetteer, Lexicon
from .speech.model import SpeechModel, SpeechUnavailable, load_model
from .supervision import callbacks
from .supervision.board import Board
from .supervision.listen import ListenIn
from .supervision.restrictions import Restrictions
from .telephony.actions import AmiTelephony
from .telephony.agi import FastAgiServer, Media
from .telephony.ami import AmiClient
from .telephony.asterisk import LocalAsterisk, instance_paths
from .telephony.audiosocket import AudioSocketServer
from .telephony.cdr import CallRecords, CdrReader
from .tickets.migrations import migrate
from .tickets.reports import Reports
from .tickets.store import TicketStore, create_engine
from .web.app import create_app
from .web.services import Services

log = logging.getLogger(__name__)


# Seconds each part may take to stop (Asterisk itself gets its own 10 s, then is killed).
STOP_TIMEOUT = 12.0

# Events about call-takers' desks (the store has no business with most of them).
_DESK_EVENTS = (
    MemberChanged,
    MembersResynced,
    CallOffered,
    CallAnswered,
    CallNotPickedUp,
    CallCompleted,
    CallEnded,
)


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
        cdr_csv = str(self.paths.cdr_csv)
        self.call_records = CallRecords(
            CdrReader(self.paths.cdr_csv),
            self._on_call_event,
            load=partial(self.store.cdr_progress, cdr_csv),
            save=partial(self.store.save_cdr_progress, cdr_csv),
        )
        self.agi = FastAgiServer(
            {
                "ivr": self._ivr,
                "overflow": self._route(overflow.overflow),
                "ring": self._route(overflow.ring),
                "answered": self._route(overflow.answered),
                "dialled": self._route(overflow.dialled),
                "unanswered": self._route(overflow.unanswered),
                "callback": self._route(callbacks.dialled),
            },
            Media(self.paths, config.asterisk.seen_by_asterisk),
        )
        self.ami = AmiClient(config, self._on_call_event, catch_up=self.call_records.catch_up)
        telephony = AmiTelephony(self.ami)
        self.dispatcher = Dispatcher(config, self.store, telephony)
        # Data files are checked now: a bad edit stops start-up with the file and key named.
        self.lexicon = Lexicon.load(categories=set(config.categories))
        self.gazetteer = Gazetteer.load()
        self.protocols = Protocols(load_cards(config.categories))
        self.desks = DeskService(config, self.store, self.bus, telephony, self.protocols)
        self.calls = CallControl(self.store, telephony)
        self.reports = Reports(self.engine, config.zone)
        self.board = Board(self.store, self.reports, self.desks, self.bus)
        self.listen = ListenIn(config, self.store, telephony)
        self.callbacks = callbacks.Callbacks(config, self.store, telephony)
        self.restrictions = Restrictions(config, self.store)
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

    async def _on_call_event(self, event: CallEvent) -> None:
        if isinstance(event, ChannelsAlive):
            # Closed as if hung up, so the desk, the recording and the callback list all follow.
            for call in await self.store.calls_gone(event):
                log.warning("call %s has no channel in Asterisk any more: closed", call.unique_id)
                await self._on_call_event(CallEnded(call, cause=CHANNEL_GONE, at=event.at))
            return
        # The ticket first, then the desk: a screen-pop shows the ticket as the event left it.
        await self.store.apply(event)
        if isinstance(event, _DESK_EVENTS):
            await self.desks.handle(event)
        if isinstance(event, CallEnded):
            await self.calls.call_ended(event)
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
        # Supervisors' versions of the protocol cards win over the shipped ones.
        self.protocols.use_edits(
            make_card(c.category, c.ask, c.tell, c.updated_by)
            for c in await self.store.protocol_cards()
        )
        services = Services(
            config=self.config,
            store=self.store,
            bus=self.bus,
            dispatcher=self.dispatcher,
            desks=self.desks,
            calls=self.calls,
            protocols=self.protocols,
            gazetteer=self.gazetteer,
            reports=self.reports,
            board=self.board,
            listen=self.listen,
            callbacks=self.callbacks,
            restrictions=self.restrictions,
        )
        self._runner = web.AppRunner(create_app(services, self.health), access_log=None)
        self.board.start()
        await self._runner.setup()
        # Requests are short; a stop waits this long at most for the last ones to finish.
        await web.TCPSite(self._runner, c.http_bind, c.http_port, shutdown_timeout=5.0).start()
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
        """Stop every part in order; one that hangs is given up on (and named) so the rest
        still stop, and the process ends."""
        parts: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if self._runner is not None:
            parts.append(("web", self._runner.cleanup))
        if self.transcriber is not None:
            parts.append(("transcriber", self.transcriber.stop))
        parts += [
            ("board", self.board.stop),
            ("audiosocket", self.audiosocket.stop),
            ("dispatcher", self.dispatcher.stop),
            ("ami", self.ami.stop),
        ]
        if self.asterisk is not None:
            parts.append(("asterisk", self.asterisk.stop))
        parts += [("agi", self.agi.stop), ("database", self.engine.dispose)]
        for name, stop in parts:
            try:
                await asyncio.wait_for(stop(), STOP_TIMEOUT)
            except TimeoutError:
                log.error("stopping %s took over %.0f s; going on without it", name, STOP_TIMEOUT)
            except Exception:
                log.exception("stopping %s failed", name)
        log.info("stopped")


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
