"""A ticket read while the speech worker commits is one state or the other, never half of each.

Found in CI: the ticket and its transcriptions are read by separate statements, and a commit
between them showed a transcription 'done' on a ticket whose transcript was still empty. Here a
second connection commits exactly between those statements, every time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import event

from callcenter.live.facts import CallRef
from tests.records import sqlite_records


async def test_a_commit_between_the_statements_of_one_read_is_not_half_seen(tmp_path: Path):
    records = await sqlite_records(tmp_path)
    try:
        ticket = await records.calls.open_ticket(
            CallRef(unique_id="race-1.1", caller_number="0341"), source="ivr"
        )
        job_id = await records.jobs.queue("race-1.1", str(tmp_path / "call.wav"))
        assert job_id is not None
        writes = []

        def commit_between(_conn, _cursor, statement, *_args) -> None:
            # The ticket row has been read; its transcriptions are about to be.
            if "FROM transcriptions" not in statement or writes:
                return
            other = sqlite3.connect(tmp_path / "tickets.db", timeout=10)
            with other:
                other.execute("UPDATE tickets SET transcript = 'tolong' WHERE id = ?", (ticket.id,))
                other.execute("UPDATE transcriptions SET status = 'done' WHERE id = ?", (job_id,))
            other.close()
            writes.append(True)

        event.listen(records.engine.sync_engine, "before_cursor_execute", commit_between)
        seen = await records.tickets.get(ticket.id)
        event.remove(records.engine.sync_engine, "before_cursor_execute", commit_between)

        assert writes, "the second connection never wrote: the test did not test anything"
        assert seen is not None
        state = (seen.transcript, seen.transcriptions[0].status)
        assert state == ("", "pending"), state  # the state when the read began
        after = await records.tickets.get(ticket.id)
        assert after is not None
        assert (after.transcript, after.transcriptions[0].status) == ("tolong", "done")
    finally:
        await records.engine.dispose()
