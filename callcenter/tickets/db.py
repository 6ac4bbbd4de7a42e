"""The database every repository shares: the engine, sessions, snapshot reads, and the one
mechanism that tells the live views about a ticket change once (and only once) it is committed.

Each package keeps the repository of the aggregate it owns (tickets here; dispatches in routing/,
transcription jobs in speech/, restrictions in supervision/, accounts in web/, the desk log and
protocol cards in calltakers/); they all open their sessions here.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction
from sqlalchemy.orm.util import identity_key

from ..live.bus import Bus
from ..live.messages import TicketChanged
from .models import Call, Ticket, TicketEvent
from .views import event_json, ticket_summary

log = logging.getLogger(__name__)


def create_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        _owner_only(engine.url.database)

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


def _owner_only(database: str | None) -> None:
    """Callers' numbers, what they said, who took the call: readable by the controller's user
    only. SQLite gives its -wal and -shm files the database file's mode, so that one is made 0600
    before SQLite first opens it (and made so again if an older version left it 0644)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite says so when it opens it
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists():
            each.chmod(0o600)


class _PublishingSession(OrmSession):
    """Publishes every ticket event on the live bus once its transaction commits (never before: a
    rolled-back change did not happen), in the order written. One mechanism for every write path,
    so the live views cannot miss an event a repository forgot to announce."""


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
            # An event written without its ticket in the session: still announce it.
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


def announce_change(db: AsyncSession, ticket: Ticket, kind: str) -> None:
    """Announce, once committed, a change that writes no ticket event (the live transcript)."""
    db.sync_session.info.setdefault("changes", []).append((ticket, kind))


async def ticket_of_call(db: AsyncSession, unique_id: str) -> Ticket | None:
    """The ticket a caller's call belongs to (every repository finds tickets by call this way)."""
    return await db.scalar(select(Ticket).join(Call).where(Call.unique_id == unique_id[:64]))


async def call_row(db: AsyncSession, unique_id: str) -> Call | None:
    return await db.scalar(select(Call).where(Call.unique_id == unique_id[:64]))


class Database:
    def __init__(self, engine: AsyncEngine, bus: Bus | None = None):
        self.engine = engine
        self.session = async_sessionmaker(
            engine,
            expire_on_commit=False,
            sync_session_class=_PublishingSession,
            info={"bus": bus},
        )

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A session for a read that takes several statements (a ticket, then its events, calls,
        dispatches and transcriptions): every statement sees the same committed state. Without
        it, a commit landing between two of them showed a transcription done on a ticket whose
        transcript was still empty. Read-only: it never commits."""
        async with self.session() as db:
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

    async def dispose(self) -> None:
        await self.engine.dispose()
