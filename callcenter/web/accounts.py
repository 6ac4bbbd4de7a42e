"""Logins and their sessions: the repository of the web layer's aggregate. Who may do what with
a login is web/auth.py and web/access.py."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from ..tickets.db import Database
from ..tickets.models import Session, User, now


def token_hash(token: str) -> str:
    """Sessions are stored by their token's hash: a copy of the database logs nobody in."""
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, db: Database):
        self._db = db

    async def add_user(
        self, username: str, password_hash: str, role: str, agency: str | None = None
    ) -> User:
        async with self._db.session() as db:
            user = User(username=username, password_hash=password_hash, role=role, agency=agency)
            db.add(user)
            await db.commit()
            return user

    async def set_password(self, username: str, password_hash: str) -> bool:
        """A new password ends the login's sessions: whoever knew the old one is out too (their
        open consoles close at the live feed's next session check)."""
        async with self._db.session() as db:
            user = await db.scalar(select(User).where(User.username == username))
            if user is None:
                return False
            user.password_hash = password_hash
            await db.execute(delete(Session).where(Session.user_id == user.id))
            await db.commit()
            return True

    async def users(self) -> list[User]:
        async with self._db.session() as db:
            return list(await db.scalars(select(User).order_by(User.username)))

    async def remove_user(self, username: str) -> bool:
        """Delete a login and, with it (ON DELETE CASCADE), every session it has. Tickets keep
        the name it acted under: their trail names people, not rows."""
        async with self._db.session() as db:
            user = await db.scalar(select(User).where(User.username == username))
            if user is None:
                return False
            await db.delete(user)
            await db.commit()
            return True

    async def user_by_name(self, username: str) -> User | None:
        async with self._db.session() as db:
            return await db.scalar(select(User).where(User.username == username))

    async def start_session(self, user: User, token: str, lifetime: timedelta) -> None:
        async with self._db.session() as db:
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
        async with self._db.session() as db:
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
        async with self._db.session() as db:
            in_force = await db.scalars(
                select(Session.token_hash).where(
                    Session.token_hash.in_(list(by_hash)), Session.expires_at > now()
                )
            )
            return {by_hash[h] for h in in_force}

    async def end_session(self, token: str) -> None:
        async with self._db.session() as db:
            session = await db.get(Session, token_hash(token))
            if session is not None:
                await db.delete(session)
                await db.commit()
