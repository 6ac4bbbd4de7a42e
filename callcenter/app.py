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

from . import agi_routes
from .calltakers import subscriptions as calltakers_facts
from .calltakers.calls import CallControl
from .calltakers.desk import DeskService
from .calltakers.desk_log import DeskLog
from .calltakers.protocol_cards import ProtocolCards
from .calltakers.protocols import Protocols, load_cards
from .calltakers.ticket_work import TicketWork
from .config import Config, require_routing, require_secrets
from .ivr import prompts
from .ivr import subscriptions as ivr_facts
from .ivr.menu import Menu
from .ivr.waiting import WaitingCallers
from .live.bus import Bus
from .live.fact_table import FactTable
from .routing import outbound
from .routing import subscriptions as routing_facts
from .routing.assignments import Assignments
from .routing.callouts import Callouts
from .routing.deadlines import BoardAlerts, DeadlineEngine
from .routing.dispatch import Dispatcher
from .routing.dispatch_log import DispatchLog
from .speech import subscriptions as speech_facts
from .speech.jobs import Transcriber
from .speech.live import LiveSpeech, Snoops
from .speech.meaning import Gazetteer, Lexicon
from .speech.model import SpeechModel, SpeechUnavailable, load_model
from .speech.transcription_jobs import TranscriptionJobs
from .supervision import callbacks
from .supervision.board import Board
from .supervision.listen import ListenIn
from .supervision.outages import Outages, Part
from .supervision.restriction_records import RestrictionRecords
from .supervision.restrictions import Restrictions
from .telephony.actions import AmiTelephony
from .telephony.agi import AgiTrust, FastAgiServer, asterisk_has_channel
from .telephony.ami import AmiClient
from .telephony.asterisk import LocalAsterisk, instance_paths, prompts_source
from .telephony.audiosocket import AudioSocketServer
from .telephony.cdr import CallRecords, CdrReader
from .telephony.cdr_position import CdrPositions
from .tickets import subscriptions as tickets_facts
from .tickets.calls import Calls
from .tickets.db import Database, create_engine
from .tickets.migrations import migrate
from .tickets.reports import Reports, configured_deadlines
from .tickets.repository import Tickets
from .web.accounts import Accounts
from .web.app import create_app
from .web.live import OUTAGES
from .web.services import Services

log = logging.getLogger(__name__)


# Seconds each part may take to stop (Asterisk itself gets its own 10 s, then is killed).
STOP_TIMEOUT = 12.0
# Seconds between the health checks that feed the outage banner (Asterisk's exit and AMI's
# connection are reported the moment they happen; the database and speech are found here).
HEALTH_CHECK_INTERVAL = 5.0
# Seconds the database may take to answer a health check before it counts as down.
DATABASE_PING_TIMEOUT = 5.0


