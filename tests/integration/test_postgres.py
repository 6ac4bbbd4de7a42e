"""The production database: the same repositories, on PostgreSQL, do what they do on SQLite.

The centre runs on SQLite by default and on PostgreSQL in production (docker-compose.yml). The
other tests prove the repositories' rules on SQLite; here one scenario touching every kind of write
and read runs on both, and what comes out must be the same, apart from clock times.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from callcenter.live.facts import (
    AgencyLegEnded,
    CallAbandoned,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallQueued,
    CallRef,
    ChannelsAlive,
)
from callcenter.tickets.db import create_engine
from callcenter.tickets.edits import TicketEdit
from callcenter.tickets.migrations import migrate
from callcenter.tickets.reports import Reports
from callcenter.tickets.views import ticket_detail
from tests.postgres import Postgres, postgres_server
from tests.records import Records
from tests.seed import ZONE, seed_tickets

ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


async def _records(url: str) -> Records:
    engine = create_engine(url)
    await migrate(engine)
    await migrate(engine)  # start-up runs it every time: the second run must change nothing
    return Records.over(engine)


def _timeless(value: Any) -> Any:
    """The value with every timestamp, and every duration measured by the clock, replaced by a
    marker, once checked to be aware UTC or a number of seconds."""
    if isinstance(value, dict):
        return {
            k: "<seconds>" if k == "duration" and isinstance(v, float) else _timeless(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    if isinstance(value, str) and value[:2] == "20" and "T" in value:
        assert ISO_TIME.match(value), f"not an aware UTC time: {value}"
        return "<time>"
    return value


async def _a_day_at_the_centre(records: Records) -> dict[str, Any]:
    """Calls answered, dispatched, transcribed, abandoned, lost and restricted; users, desks and
    cards: every repository method the centre uses, and what each read gives back."""
    seen: dict[str, Any] = {}
    fire = CallRef("pg-1.1", channel="PJSIP/9001-01", caller_number="081234567890")
    await records.facts.deliver(CallArrived(fire))
    ticket = await records.calls.open_ticket(
        fire, source="ivr"
    )  # the IVR finds the ticket already open
    await records.calls.choose_while_waiting(
        fire.unique_id, lambda _c, f, _a: ("fire", f, 3), {"key": "5"}
    )
    await records.facts.deliver(CallQueued(fire, queue="calltakers"))
    await records.calls.speech_heard(fire.unique_id, "rumah saya", None)
    await records.calls.speech_heard(fire.unique_id, "rumah saya terbakar", "rumah saya terbakar")
    await records.facts.deliver(CallAnswered(fire, queue="calltakers", calltaker="PJSIP/2001"))
    edit = TicketEdit(
        text={"what": "Rumah terbakar, dua lantai", "landmark": "dekat Alun-alun"},
        place={"kecamatan": "Klojen", "kelurahan": "Oro-oro Dowo"},
        checklist={"ask-a": True},
    )
    await records.tickets.edit(ticket.id, edit, "petugas", {"ask-a": "Ada korban?"})
    await records.calls.set_held(fire.unique_id, True, "petugas")
    await records.calls.set_held(fire.unique_id, False, "petugas")
    await records.calls.set_conference(fire.unique_id, "ngalam112-pg-1")
    seen["heard so far"] = await records.calls.heard_so_far(fire.unique_id)
    dispatch = await records.dispatches.start(fire, "bpbd", "PJSIP/7005", "conference", "petugas")
    await records.dispatches.outcome(dispatch.id, "answered")
    await records.dispatches.failed(fire, "pmi", "petugas")
    seen["agency on call"] = await records.dispatches.agency_on_call(fire.unique_id)
    await records.facts.deliver(AgencyLegEnded(dispatch.leg_id, cause="Normal Clearing"))
    dispatched = await records.tickets.get(ticket.id)
    assert dispatched is not None
    seen["dispatches"] = [(d.agency, d.outcome) for d in dispatched.dispatches]
    the_call = await records.calls.call(fire.unique_id)
    seen["call"] = (the_call.conference, the_call.ticket.category) if the_call else None
    seen["live"] = [c.unique_id for c in await records.calls.live_calls(ticket.arrived_at)]
    await records.facts.deliver(CallEnded(fire, cause="Normal Clearing"))
    await records.calls.set_recording(fire.unique_id, "/var/spool/asterisk/monitor/pg-1.1.wav")
    job = await records.jobs.queue(fire.unique_id, "/var/spool/asterisk/monitor/pg-1.1.wav")
    assert job is not None
    [due] = await records.jobs.due(limit=5)
    words = [{"word": "terbakar", "start": 0.4, "end": 0.9, "conf": 0.8}]
    await records.jobs.done(due.id, "rumah saya terbakar", words, 2.5, {})
    await records.tickets.close(ticket.id, "darurat", "petugas")
    fire_ticket = await records.tickets.get(ticket.id)
    assert fire_ticket is not None
    seen["fire"] = ticket_detail(fire_ticket)

    # Hung up in the queue: on the callback list.
    gone = CallRef("pg-2.1", channel="PJSIP/9002-01", caller_number="0341123456")
    await records.facts.deliver(CallArrived(gone))
    await records.facts.deliver(CallQueued(gone, queue="calltakers"))
    await records.facts.deliver(CallAbandoned(gone, queue="calltakers"))
    await records.facts.deliver(CallEnded(gone, cause="Normal Clearing"))
    gone_ticket = await records.calls.open_ticket(gone, source="ivr")
    await records.tickets.note(gone_ticket.id, "penyelia", "callback", {"outcome": "no-answer"})
    await records.calls.set_recording(gone.unique_id, "/var/spool/asterisk/monitor/pg-2.1.wav")
    broken = await records.jobs.queue(gone.unique_id, "/var/spool/asterisk/monitor/pg-2.1.wav")
    assert broken is not None
    await records.jobs.failed(broken, "not readable audio", None)
    seen["abandoned"] = [
        t.caller_number for t in await records.tickets.abandoned_since(ticket.arrived_at)
    ]

    # A call whose hangup never came: the channel sweep finds it.
    lost = CallRef("pg-3.1", channel="PJSIP/9003-01", caller_number="0341999")
    await records.facts.deliver(CallArrived(lost))
    later = ChannelsAlive(frozenset({"pg-other.1"}), at=ticket.arrived_at + timedelta(hours=1))
    seen["gone"] = sorted(c.unique_id for c in await records.calls.calls_gone(later))

    # The same call seen by two paths at once: one ticket, the loser's insert rolled back.
    twice = CallRef("pg-4.1", caller_number="0341777")
    opened = await asyncio.gather(
        *(records.calls.open_ticket(twice, source="ivr") for _ in range(4))
    )
    seen["opened twice"] = len({t.id for t in opened})

    # Pranks, and a restriction that is applied and lifted.
    evidence = []
    for n in range(3):
        prank = CallRef(f"pg-5.{n}", caller_number="0899000111")
        pranked = await records.calls.open_ticket(prank, source="ivr")
        await records.tickets.close(pranked.id, "prank", "petugas")
        evidence.insert(0, pranked.id)
    silent = CallRef("pg-5.9", caller_number="0899000111")
    await records.calls.open_ticket(silent, source="ivr")
    await records.calls.choose_while_waiting(
        silent.unique_id, lambda c, f, _a: (c, [*f, "silent"], 2), {"key": "55"}
    )
    restriction = await records.restrictions.restrict(
        "0899000111", "tiga kali iseng", evidence, "penyelia", [3, 30, 0]
    )
    active = await records.restrictions.active("0899000111")
    assert active is not None and active.id == restriction.id
    await records.restrictions.applied(restriction.id, evidence[0])
    lifted = await records.restrictions.lift(restriction.id, "penyelia", "salah nomor")
    assert lifted is not None
    seen["restriction"] = {
        "level": lifted.level,
        "evidence": len(lifted.evidence),
        "trail": [e.kind for e in lifted.events],
        "still active": await records.restrictions.active("0899000111") is not None,
        "listed": [
            r.number for r in await records.restrictions.in_force_or_since(ticket.arrived_at)
        ],
    }
    seen["counts"] = await records.tickets.caller_counts(["0899000111", "081234567890", ""])
    seen["history"] = len(await records.tickets.history("0899000111", before=10**6))
    seen["tickets"] = [t.caller_number for t in await records.tickets.newest(status="abandoned")]
    seen["bpbd tickets"] = [t.id for t in await records.tickets.newest(agency="bpbd")]

    # People, desks and cards.
    user = await records.accounts.add_user("sari", "argon2-hash", "call-taker")
    await records.accounts.start_session(user, "token-1", timedelta(hours=8))
    found = await records.accounts.user_of_session("token-1")
    seen["session"] = (found.username, found.role) if found else None
    seen["no session"] = await records.accounts.user_of_session("token-2")
    await records.accounts.start_session(user, "token-3", timedelta(hours=8))
    await records.accounts.start_session(user, "token-4", timedelta(seconds=-1))  # already expired
    seen["in force"] = sorted(
        await records.accounts.sessions_in_force(
            ["token-1", "token-2", "token-3", "token-4", "'; --"]
        )
    )
    await records.accounts.end_session("token-1")
    seen["ended session"] = await records.accounts.user_of_session("token-1")
    seen["in force after"] = sorted(
        await records.accounts.sessions_in_force(["token-1", "token-3"])
    )
    seen["none asked"] = await records.accounts.sessions_in_force([])
    seen["password set"] = (
        await records.accounts.set_password("sari", "argon2-new"),
        await records.accounts.set_password("nobody", "x"),
    )
    seen["in force after a new password"] = sorted(
        await records.accounts.sessions_in_force(["token-3"])
    )
    leaver = await records.accounts.add_user("budi", "argon2-hash", "call-taker")
    await records.accounts.start_session(leaver, "token-5", timedelta(hours=8))
    seen["removed"] = (
        await records.accounts.remove_user("budi"),
        await records.accounts.remove_user("budi"),
    )
    seen["removed's session"] = await records.accounts.user_of_session("token-5")
    seen["users"] = [(u.username, u.role) for u in await records.accounts.users()]
    seen["user"] = getattr(await records.accounts.user_by_name("sari"), "password_hash", None)
    await records.db.ping()
    csv = "/var/log/asterisk/cdr-custom/Master.csv"
    seen["cdr before"] = await records.cdr.load(csv)
    await records.cdr.save(csv, 2**40 + 7, 4096)  # inodes can be large
    await records.cdr.save(csv, 2**40 + 7, 8192)
    seen["cdr after"] = await records.cdr.load(csv)
    await records.desk_log.record("2001", "sari", "paused", "istirahat")
    seen["desk"] = [(d.kind, d.reason) for d in await records.desk_log.of("2001")]
    await records.protocol_cards.save("fire", ["Ada korban?"], ["Jauhi asap"], "penyelia")
    seen["cards"] = [(c.category, c.ask, c.tell) for c in await records.protocol_cards.all()]
    return _timeless(seen)


async def test_a_day_at_the_centre_is_the_same_on_postgresql_as_on_sqlite(postgres, tmp_path):
    sqlite = await _records(f"sqlite+aiosqlite:///{tmp_path / 'tickets.db'}")
    production = await _records(postgres.new_database("day"))
    try:
        on_sqlite = await _a_day_at_the_centre(sqlite)
        on_postgres = await _a_day_at_the_centre(production)
    finally:
        await sqlite.engine.dispose()
        await production.engine.dispose()
    # The scenario did what it says (so that equal cannot mean equally empty) ...
    assert on_sqlite["fire"]["transcript"] == "rumah saya terbakar"
    assert on_sqlite["dispatches"] == [("bpbd", "ended")]
    assert on_sqlite["abandoned"] == ["0341123456"] and on_sqlite["gone"] == ["pg-3.1"]
    assert on_sqlite["opened twice"] == 1 and on_sqlite["session"] == ("sari", "call-taker")
    assert on_sqlite["in force"] == ["token-1", "token-3"]
    assert on_sqlite["in force after"] == ["token-3"]
    assert on_sqlite["in force after a new password"] == []
    assert on_sqlite["removed"] == (True, False) and on_sqlite["removed's session"] is None
    assert on_sqlite["restriction"]["trail"] == ["created", "applied", "lifted"]
    assert on_sqlite["cdr after"] == (2**40 + 7, 8192) and on_sqlite["cdr before"] is None
    assert on_sqlite["counts"]["0899000111"] == {"tickets": 4, "prank": 3, "silent": 1}
    assert on_sqlite["tickets"] == ["0341123456"] and on_sqlite["bpbd tickets"] == [1]
    # ... and PostgreSQL did exactly the same.
    assert on_postgres == on_sqlite


async def test_reports_count_the_same_on_postgresql(postgres, tmp_path):
    first, days = date(2026, 9, 1), 14
    last = first + timedelta(days=days - 1)
    figures = []
    for url in (f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", postgres.new_database("reports")):
        records = await _records(url)
        try:
            await seed_tickets(records.engine, 2_000, first, days)
            figures.append(await Reports(records.engine, ZONE).evaluation(first, last))
        finally:
            await records.engine.dispose()
    on_sqlite, on_postgres = figures
    assert sum(day["total"] for day in on_sqlite["national"]) == 2_000
    assert on_postgres == on_sqlite


async def test_a_ticket_read_is_one_snapshot_on_postgresql(postgres):
    """As test_consistent_reads.py on SQLite: psql commits between the read's statements."""
    records = await _records(postgres.new_database("snapshot"))
    try:
        ticket = await records.calls.open_ticket(
            CallRef("pg-6.1", caller_number="0341"), source="ivr"
        )
        job_id = await records.jobs.queue("pg-6.1", "/none.wav")
        writes = []

        def commit_between(_conn, _cursor, statement, *_args) -> None:
            if "FROM transcriptions" not in statement or writes:
                return
            postgres.sql(
                "snapshot",
                "UPDATE tickets SET transcript = 'tolong' WHERE id = :ticket;"
                "UPDATE transcriptions SET status = 'done' WHERE id = :job;",
                ticket=ticket.id,
                job=job_id or 0,
            )
            writes.append(True)

        event.listen(records.engine.sync_engine, "before_cursor_execute", commit_between)
        seen = await records.tickets.get(ticket.id)
        event.remove(records.engine.sync_engine, "before_cursor_execute", commit_between)
        assert writes and seen is not None
        assert (seen.transcript, seen.transcriptions[0].status) == ("", "pending")
        after = await records.tickets.get(ticket.id)
        assert after is not None
        assert (after.transcript, after.transcriptions[0].status) == ("tolong", "done")
    finally:
        await records.engine.dispose()


async def test_the_migrations_build_exactly_the_models_schema_on_postgresql(postgres):
    """A model changed without its migration would work on a test's fresh SQLite file and fail
    on the production database, which only ever gets the migrations."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from callcenter.tickets.models import Base

    records = await _records(postgres.new_database("schema"))
    try:
        async with records.engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await records.engine.dispose()
    assert differences == []
