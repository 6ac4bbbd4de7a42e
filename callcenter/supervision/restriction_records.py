"""Restrictions of prank callers and their audit trail: the repository of supervision's
aggregate. The policy (levels, who may restrict, what a restriction does) is restrictions.py."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ..tickets.db import Database
from ..tickets.models import Restriction, RestrictionEvent, Ticket, now


class RestrictionRecords:
    def __init__(self, db: Database):
        self._db = db

    async def restrict(
        self,
        number: str,
        reason: str,
        evidence: list[int],
        actor: str,
        level_days: list[int],
    ) -> Restriction:
        """Restrict a number at the next level of the policy (its earlier restrictions count)."""
        async with self._db.session() as db:
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
            return await self._with_trail(db, restriction.id)

    async def lift(self, restriction_id: int, actor: str, reason: str) -> Restriction | None:
        async with self._db.session() as db:
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
            return await self._with_trail(db, restriction_id)

    async def _with_trail(self, db: AsyncSession, restriction_id: int) -> Restriction:
        """A restriction with its audit trail loaded (fresh: the caller reads it after commit)."""
        db.expunge_all()
        return (
            await db.scalars(
                select(Restriction)
                .where(Restriction.id == restriction_id)
                .options(selectinload(Restriction.events))
            )
        ).one()

    async def callers_of(self, ticket_ids: list[int]) -> dict[int, str]:
        """The caller's number of each of these tickets that exists."""
        if not ticket_ids:
            return {}
        async with self._db.session() as db:
            rows = await db.execute(
                select(Ticket.id, Ticket.caller_number).where(Ticket.id.in_(ticket_ids))
            )
            return {ticket_id: number for ticket_id, number in rows}

    async def active(self, number: str) -> Restriction | None:
        if not number:
            return None
        at = now()
        async with self._db.session() as db:
            return await db.scalar(
                select(Restriction)
                .where(
                    Restriction.number == number[:64],
                    Restriction.lifted_at.is_(None),
                    or_(Restriction.until.is_(None), Restriction.until > at),
                )
                .order_by(Restriction.id.desc())
            )

    async def applied(self, restriction_id: int, ticket_id: int) -> None:
        """A restricted number called: the call is on the restriction's audit trail."""
        async with self._db.session() as db:
            db.add(
                RestrictionEvent(
                    restriction_id=restriction_id,
                    actor="ivr",
                    kind="applied",
                    data={"ticket_id": ticket_id},
                )
            )
            await db.commit()

    async def in_force_or_since(self, since: datetime) -> list[Restriction]:
        """Restrictions in force, and those created or lifted since `since`, newest first."""
        at = now()
        async with self._db.snapshot() as db:
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
