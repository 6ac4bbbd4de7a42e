"""Supervisors' edits of the protocol cards, kept in the database so they outlive a restart and
win over the shipped cards (protocols.py)."""

from __future__ import annotations

from sqlalchemy import select

from ..tickets.db import Database
from ..tickets.models import ProtocolCard, now


class ProtocolCards:
    def __init__(self, db: Database):
        self._db = db

    async def all(self) -> list[ProtocolCard]:
        async with self._db.session() as db:
            return list(await db.scalars(select(ProtocolCard)))

    async def save(
        self, category: str, ask: list[str], tell: list[str], actor: str
    ) -> ProtocolCard:
        async with self._db.session() as db:
            card = await db.get(ProtocolCard, category)
            if card is None:
                card = ProtocolCard(category=category)
                db.add(card)
            card.ask, card.tell, card.updated_by, card.updated_at = ask, tell, actor, now()
            await db.commit()
            return card
