"""Transcription jobs: each call's recording, queued at hangup and transcribed after the call
(retried on failure). The repository of speech's aggregate; the Transcriber works through it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..tickets import lifecycle
from ..tickets.db import Database, call_row
from ..tickets.models import Ticket, TicketEvent, Transcription, now


class TranscriptionJobs:
    def __init__(self, db: Database):
        self._db = db

    async def queue(self, unique_id: str, path: str, delay: float = 0.0) -> int | None:
        """Note that this call's recording is to be transcribed (once per call); the job's id."""
        async with self._db.session() as db:
            row = await call_row(db, unique_id)
            if row is None:
                return None
            job = Transcription(
                ticket_id=row.ticket_id,
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

    async def due(self, limit: int) -> list[Transcription]:
        async with self._db.session() as db:
            rows = await db.scalars(
                select(Transcription)
                .where(Transcription.status == "pending", Transcription.next_try_at <= now())
                .order_by(Transcription.id)
                .limit(limit)
            )
            return list(rows)

    async def done(
        self,
        job_id: int,
        text: str,
        words: list[dict[str, Any]],
        seconds: float,
        suggestion: dict[str, Any],
    ) -> None:
        """Store the transcript on the job and its ticket, with what its words fill in
        (lifecycle.fill_from_words)."""
        async with self._db.session() as db:
            job = await db.get_one(Transcription, job_id)
            ticket = await db.get_one(Ticket, job.ticket_id)
            at = now()
            job.status, job.attempts, job.finished_at = "done", job.attempts + 1, at
            job.text, job.words, job.seconds, job.error = text, words, seconds, None
            ticket.transcript = text
            events: list[tuple[str, dict[str, Any]]] = [
                ("transcribed", {"transcription": job.id, "seconds": round(seconds, 1)})
            ]
            events += lifecycle.fill_from_words(ticket, suggestion)
            for kind, data in events:
                db.add(TicketEvent(ticket=ticket, at=at, actor="speech", kind=kind, data=data))
            await db.commit()

    async def failed(self, job_id: int, error: str, retry_at: datetime | None) -> None:
        """Record the failure on the job and the ticket; retry later, or give up (status failed)."""
        async with self._db.session() as db:
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
