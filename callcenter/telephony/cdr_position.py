"""How far the call-record file was read and handled, kept in the database so a restart takes up
only the calls since (see CallRecords in cdr.py)."""

from __future__ import annotations

from ..tickets.db import Database
from ..tickets.models import CdrProgress


class CdrPositions:
    def __init__(self, db: Database):
        self._db = db

    async def load(self, path: str) -> tuple[int, int] | None:
        """(inode, offset) the call-record file at `path` was read and handled up to."""
        async with self._db.session() as db:
            row = await db.get(CdrProgress, path[:500])
            return (row.inode, row.offset) if row is not None else None

    async def save(self, path: str, inode: int, offset: int) -> None:
        async with self._db.session() as db:
            row = await db.get(CdrProgress, path[:500])
            if row is None:
                db.add(CdrProgress(path=path[:500], inode=inode, offset=offset))
            else:
                row.inode, row.offset = inode, offset
            await db.commit()
