"""What each call-taker is doing, from what the queue tells us. Plain logic, no I/O.

    logged-out ─(joins the queue)─▶ available ─(a call rings)─▶ ringing ─(answers)─▶ on-call
        ▲                             ▲  │                         │ (rings out)       │
        │                             │  └──(pauses)─▶ paused      ▼                   ▼
        └──────(leaves the queue)─────┴──────────── available ◀── wrap-up ◀── (call ends)

Asterisk's queue-member events each carry the member's whole record (device state, paused,
in-call, when the last call ended, wrap-up time), so the state is derived from the latest record,
never accumulated from deltas: a missed event heals with the next one, and a resync after a
reconnect simply replaces every record. Time in state (`since`) is kept here: the first moment
a state was seen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from ..config import Phone
from ..live.facts import QueueMember

# Asterisk device states (include/asterisk/devicestate.h).
_IN_USE = {2, 3, 8}  # in use, busy, on hold
_RINGING = {6, 7}  # ringing, ringing while in use
_UNREACHABLE = {4, 5}  # invalid, unavailable: the phone is not registered


class DeskState(StrEnum):
    LOGGED_OUT = "logged-out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"  # the call ended; the queue waits `wrapup` seconds before the next
    PAUSED = "paused"
    UNREACHABLE = (
        "unreachable"  # in the queue, but their phone is not registered: no calls reach them
    )


def derive(member: QueueMember | None, now: datetime) -> tuple[DeskState, datetime | None]:
    """The state a member record means at `now`, and until when (wrap-up only)."""
    if member is None:
        return DeskState.LOGGED_OUT, None
    if member.in_call or member.device in _IN_USE:
        return DeskState.ON_CALL, None
    if member.device in _RINGING:
        return DeskState.RINGING, None
    if member.paused:
        return DeskState.PAUSED, None
    if member.device in _UNREACHABLE:
        return DeskState.UNREACHABLE, None
    if member.last_call and member.wrapup:
        until = datetime.fromtimestamp(member.last_call, UTC) + timedelta(seconds=member.wrapup)
        if until > now:
            return DeskState.WRAP_UP, until
    return DeskState.AVAILABLE, None


@dataclass(frozen=True)
class Desk:
    """One call-taker's desk as the console and the board show it."""

    extension: str
    name: str
    username: str
    state: DeskState
    since: datetime
    member: QueueMember | None = None
    until: datetime | None = None  # end of wrap-up
    # The caller's call ringing at or connected to this desk (Asterisk unique id).
    unique_id: str | None = None

    @property
    def paused(self) -> bool:
        return self.member is not None and self.member.paused

    def as_json(self) -> dict[str, Any]:
        member = self.member
        return {
            "extension": self.extension,
            "name": self.name,
            "username": self.username,
            "state": self.state.value,
            "since": self.since.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "in_queue": member is not None,
            "paused": self.paused,
            "reason": member.reason if member and member.paused else "",
            "calls_taken": member.calls_taken if member else 0,
            "unique_id": self.unique_id,
        }


class Desks:
    """Every configured call-taker's desk. Each method returns the desks whose state (or call)
    changed, for the caller to publish."""

    def __init__(self, calltakers: list[Phone], at: datetime):
        self._desks = {
            p.interface: Desk(p.extension, p.name, p.username, DeskState.LOGGED_OUT, at)
            for p in calltakers
        }

    def all(self) -> list[Desk]:
        return list(self._desks.values())

    def of_extension(self, extension: str) -> Desk | None:
        return next((d for d in self._desks.values() if d.extension == extension), None)

    def member_changed(self, member: QueueMember, logged_in: bool, at: datetime) -> list[Desk]:
        return self._set(member.interface, member if logged_in else None, at)

    def resynced(self, members: list[QueueMember], at: datetime) -> list[Desk]:
        by_interface = {m.interface: m for m in members}
        changed: list[Desk] = []
        for interface in self._desks:
            changed += self._set(interface, by_interface.get(interface), at)
        return changed

    def call_at(self, interface: str, unique_id: str | None) -> list[Desk]:
        """Which caller is ringing at or talking to this desk (None: the call left it)."""
        desk = self._desks.get(interface)
        if desk is None or desk.unique_id == unique_id:
            return []
        self._desks[interface] = replace(desk, unique_id=unique_id)
        return [self._desks[interface]]

    def call_left(self, interface: str, unique_id: str) -> list[Desk]:
        desk = self._desks.get(interface)
        if desk is None or desk.unique_id != unique_id:
            return []  # a later call already rings there
        return self.call_at(interface, None)

    def call_ended(self, unique_id: str) -> list[Desk]:
        """The caller hung up: no desk has their call any more."""
        changed: list[Desk] = []
        for interface, desk in list(self._desks.items()):
            if desk.unique_id == unique_id:
                changed += self.call_at(interface, None)
        return changed

    def tick(self, at: datetime) -> list[Desk]:
        """Wrap-ups that ended by `at` (no event marks that moment)."""
        changed: list[Desk] = []
        for interface, desk in self._desks.items():
            if desk.state == DeskState.WRAP_UP:
                changed += self._set(interface, desk.member, at)
        return changed

    def next_wrapup_end(self) -> datetime | None:
        ends = [d.until for d in self._desks.values() if d.until is not None]
        return min(ends) if ends else None

    def _set(self, interface: str, member: QueueMember | None, at: datetime) -> list[Desk]:
        desk = self._desks.get(interface)
        if desk is None:
            return []  # a queue member we do not know (added by hand on the Asterisk CLI)
        state, until = derive(member, at)
        since = desk.since if state == desk.state else at
        updated = replace(desk, state=state, since=since, member=member, until=until)
        if state == DeskState.LOGGED_OUT:
            updated = replace(updated, unique_id=None)
        self._desks[interface] = updated
        shown = (desk.state, desk.until, desk.paused, desk.member and desk.member.reason)
        if shown == (state, until, updated.paused, member and member.reason):
            return []
        return [updated]