class Centre:
    def __init__(self, config: Config, *, local_asterisk: bool = False):
        require_secrets(config)
        require_routing(config)
        self.config = config
        self.bus = Bus()
        # Which parts are down: the board's and the consoles' banner, and the log.
        self.outages = Outages(self.bus.publish, config.zone)
        self.engine = create_engine(config.database.url)
        # One repository per aggregate, each in the package that owns it, over one database.
        db = Database(self.engine, self.bus)
        self.db = db
        self.tickets = Tickets(db)
        self.call_log = Calls(db)
        self.assignments = Assignments(db, config, self.bus)
        self.dispatch_log = DispatchLog(db, self.call_log, self.assignments)
        self.transcription_jobs = TranscriptionJobs(db)
        self.restriction_records = RestrictionRecords(db)
        self.accounts = Accounts(db)
        self.protocol_cards = ProtocolCards(db)
        self.paths = instance_paths(config)
        # The centre's Asterisk, not this process's: a controller that dies leaves it taking
        # 112 calls, and the next one adopts it.
        self.asterisk = LocalAsterisk(config, outlive_parent=True) if local_asterisk else None
        # Every telephony fact, from AMI or the call records, goes through this one table.
        self.facts = FactTable()
        cdr_csv = str(self.paths.cdr_csv)
        positions = CdrPositions(db)
        self.call_records = CallRecords(
            CdrReader(self.paths.cdr_csv),
            self.facts.deliver,
            load=partial(positions.load, cdr_csv),
            save=partial(positions.save, cdr_csv),
        )
        self.ami = AmiClient(
            config,
            self.facts.deliver,
            catch_up=self.call_records.catch_up,
            on_connection=self._ami_connection,
        )
        telephony = AmiTelephony(self.ami)
        self.dispatcher = Dispatcher(config, self.call_log, self.dispatch_log, self.bus, telephony)
        # The agency's desk phone, called about its assignment; again when a deadline is missed.
        self.callouts = Callouts(
            config,
            self.assignments,
            self.tickets,
            self.dispatch_log,
            telephony,
            prompts.available(prompts_source(config)),
        )
        self.deadlines = DeadlineEngine(
            config, self.assignments, BoardAlerts(self.bus, self.callouts)
        )
        # Each assignment change, signed, to the agencies that have a webhook.
        self.webhooks = outbound.subscribe(config, self.bus, self.tickets)
        self.lexicon = Lexicon.load(categories=set(config.categories))
        self.gazetteer = Gazetteer.load()
        self.protocols = Protocols(load_cards(config.categories), self.protocol_cards)
        self.desks = DeskService(
            config,
            self.call_log,
            self.tickets,
            DeskLog(db),
            self.bus,
            telephony,
            self.protocols,
        )
        self.calls = CallControl(self.call_log, self.dispatch_log, telephony)
        self.reports = Reports(self.engine, config.zone, configured_deadlines(config))
        self.board = Board(self.call_log, self.reports, self.desks, self.bus)
        self.listen = ListenIn(config, self.call_log, telephony)
        self.callbacks = callbacks.Callbacks(config, self.tickets, telephony)
        self.restrictions = Restrictions(config, self.restriction_records)
        self.waiting = WaitingCallers(
            Menu.from_config(config),
            config.queue.name,
            self.call_log,
            self.restriction_records,
            telephony,
        )
        self.agi = FastAgiServer(
            agi_routes.table(
                agi_routes.RouteDeps(
                    config, self.call_log, self.tickets, self.dispatch_log, self.dispatcher
                )
            ),
            # Only this instance's Asterisk, for a channel it has: any local process can connect.
            AgiTrust(config.asterisk.agi_key, asterisk_has_channel(self.ami)),
        )
        self.speech: SpeechModel | SpeechUnavailable = SpeechUnavailable("", "not loaded yet")
        self.transcriber: Transcriber | None = None
        self.live: LiveSpeech | None = None
        self.audiosocket = AudioSocketServer(
            lambda stream: self.live.listener_for(stream) if self.live else None
        )
        # Waiting callers are heard live once the speech model is loaded (self.live).
        self.snoops = Snoops(telephony, lambda: self.live)
        self._runner: web.AppRunner | None = None
        self._health_checks: asyncio.Task[None] | None = None
        self._subscribe()
        for fact, handlers in self.facts.rows():
            log.debug("fact %s → %s", fact, ", ".join(handlers))

    def _subscribe(self) -> None:
        """The fact table, in the order each fact's handlers run: the ticket first, so a
        screen-pop or the board shows the ticket as the fact left it."""
        tickets_facts.subscribe(self.facts, self.call_log)
        routing_facts.subscribe(self.facts, self.dispatch_log, self.callouts)
        ivr_facts.subscribe(self.facts, self.waiting)
        calltakers_facts.subscribe(self.facts, self.desks, self.calls)
        speech_facts.subscribe(
            self.facts, self.call_log, self.transcription_jobs, self.paths.recording, self.snoops
        )

    async def health(self) -> dict[str, Any]:
        """Each part's state ("ok" or what is wrong), as /healthz shows it."""
        try:
            await asyncio.wait_for(self.db.ping(), DATABASE_PING_TIMEOUT)
            database = "ok"
        except Exception as e:
            database = f"error: {type(e).__name__}"
        parts = {
            "database": database,
            "ami": self.ami.status,
            "agi": "ok" if self.agi.listening else "not listening",
            # Not critical: without it there is no live transcript (healthz stays 200).
            "speech": "ok"
            if isinstance(self.speech, SpeechModel)
            else f"degraded: {self.speech.reason}",
        }
        if self.asterisk is not None:
            down = self.asterisk.down_because
            parts["asterisk"] = "ok" if down is None else f"down: {down}"
        return parts

    def _note_outages(self, parts: dict[str, Any]) -> None:
        self.outages.report(Part.DATABASE, parts["database"])
        self.outages.report(Part.AMI, parts["ami"])
        if "asterisk" in parts:
            self.outages.report(Part.ASTERISK, parts["asterisk"])
        # A centre without a model chose to run DTMF-only: that is no outage. A model that was
        # configured and does not load is one.
        configured = bool(self.config.speech.model_path)
        self.outages.report(Part.SPEECH, parts["speech"] if configured else "ok")

    def _ami_connection(self, up: bool) -> None:
        if up:
            self.outages.up(Part.AMI)
        elif self.ami.not_answering:
            # Connected, but Asterisk is hung: it answered none of the client's Pings.
            self.outages.down(Part.AMI, "AMI not answering")
        else:
            self.outages.down(Part.AMI, "AMI connection lost")

    async def _check_health_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self._note_outages(await self.health())
            except Exception:
                log.exception("the health check failed")

    async def start(self) -> None:
        await migrate(self.engine)
        c = self.config.controller
        # AGI first: Asterisk may send calls as soon as it is up.
        await self.agi.start(c.agi_bind, c.agi_port)
        if self.asterisk is not None:
            await self.asterisk.start()
            # From here on an exit of Asterisk is an outage, and it is started again.
            self.asterisk.keep_running(
                on_exit=lambda how: self.outages.down(Part.ASTERISK, f"Asterisk {how}"),
                on_running=lambda: self.outages.up(Part.ASTERISK),
            )
        await self.ami.start()
        await self._start_speech()
        await self.protocols.load_edits()
        services = Services(
            config=self.config,
            bus=self.bus,
            accounts=self.accounts,
            tickets=self.tickets,
            call_log=self.call_log,
            ticket_work=TicketWork(self.config, self.tickets, self.protocols, self.gazetteer),
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
            callouts=self.callouts,
            assignments=self.assignments,
        )
        app = create_app(services, self.health)
        app[OUTAGES] = self.outages.now
        self._runner = web.AppRunner(app, access_log=None)
        self.board.start()
        self.deadlines.start()
        self.webhooks.start()
        await self._runner.setup()
        # Requests are short; a stop waits this long at most for the last ones to finish.
        await web.TCPSite(self._runner, c.http_bind, c.http_port, shutdown_timeout=5.0).start()
        log.info("web on http://%s:%d", c.http_bind, c.http_port)
        # Not at once: AMI logs in a moment after start, which is no outage (so /healthz, which
        # may be asked sooner, only reports).
        self._health_checks = asyncio.create_task(
            self._check_health_every(HEALTH_CHECK_INTERVAL), name="health-checks"
        )

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
            self.call_log,
            ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="live-speech"),
            f"{self.config.asterisk.agi_host}:{c.audiosocket_port}",
        )
        self.transcriber = Transcriber(
            self.speech,
            self.transcription_jobs,
            self.lexicon,
            self.gazetteer,
            self.config.speech.max_seconds,
        )
        self.transcriber.start()

    async def stop(self) -> None:
        """Stop every part in order; one that hangs is given up on (and named) so the rest
        still stop, and the process ends."""
        if self._health_checks is not None:
            # A part stopping on purpose is no outage.
            self._health_checks.cancel()
        parts: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if self._runner is not None:
            parts.append(("web", self._runner.cleanup))
        if self.transcriber is not None:
            parts.append(("transcriber", self.transcriber.stop))
        parts += [
            ("board", self.board.stop),
            ("agency deadlines", self.deadlines.stop),
            ("agency webhooks", self.webhooks.stop),
            ("agency callouts", self.callouts.stop),
            ("audiosocket", self.audiosocket.stop),
            ("dispatcher", self.dispatcher.stop),
            ("ami", self.ami.stop),
        ]
        if self.asterisk is not None:
            parts.append(("asterisk", self.asterisk.stop))
        parts += [("agi", self.agi.stop), ("database", self.db.dispose)]
        for name, stop in parts:
            try:
                await asyncio.wait_for(stop(), STOP_TIMEOUT)
            except TimeoutError:
                log.error("stopping %s took over %.0f s; going on without it", name, STOP_TIMEOUT)
            except Exception:
                log.exception("stopping %s failed", name)
        if self.live is not None:
            # Its threads are joined at exit: a recognition still queued must not hold the
            # process up once everything else has stopped.
            self.live.executor.shutdown(wait=False, cancel_futures=True)
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
