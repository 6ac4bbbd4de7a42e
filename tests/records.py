"""Every repository of the centre over one real database, as the tests use them (the repositories
are ours; faking them would test nothing). Telephony facts go through the same fact table the
controller builds, with the ticket and routing handlers subscribed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.calltakers.desk_log import DeskLog
from callcenter.calltakers.protocol_cards import ProtocolCards
from callcenter.live.bus import Bus
from callcenter.live.fact_table import FactTable
from callcenter.routing import subscriptions as routing_facts
from callcenter.routing.dispatch_log import DispatchLog
from callcenter.speech.transcription_jobs import TranscriptionJobs
from callcenter.supervision.restriction_records import RestrictionRecords
from callcenter.telephony.cdr_position import CdrPositions
from callcenter.tickets import subscriptions as tickets_facts
from callcenter.tickets.calls import Calls
from callcenter.tickets.db import Database, create_engine
from callcenter.tickets.migrations import migrate
from callcenter.tickets.repository import Tickets
from callcenter.web.accounts import Accounts


@dataclass(frozen=True)
class Records:
    db: Database
    facts: FactTable
    calls: Calls
    tickets: Tickets
    dispatches: DispatchLog
    jobs: TranscriptionJobs
    restrictions: RestrictionRecords
    accounts: Accounts
    desk_log: DeskLog
    protocol_cards: ProtocolCards
    cdr: CdrPositions

    @property
    def engine(self) -> AsyncEngine:
        return self.db.engine

    @classmethod
    def over(cls, engine: AsyncEngine, bus: Bus | None = None) -> Records:
        db = Database(engine, bus)
        calls = Calls(db)
        dispatches = DispatchLog(db, calls)
        facts = FactTable()
        tickets_facts.subscribe(facts, calls)
        routing_facts.subscribe(facts, dispatches)
        return cls(
            db=db,
            facts=facts,
            calls=calls,
            tickets=Tickets(db),
            dispatches=dispatches,
            jobs=TranscriptionJobs(db),
            restrictions=RestrictionRecords(db),
            accounts=Accounts(db),
            desk_log=DeskLog(db),
            protocol_cards=ProtocolCards(db),
            cdr=CdrPositions(db),
        )


async def sqlite_records(tmp_path: Path, bus: Bus | None = None) -> Records:
    """The repositories over a migrated throwaway SQLite file."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tickets.db'}")
    await migrate(engine)
    return Records.over(engine, bus)
