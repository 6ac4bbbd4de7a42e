"""All database access. Telephony events come in as domain events; tickets and their history go out."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, and_, cast, delete, event, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction, selectinload
from sqlalchemy.orm.util import identity_key

from ..live.bus import Bus
from ..live.events import (
    DISPATCH_LEG_PREFIX,
    AgencyLegEnded,
    CallAbandoned,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallEvent,
    CallQueued,
    CallRef,
    CallSeen,
    ChannelsAlive,
    DispatchAlert,
    TicketChanged,
)
from . import rules
from .caller_id import sanitise
from .edits import TicketEdit
from .models import (
    Call,
    CdrProgress,
    DeskEvent,
    Dispatch,
    ProtocolCard,
    Restriction,
    RestrictionEvent,
    Session,
    Ticket,
    TicketEvent,
    Transcription,
    User,
    now,
)
from .views import event_json, ticket_summary

log = logging.getLogger(__name__)


def create_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        # WAL lets the web API read while the controller writes; busy_timeout rides out the
        # short write locks of concurrent calls instead of failing a ticket write.
        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    return engine


class _PublishingSession(OrmSession):
    """Publishes every ticket event on the live bus once its transaction commits (never before: a
    rolled-back change did not happen), in the order written. One mechanism for every write path,
    so the live views cannot miss an event a store method forgot to announce."""


@event.listens_for(_PublishingSession, "after_flush")
def _collect_events(session: OrmSession, _flush: UOWTransaction) -> None:
    pending = session.info.setdefault("events", [])
    pending.extend(obj for obj in session.new if isinstance(obj, TicketEvent))


@event.listens_for(_PublishingSession, "after_commit")
def _publish_committed(session: OrmSession) -> None:
    events: list[TicketEvent] = session.info.pop("events", [])
    changes: list[tuple[Ticket, str]] = session.info.pop("changes", [])
    bus: Bus | None = session.info.get("bus")
    if bus is None:
        return
    for ev in sorted(events, key=lambda e: e.id):
        ticket = ev.__dict__.get("ticket") or session.identity_map.get(
            identity_key(Ticket, ev.ticket_id)
        )
        if ticket is None:
            # A store method wrote an event without its ticket in the session: still announce it.
            log.error("ticket %d: event %s published without the ticket", ev.ticket_id, ev.kind)
            bus.publish(TicketChanged(ev.ticket_id, ev.kind, "", event=event_json(ev)))
            continue
        bus.publish(
            TicketChanged(
                ticket.id, ev.kind, ticket.status, ticket_summary(ticket), event_json(ev), at=ev.at
            )
        )
    for ticket, kind in changes:
        bus.publish(TicketChanged(ticket.id, kind, ticket.status, ticket_summary(ticket)))


@event.listens_for(_PublishingSession, "after_rollback")
def _forget_events(session: OrmSession) -> None:
    session.info.pop("events", None)
    session.info.pop("changes", None)


def _changed(db: AsyncSession, ticket: Ticket, kind: str) -> None:
    """Announce, once committed, a change that writes no ticket event (the live transcript)."""
    db.sync_session.info.setdefault("changes", []).append((ticket, kind))


def _record_on_call(call_row: Call, kind: str, at: datetime, data: dict[str, Any]) -> bool:
    """Keep what the event says about the call leg itself; False when it says nothing new.

    These facts hold whatever the ticket's status does (a dispatched ticket's call still ends).
    """
    if kind == "ended":
        if call_row.ended_at is not None:
            return False  # the same hangup seen twice (AMI and CDR)
        call_row.ended_at = at
        call_row.hangup_cause = data.get("cause") or None
        return True
    if kind == "answered":
        call_row.answered_at = call_row.answered_at or at
        # The latest answer counts: a caller back in the queue gets a new call-taker.
        call_row.calltaker = data["calltaker"][:64] or None
        call_row.calltaker_channel = data["calltaker_channel"][:256] or None
        return True
    return False


# Outcomes that are also flags on the ticket.
OUTCOME_FLAGS = ("informasi", "prank")
# How old an open call must be before a channel list without it closes it (see calls_gone).
CHANNEL_GRACE = timedelta(seconds=10)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TicketStore:
    def __init__(self, engine: AsyncEngine, bus: Bus | None = None):
        self.engine = engine
        self._sessions = async_sessionmaker(
            engine,
            expire_on_commit=False,
            sync_session_class=_PublishingSession,
            info={"bus": bus},
        )
        self._bus = bus

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[AsyncSession]:
        """A session for a read that takes several statements (a ticket, then its events, calls,
        dispatches and transcriptions): every statement sees the same committed state. Without
        it, a commit landing between two of them showed a transcription done on a ticket whose
        transcript was still empty. Read-only: it never commits."""
        async with self._sessions() as db:
            if self.engine.dialect.name == "sqlite":
                # pysqlite starts no transaction for a SELECT, so each one is its own snapshot;
                # an explicit BEGIN makes them share one (WAL: writers are not blocked by it).
                await (await db.connection()).exec_driver_sql("BEGIN")
            else:
                # PostgreSQL's READ COMMITTED takes a new snapshot per statement.
                await db.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield db

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    # ---- calls and tickets --------------------------------------------------------------

    async def open_ticket(
        self, call: CallRef, *, source: str, at: datetime | None = None
    ) -> Ticket:
        """The ticket of this call, opening it if this is the first we hear of the call.

        Idempotent on the call's unique id, so the IVR, an AMI event and a CDR line may race.
        """
        async with self._sessions() as db:
            ticket = await self._ticket_of_call(db, call.unique_id)
            if ticket is not None:
                await self._learn_caller_id(db, ticket, call, source)
                return ticket
            caller = sanitise(call.caller_number, call.caller_name)
            arrived = at or now()
            ticket = Ticket(
                caller_number=caller.number,
                caller_name=caller.name,
                status=rules.Status.NEW,
                source=source,
                arrived_at=arrived,
                flags=[],
            )
            db.add(ticket)
            db.add(
                Call(
                    unique_id=call.unique_id[:64],
                    linked_id=call.linked_id[:64] or None,
                    channel=call.channel[:256] or None,
                    ticket=ticket,
                    caller_number=caller.number,
                    started_at=arrived,
                )
            )
            db.add(
                TicketEvent(
                    ticket=ticket,
                    at=arrived,
                    actor=source,
                    kind="opened",
                    data={"unique_id": call.unique_id, "channel": call.channel},
                )
            )
            if caller.raw is not None:
                db.add(
                    TicketEvent(
                        ticket=ticket,
                        at=arrived,
                        actor="system",
                        kind="caller-id-cleaned",
                        data={"received": caller.raw},
                    )
                )
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()
                existing = await self._ticket_of_call(db, call.unique_id)
                if existing is None:
                    raise
                return existing
            log.info("call %s: ticket %d opened (%s)", call.unique_id, ticket.id, source)
            return ticket

    async def ivr_done(
        self,
        unique_id: str,
        category: str | None,
        priority: int,
        flags: list[str],
        data: dict[str, Any],
    ) -> None:
        """What the IVR learnt. A call-taker's later choice of category is not overwritten."""
        async with self._sessions() as db:
            ticket = await self._ticket_of_call(db, unique_id)
            if ticket is None:
                return
            ticket.ivr_done_at = ticket.ivr_done_at or now()
            if ticket.category is None:
                ticket.category = category
            ticket.priority = max(ticket.priority, priority)
            ticket.flags = [*ticket.flags, *(f for f in flags if f not in ticket.flags)]
            db.add(TicketEvent(ticket=ticket, actor="ivr", kind="ivr-done", data=data))
            await db.commit()

    async def call(self, unique_id: str) -> Call | None:
        """A caller's call with its ticket."""
        async with self._snapshot() as db:
            return await db.scalar(
                select(Call)
                .where(Call.unique_id == unique_id[:64])
                .options(selectinload(Call.ticket))
            )

    async def set_conference(self, unique_id: str, conference: str | None) -> None:
        async with self._sessions() as db:
            call_row = await db.scalar(select(Call).where(Call.unique_id == unique_id))
            if call_row is not None:
                call_row.conference = conference
                await db.commit()

    async def set_held(self, unique_id: str, held: bool, actor: str) -> None:
        """The caller went on hold or came back (a `hold`/`resumed` event on the ticket)."""
        async with self._sessions() as db:
            call_row = await db.scalar(select(Call).where(Call.unique_id == unique_id[:64]))
            if call_row is None or call_row.held == held:
                return
            call_row.held = held
            ticket = await db.get_one(Ticket, call_row.ticket_id)
            kind = "hold" if held else "resumed"
            db.add(
                TicketEvent(ticket=ticket, actor=actor, kind=kind, data={"unique_id": unique_id})
            )
            await db.commit()

    async def agency_on_call(self, unique_id: str) -> bool:
        """Whether an agency answered into this call and has not left it."""
        async with self._sessions() as db:
            found = await db.scalar(
                select(Dispatch.id).where(
                    Dispatch.unique_id == unique_id[:64],
                    Dispatch.answered_at.is_not(None),
                    Dispatch.ended_at.is_(None),
                )
            )
            return found is not None

    async def note(self, unique_id: str, actor: str, kind: str, data: dict[str, Any]) -> int | None:
        """Add an event to the call's ticket (opening none); returns the ticket id."""
        async with self._sessions() as db:
            ticket = await self._ticket_of_call(db, unique_id)
            if ticket is None:
                return None
            db.add(TicketEvent(ticket=ticket, actor=actor, kind=kind, data=data))
            if kind == "overflow" and "overflow" not in ticket.flags:
                ticket.flags = [*ticket.flags, "overflow"]
            await db.commit()
            return ticket.id

    # ---- dispatches to agencies -----------------------------------------------------------

    async def start_dispatch(
        self, call: CallRef, agency: str, target: str, mode: str, actor: str
    ) -> Dispatch:
        """An agency target starts ringing for this call (opening the ticket if need be)."""
        opened = await self.open_ticket(call, source="reconciled")
        async with self._sessions() as db:
            ticket = await db.get_one(Ticket, opened.id)
            dispatch = Dispatch(
                ticket_id=ticket.id,
                unique_id=call.unique_id[:64],
                agency=agency,
                target=target,
                mode=mode,
                requested_by=actor,
                outcome="ringing",
            )
            db.add(dispatch)
            await db.flush()
            # Asterisk gives the agency's channel this id, so its hangup finds the dispatch.
            dispatch.leg_id = f"{DISPATCH_LEG_PREFIX}{dispatch.id}"
            db.add(
                TicketEvent(
                    ticket=ticket,
                    actor=actor,
                    kind="dispatch-ringing",
                    data={
                        "agency": agency,
                        "target": target,
                        "mode": mode,
                        "dispatch": dispatch.id,
                    },
                )
            )
            await db.commit()
            return dispatch

    async def dispatch_outcome(
        self,
        dispatch_id: int,
        outcome: str,
        reason: str = "",
        *,
        answered_at: datetime | None = None,
        ended_at: datetime | None = None,
    ) -> None:
        """How the ringing ended: "answered" puts the ticket with the agency; others just record."""
        async with self._sessions() as db:
            dispatch = await db.get_one(Dispatch, dispatch_id)
            ticket = await db.get_one(Ticket, dispatch.ticket_id)
            dispatch.outcome = outcome
            dispatch.reason = reason[:64] or None
            if outcome in ("answered", "ended"):
                dispatch.answered_at = dispatch.answered_at or answered_at or now()
                ticket.agency = dispatch.agency
                ticket.dispatched_at = ticket.dispatched_at or dispatch.answered_at
                new_status = rules.after_dispatched(rules.Status(ticket.status))
                if new_status is not None:
                    ticket.status = new_status
            if ended_at is not None:
                dispatch.ended_at = ended_at
                dispatch.outcome = "ended" if dispatch.answered_at else outcome
            db.add(
                TicketEvent(
                    ticket=ticket,
                    actor="asterisk",
                    kind=f"dispatch-{outcome}",
                    data={
                        "agency": dispatch.agency,
                        "target": dispatch.target,
                        "dispatch": dispatch.id,
                        "reason": reason,
                        "duration": dispatch.duration,
                    },
                )
            )
            await db.commit()

    async def dispatch_failed(self, call: CallRef, agency: str, actor: str) -> None:
        """No target of the agency answered: alert whoever has the call."""
        opened = await self.open_ticket(call, source="reconciled")
        async with self._sessions() as db:
            ticket = await db.get_one(Ticket, opened.id)
            call_row = await db.scalar(select(Call).where(Call.unique_id == call.unique_id[:64]))
            db.add(
                TicketEvent(
                    ticket=ticket,
                    actor=actor,
                    kind="dispatch-failed",
                    data={"agency": agency},
                )
            )
            await db.commit()
        if self._bus is not None:
            self._bus.publish(
                DispatchAlert(
                    ticket_id=ticket.id,
                    unique_id=call.unique_id,
                    agency=agency,
                    calltaker=(call_row.calltaker or "") if call_row else "",
                )
            )

    async def _agency_leg_ended(self, event: AgencyLegEnded) -> None:
        async with self._sessions() as db:
            dispatch = await db.scalar(select(Dispatch).where(Dispatch.leg_id == event.leg_id))
            if dispatch is None or dispatch.ended_at is not None or dispatch.answered_at is None:
                return  # not ours, already recorded, or it never answered (recorded as such)
            dispatch_id = dispatch.id
        await self.dispatch_outcome(dispatch_id, "ended", event.cause, ended_at=event.at)

    async def dispatches(self, ticket_id: int) -> list[Dispatch]:
        async with self._sessions() as db:
            return list(
                await db.scalars(
                    select(Dispatch).where(Dispatch.ticket_id == ticket_id).order_by(Dispatch.id)
                )
            )

    async def apply(self, call_event: CallEvent) -> None:
        """Record what Asterisk told us about a call, opening its ticket if the IVR could not."""
        match call_event:
            case CallQueued(call=call, at=at):
                await self._step(
                    call,
                    at,
                    "queued",
                    rules.after_queued,
                    {"queue": call_event.queue, "position": call_event.position},
                    stamp="queued_at",
                )
            case CallAnswered(call=call, at=at):
                await self._step(
                    call,
                    at,
                    "answered",
                    rules.after_answered,
                    {
                        "queue": call_event.queue,
                        "calltaker": call_event.calltaker,
                        "calltaker_channel": call_event.calltaker_channel,
                    },
                    stamp="answered_at",
                )
            case CallAbandoned(call=call, at=at):
                await self._step(
                    call, at, "abandoned", rules.after_hangup, {"queue": call_event.queue}
                )
            case CallEnded(call=call, at=at):
                await self._step(
                    call,
                    at,
                    "ended",
                    rules.after_hangup,
                    {"cause": call_event.cause},
                    stamp="ended_at",
                    started_at=call_event.started_at,
                )
            case AgencyLegEnded():
                await self._agency_leg_ended(call_event)
            case CallArrived(call=call, at=at):
                # Opened off the caller's path: the welcome plays while the database writes.
                await self.open_ticket(call, source="asterisk", at=at)
            case CallSeen(call=call, at=at):
                await self.open_ticket(call, source="reconciled", at=call_event.started_at)
                if call_event.in_queue:
                    await self._step(
                        call, at, "queued", rules.after_queued, {"resync": True}, stamp="queued_at"
                    )

    async def _step(
        self,
        call: CallRef,
        at: datetime,
        kind: str,
        rule: Any,
        data: dict[str, Any],
        *,
        stamp: str | None = None,
        started_at: datetime | None = None,
    ) -> None:
        ticket = await self.open_ticket(call, source="reconciled", at=started_at)
        async with self._sessions() as db:
            ticket = await db.get_one(Ticket, ticket.id)
            call_row = (
                await db.scalars(select(Call).where(Call.unique_id == call.unique_id))
            ).one()
            new_fact = _record_on_call(call_row, kind, at, data)
            new_status = rule(rules.Status(ticket.status))
            if new_status is None and not new_fact:
                return  # stale or repeated event: nothing moves backwards
            if new_status is not None:
                ticket.status = new_status
            if stamp and getattr(ticket, stamp) is None:
                setattr(ticket, stamp, at)
            db.add(
                TicketEvent(
                    ticket=ticket,
                    at=at,
                    actor="asterisk",
                    kind=kind,
                    data={**data, "unique_id": call.unique_id},
                )
            )
            await db.commit()

    async def set_recording(self, unique_id: str, path: str) -> None:
        async with self._sessions() as db:
            call_row = await db.scalar(select(Call).where(Call.unique_id == unique_id))
            if call_row is None:
                return
            call_row.recording_path = path
            ticket = await db.get_one(Ticket, call_row.ticket_id)
            ticket.recording_path = ticket.recording_path or path
            await db.commit()

    async def heard_so_far(self, unique_id: str) -> str:
        """What live recognition has understood of this call so far ("" if nothing)."""
        async with self._sessions() as db:
            ticket = await self._ticket_of_call(db, unique_id)
            return ticket.transcript_partial if ticket is not None else ""

    async def speech_heard(self, unique_id: str, so_far: str, final: str | None) -> None:
        """What live recognition understood so far (the call-taker sees it when the call pops
        up); each final phrase is also a ticket event."""
        async with self._sessions() as db:
            ticket = await self._ticket_of_call(db, unique_id)
            if ticket is None:
                return
            ticket.transcript_partial = so_far[:20000]
            if final:
                db.add(
                    TicketEvent(
                        ticket=ticket,
                        at=now(),
                        actor="speech",
                        kind="speech-heard",
                        data={"text": final[:2000], "unique_id": unique_id},
                    )
                )
            else:
                _changed(db, ticket, "speech")
            await db.commit()

    # ---- transcriptions after the call -----------------------------------------------------

    async def queue_transcription(
        self, unique_id: str, path: str, delay: float = 0.0
    ) -> int | None:
        """Note that this call's recording is to be transcribed (once per call); the job's id."""
        async with self._sessions() as db:
            call_row = await db.scalar(select(Call).where(Call.unique_id == unique_id[:64]))
            if call_row is None:
                return None
            job = Transcription(
                ticket_id=call_row.ticket_id,
                unique_id=unique_id[:64],
                recording_path=path,
                status="pending",
                attempts=0,
                next_try_at=now() + timedelta(seconds=delay),
                text="",
                words=[],
            )
            db.add(job)
            try:
                await db.commit()
            except IntegrityError:  # already queued (the same hangup seen twice)
                await db.rollback()
                existing = await db.scalar(
                    select(Transcription).where(Transcription.unique_id == unique_id[:64])
                )
                return existing.id if existing else None
            return job.id

    async def due_transcriptions(self, limit: int) -> list[Transcription]:
        async with self._sessions() as db:
            rows = await db.scalars(
                select(Transcription)
                .where(Transcription.status == "pending", Transcription.next_try_at <= now())
                .order_by(Transcription.id)
                .limit(limit)
            )
            return list(rows)

    async def transcription_done(
        self,
        job_id: int,
        text: str,
        words: list[dict[str, Any]],
        seconds: float,
        suggestion: dict[str, Any],
    ) -> None:
        """Store the transcript; where the IVR left the category or place open, the words fill
        it in (with their evidence, as ticket events)."""
        async with self._sessions() as db:
            job = await db.get_one(Transcription, job_id)
            ticket = await db.get_one(Ticket, job.ticket_id)
            at = now()
            job.status, job.attempts, job.finished_at = "done", job.attempts + 1, at
            job.text, job.words, job.seconds, job.error = text, words, seconds, None
            ticket.transcript = text
            events: list[tuple[str, dict[str, Any]]] = [
                ("transcribed", {"transcription": job.id, "seconds": round(seconds, 1)})
            ]
            category = suggestion.get("category")
            if ticket.category is None and category:
                ticket.category = category
                events.append(
                    (
                        "category-from-words",
                        {"category": category, "evidence": suggestion["evidence"]},
                    )
                )
            if ticket.kecamatan is None and suggestion.get("kecamatan"):
                ticket.kecamatan = suggestion["kecamatan"]
                ticket.kelurahan = ticket.kelurahan or suggestion.get("kelurahan")
                events.append(
                    (
                        "place-from-words",
                        {k: suggestion.get(k) for k in ("kecamatan", "kelurahan", "heard")},
                    )
                )
            for kind, data in events:
                db.add(TicketEvent(ticket=ticket, at=at, actor="speech", kind=kind, data=data))
            await db.commit()

    async def transcription_failed(
        self, job_id: int, error: str, retry_at: datetime | None
    ) -> None:
        """Record the failure on the job and the ticket; retry later, or give up (status failed)."""
        async with self._sessions() as db:
            job = await db.get_one(Transcription, job_id)
            ticket = await db.get_one(Ticket, job.ticket_id)
            job.attempts += 1
            job.error = error[:2000]
            if retry_at is None:
                job.status, job.finished_at = "failed", now()
            else:
                job.next_try_at = retry_at
            db.add(
                TicketEvent(
                    ticket=ticket,
                    at=now(),
                    actor="speech",
                    kind="transcription-failed",
                    data={
                        "transcription": job.id,
                        "attempt": job.attempts,
                        "error": error[:500],
                        "retry_at": retry_at.isoformat() if retry_at else None,
                    },
                )
            )
            await db.commit()

    # ---- what call-takers do with a ticket ----------------------------------------------------

    async def update_ticket(
        self, ticket_id: int, edit: TicketEdit, actor: str, item_texts: dict[str, str]
    ) -> Ticket | None:
        """Apply a checked edit; one `edited` event lists what changed, from what, to what (none
        when nothing did). `item_texts`: protocol item id → its text, kept with each tick."""
        async with self._sessions() as db:
            ticket = await db.get(Ticket, ticket_id)
            if ticket is None:
                return None
            changes: dict[str, dict[str, Any]] = {}

            def change(name: str, old: Any, new: Any) -> None:
                if old != new:
                    changes[name] = {"from": old, "to": new}
                    setattr(ticket, name, new)

            for name, value in edit.text.items():
                change(name, getattr(ticket, name), value)
            if edit.has_category:
                change("category", ticket.category, edit.category)
            for name, value in edit.place.items():
                change(name, getattr(ticket, name), value or None)
            if edit.flags:
                flags = [f for f in ticket.flags if edit.flags.get(f, True)]
                flags += [f for f, on in edit.flags.items() if on and f not in flags]
                change("flags", list(ticket.flags), flags)
            if edit.checklist:
                ticked = dict(ticket.checklist)
                for item, on in edit.checklist.items():
                    if on:
                        ticked.setdefault(item, item_texts.get(item, item))
                    else:
                        ticked.pop(item, None)
                change("checklist", dict(ticket.checklist), ticked)
            if changes:
                db.add(TicketEvent(ticket=ticket, actor=actor, kind="edited", data=changes))
                await db.commit()
            return ticket

    async def close_ticket(self, ticket_id: int, outcome: str, actor: str) -> Ticket | None:
        """Classify the call and close its ticket; a closed ticket keeps its first outcome
        (raises ValueError) — a correction is an edit by a supervisor, not a second close."""
        async with self._sessions() as db:
            ticket = await db.get(Ticket, ticket_id)
            if ticket is None:
                return None
            if ticket.closed_at is not None:
                raise ValueError(f"already closed as {ticket.outcome} by {ticket.closed_by}")
            ticket.outcome, ticket.closed_at, ticket.closed_by = outcome, now(), actor
            # A non-emergency or prank call is flagged as such whoever found out: the IVR's menu
            # or the call-taker.
            if outcome in OUTCOME_FLAGS and outcome not in ticket.flags:
                ticket.flags = [*ticket.flags, outcome]
            db.add(
                TicketEvent(ticket=ticket, actor=actor, kind="closed", data={"outcome": outcome})
            )
            await db.commit()
            return ticket

    async def history(self, caller_number: str, before: int, limit: int = 10) -> list[Ticket]:
        """Earlier tickets of this number, newest first. Nothing for an unknown number: anonymous
        callers are not one person."""
        if not caller_number:
            return []
        async with self._sessions() as db:
            return list(
                await db.scalars(
                    select(Ticket)
                    .where(Ticket.caller_number == caller_number, Ticket.id < before)
                    .order_by(Ticket.id.desc())
                    .limit(limit)
                )
            )

    async def calls_of_calltaker(self, interface: str, limit: int = 5) -> list[Call]:
        """The latest calls this queue member answered, newest first, with their tickets."""
        async with self._snapshot() as db:
            return list(
                await db.scalars(
                    select(Call)
                    .where(Call.calltaker == interface[:64])
                    .order_by(Call.id.desc())
                    .limit(limit)
                    .options(selectinload(Call.ticket))
                )
            )

    async def live_calls(self, since: datetime) -> list[Call]:
        """Callers' calls still up that started after `since`, oldest first, with their tickets
        and whether an agency is on the line."""
        async with self._snapshot() as db:
            return list(
                await db.scalars(
                    select(Call)
                    .where(Call.ended_at.is_(None), Call.started_at >= since)
                    .order_by(Call.id)
                    .options(selectinload(Call.ticket).selectinload(Ticket.dispatches))
                )
            )

    async def calls_gone(self, alive: ChannelsAlive) -> list[CallRef]:
        """Callers' calls still open here whose channel Asterisk no longer has.

        Only calls older than CHANNEL_GRACE count: one the IVR opened just after Asterisk listed
        its channels is not in that list, and is not gone.
        """
        async with self._sessions() as db:
            open_calls = await db.scalars(
                select(Call).where(
                    Call.ended_at.is_(None), Call.started_at < alive.at - CHANNEL_GRACE
                )
            )
            return [
                CallRef(
                    c.unique_id,
                    channel=c.channel or "",
                    linked_id=c.linked_id or "",
                    caller_number=c.caller_number,
                )
                for c in open_calls
                if c.unique_id not in alive.ids and (c.linked_id or "") not in alive.ids
            ]

    async def note_ticket(
        self, ticket_id: int, actor: str, kind: str, data: dict[str, Any]
    ) -> Ticket | None:
        """Add an event to a ticket by its id (a callback has no caller's call of its own)."""
        async with self._sessions() as db:
            ticket = await db.get(Ticket, ticket_id)
            if ticket is None:
                return None
            db.add(TicketEvent(ticket=ticket, actor=actor, kind=kind, data=data))
            await db.commit()
            return ticket

    async def abandoned_since(self, since: datetime) -> list[Ticket]:
        """Callers who hung up before a call-taker answered, newest first, with their events."""
        async with self._snapshot() as db:
            return list(
                await db.scalars(
                    select(Ticket)
                    .where(Ticket.status == rules.Status.ABANDONED, Ticket.arrived_at >= since)
                    .order_by(Ticket.id.desc())
                    .limit(500)
                    .options(selectinload(Ticket.events))
                )
            )

    async def caller_counts(self, numbers: list[str]) -> dict[str, dict[str, int]]:
        """For each number: its tickets, and how many were pranks or silent calls."""
        numbers = [n for n in set(numbers) if n]
        if not numbers:
            return {}
        # flags is a JSON list (never NULL); as text it is the same on SQLite and PostgreSQL.
        flags = cast(Ticket.flags, String)
        prank = or_(Ticket.outcome == "prank", flags.like('%"prank"%'))
        silent = or_(
            Ticket.outcome == "ghost",
            flags.like('%"silent"%'),
            flags.like('%"silent-but-present"%'),
        )
        query = (
            select(
                Ticket.caller_number,
                func.count(),
                func.sum(cast(prank, Integer)),
                func.sum(cast(silent, Integer)),
            )
            .where(Ticket.caller_number.in_(numbers))
            .group_by(Ticket.caller_number)
        )
        async with self._sessions() as db:
            rows = (await db.execute(query)).all()
        return {
            number: {"tickets": total, "prank": int(pranks or 0), "silent": int(silents or 0)}
            for number, total, pranks, silents in rows
        }

    async def prank_tickets(self, number: str, limit: int = 50) -> list[Ticket]:
        """The evidence against a number: its tickets flagged or closed as prank."""
        async with self._sessions() as db:
            tickets = await db.scalars(
                select(Ticket)
                .where(Ticket.caller_number == number)
                .order_by(Ticket.id.desc())
                .limit(500)
            )
            return [t for t in tickets if t.outcome == "prank" or "prank" in t.flags][:limit]

    # ---- restrictions of prank callers --------------------------------------------------------

    async def restrict(
        self,
        number: str,
        reason: str,
        evidence: list[int],
        actor: str,
        level_days: list[int],
    ) -> Restriction:
        """Restrict a number at the next level of the policy (its earlier restrictions count)."""
        async with self._sessions() as db:
            earlier = await db.scalar(
                select(func.count()).select_from(Restriction).where(Restriction.number == number)
            )
            level = min((earlier or 0) + 1, len(level_days))
            days = level_days[level - 1]
            created = now()
            restriction = Restriction(
                number=number,
                level=level,
                reason=reason,
                evidence=evidence,
                created_by=actor,
                created_at=created,
                until=created + timedelta(days=days) if days else None,
            )
            db.add(restriction)
            await db.flush()
            db.add(
                RestrictionEvent(
                    restriction=restriction,
                    actor=actor,
                    kind="created",
                    data={"reason": reason, "level": level, "days": days, "evidence": evidence},
                )
            )
            await db.commit()
            return await self._restriction(db, restriction.id)

    async def lift_restriction(
        self, restriction_id: int, actor: str, reason: str
    ) -> Restriction | None:
        async with self._sessions() as db:
            restriction = await db.get(Restriction, restriction_id)
            if restriction is None:
                return None
            if restriction.lifted_at is None:  # lifting twice changes nothing
                restriction.lifted_by, restriction.lifted_at = actor, now()
                restriction.lift_reason = reason
                db.add(
                    RestrictionEvent(
                        restriction=restriction, actor=actor, kind="lifted", data={"reason": reason}
                    )
                )
                await db.commit()
            return await self._restriction(db, restriction_id)

    async def _restriction(self, db: AsyncSession, restriction_id: int) -> Restriction:
        """A restriction with its audit trail loaded (fresh: the caller reads it after commit)."""
        db.expunge_all()
        return (
            await db.scalars(
                select(Restriction)
                .where(Restriction.id == restriction_id)
                .options(selectinload(Restriction.events))
            )
        ).one()

    async def active_restriction(self, number: str) -> Restriction | None:
        if not number:
            return None
        at = now()
        async with self._sessions() as db:
            return await db.scalar(
                select(Restriction)
                .where(
                    Restriction.number == number[:64],
                    Restriction.lifted_at.is_(None),
                    or_(Restriction.until.is_(None), Restriction.until > at),
                )
                .order_by(Restriction.id.desc())
            )

    async def restriction_applied(self, restriction_id: int, ticket_id: int) -> None:
        """A restricted number called: the call is on the restriction's audit trail."""
        async with self._sessions() as db:
            db.add(
                RestrictionEvent(
                    restriction_id=restriction_id,
                    actor="ivr",
                    kind="applied",
                    data={"ticket_id": ticket_id},
                )
            )
            await db.commit()

    async def restrictions(self, since: datetime) -> list[Restriction]:
        """Restrictions in force, and those created or lifted since `since`, newest first."""
        at = now()
        async with self._snapshot() as db:
            return list(
                await db.scalars(
                    select(Restriction)
                    .where(
                        or_(
                            and_(
                                Restriction.lifted_at.is_(None),
                                or_(Restriction.until.is_(None), Restriction.until > at),
                            ),
                            Restriction.created_at >= since,
                            Restriction.lifted_at >= since,
                        )
                    )
                    .order_by(Restriction.id.desc())
                    .options(selectinload(Restriction.events))
                )
            )

    # ---- the call-record file --------------------------------------------------------------

    async def cdr_progress(self, path: str) -> tuple[int, int] | None:
        """(inode, offset) the call-record file at `path` was read and handled up to."""
        async with self._sessions() as db:
            row = await db.get(CdrProgress, path[:500])
            return (row.inode, row.offset) if row is not None else None

    async def save_cdr_progress(self, path: str, inode: int, offset: int) -> None:
        async with self._sessions() as db:
            row = await db.get(CdrProgress, path[:500])
            if row is None:
                db.add(CdrProgress(path=path[:500], inode=inode, offset=offset))
            else:
                row.inode, row.offset = inode, offset
            await db.commit()

    # ---- call-takers' sessions at the queue ---------------------------------------------------

    async def record_desk(
        self, extension: str, actor: str, kind: str, reason: str | None = None
    ) -> None:
        async with self._sessions() as db:
            db.add(DeskEvent(extension=extension, actor=actor, kind=kind, reason=reason))
            await db.commit()

    async def desk_events(self, extension: str, limit: int = 100) -> list[DeskEvent]:
        async with self._sessions() as db:
            return list(
                await db.scalars(
                    select(DeskEvent)
                    .where(DeskEvent.extension == extension)
                    .order_by(DeskEvent.id.desc())
                    .limit(limit)
                )
            )

    # ---- protocol cards ---------------------------------------------------------------------

    async def protocol_cards(self) -> list[ProtocolCard]:
        async with self._sessions() as db:
            return list(await db.scalars(select(ProtocolCard)))

    async def save_protocol_card(
        self, category: str, ask: list[str], tell: list[str], actor: str
    ) -> ProtocolCard:
        async with self._sessions() as db:
            card = await db.get(ProtocolCard, category)
            if card is None:
                card = ProtocolCard(category=category)
                db.add(card)
            card.ask, card.tell, card.updated_by, card.updated_at = ask, tell, actor, now()
            await db.commit()
            return card

    async def list_tickets(
        self,
        *,
        agency: str | None = None,
        status: str | None = None,
        caller_number: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Ticket]:
        """Newest first. `agency` restricts to one agency's tickets (for agency users)."""
        query = select(Ticket).order_by(Ticket.id.desc()).limit(limit)
        if agency is not None:
            query = query.where(Ticket.agency == agency)
        if status is not None:
            query = query.where(Ticket.status == status)
        if caller_number is not None:
            query = query.where(Ticket.caller_number == caller_number)
        if before_id is not None:
            query = query.where(Ticket.id < before_id)
        async with self._sessions() as db:
            return list(await db.scalars(query))

    async def get_ticket(self, ticket_id: int) -> Ticket | None:
        async with self._snapshot() as db:
            return await db.get(
                Ticket,
                ticket_id,
                options=[
                    selectinload(Ticket.events),
                    selectinload(Ticket.calls),
                    selectinload(Ticket.dispatches),
                    selectinload(Ticket.transcriptions),
                ],
            )

    async def _learn_caller_id(
        self, db: AsyncSession, ticket: Ticket, call: CallRef, source: str
    ) -> None:
        """A channel can appear before its caller ID is known (a Local channel's Newchannel says
        <unknown>); whoever sees the call next with a number completes the ticket."""
        if ticket.caller_number:
            return
        caller = sanitise(call.caller_number, call.caller_name)
        if not caller.number:
            return
        ticket.caller_number = caller.number
        ticket.caller_name = ticket.caller_name or caller.name
        row = await db.scalar(select(Call).where(Call.unique_id == call.unique_id[:64]))
        if row is not None:
            row.caller_number = caller.number
        db.add(
            TicketEvent(
                ticket=ticket,
                at=now(),
                actor=source,
                kind="caller-id",
                data={"number": caller.number, "name": caller.name, "received": caller.raw},
            )
        )
        await db.commit()

    async def _ticket_of_call(self, db: AsyncSession, unique_id: str) -> Ticket | None:
        return await db.scalar(select(Ticket).join(Call).where(Call.unique_id == unique_id[:64]))

    # ---- users and sessions -------------------------------------------------------------

    async def add_user(
        self, username: str, password_hash: str, role: str, agency: str | None = None
    ) -> User:
        async with self._sessions() as db:
            user = User(username=username, password_hash=password_hash, role=role, agency=agency)
            db.add(user)
            await db.commit()
            return user

    async def set_password(self, username: str, password_hash: str) -> bool:
        """A new password ends the login's sessions: whoever knew the old one is out too (their
        open consoles close at the live feed's next session check)."""
        async with self._sessions() as db:
            user = await db.scalar(select(User).where(User.username == username))
            if user is None:
                return False
            user.password_hash = password_hash
            await db.execute(delete(Session).where(Session.user_id == user.id))
            await db.commit()
            return True

    async def users(self) -> list[User]:
        async with self._sessions() as db:
            return list(await db.scalars(select(User).order_by(User.username)))

    async def remove_user(self, username: str) -> bool:
        """Delete a login and, with it (ON DELETE CASCADE), every session it has. Tickets keep
        the name it acted under: their trail names people, not rows."""
        async with self._sessions() as db:
            user = await db.scalar(select(User).where(User.username == username))
            if user is None:
                return False
            await db.delete(user)
            await db.commit()
            return True

    async def user_by_name(self, username: str) -> User | None:
        async with self._sessions() as db:
            return await db.scalar(select(User).where(User.username == username))

    async def start_session(self, user: User, token: str, lifetime: timedelta) -> None:
        async with self._sessions() as db:
            started = now()
            db.add(
                Session(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    created_at=started,
                    expires_at=started + lifetime,
                )
            )
            await db.commit()

    async def user_of_session(self, token: str) -> User | None:
        async with self._sessions() as db:
            session = await db.get(Session, token_hash(token), options=[selectinload(Session.user)])
            if session is None or session.expires_at <= now():
                return None
            return session.user

    async def sessions_in_force(self, tokens: Collection[str]) -> set[str]:
        """Which of these sessions have neither ended nor expired: one query for every open
        console, however many there are."""
        by_hash = {token_hash(t): t for t in tokens}
        if not by_hash:
            return set()
        async with self._sessions() as db:
            in_force = await db.scalars(
                select(Session.token_hash).where(
                    Session.token_hash.in_(list(by_hash)), Session.expires_at > now()
                )
            )
            return {by_hash[h] for h in in_force}

    async def end_session(self, token: str) -> None:
        async with self._sessions() as db:
            session = await db.get(Session, token_hash(token))
            if session is not None:
                await db.delete(session)
                await db.commit()
