"""Each desk's sessions at the queue (joined, paused, left, by whom): the repository the desks
write through and the console reads."""

from __future__ import annotations

from sqlalchemy import select

from ..tickets.db import Database
from ..tickets.models import DeskEvent


class DeskLog:
    def __init__(self, db: Database):
        self._db = db

    async def record(
        self, extension: str, actor: str, kind: str, reason: str | None = None
    ) -> None:
        async with self._db.session() as db:
            db.add(DeskEvent(extension=extension, actor=actor, kind=kind, reason=reason))
            await db.commit()

    async def of(self, extension: str, limit: int = 100) -> list[DeskEvent]:
        """The desk's latest events, newest first."""
        async with self._db.session() as db:
            return list(
                await db.scalars(
                    select(DeskEvent)
                    .where(DeskEvent.extension == extension)
                    .order_by(DeskEvent.id.desc())
                    .limit(limit)
                )
            )
