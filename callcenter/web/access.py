"""Who may do what: the roles, the sets of roles each page and route admits, and the rule that a
call-taker steers only their own desk and the calls they answered, and edits and hears only the
tickets answered there. Every handler asks here."""

from __future__ import annotations

from enum import StrEnum

from ..calltakers.calls import answered_by
from ..config import Config
from ..tickets.models import Call, Ticket, User


class Role(StrEnum):
    CALLTAKER = "call-taker"
    SUPERVISOR = "supervisor"
    AGENCY = "agency"
    ADMIN = "admin"


# Everyone with a login: agencies read their own tickets.
READERS = (Role.CALLTAKER, Role.SUPERVISOR, Role.ADMIN, Role.AGENCY)
# The people at the 112 desk: they edit tickets and steer live calls.
DESK = (Role.CALLTAKER, Role.SUPERVISOR, Role.ADMIN)
# Who may act on another call-taker's desk or call, see every desk and the board, read reports and
# edit protocol cards.
OVERSEERS = (Role.SUPERVISOR, Role.ADMIN)
ADMINS = (Role.ADMIN,)


def oversees(user: User) -> bool:
    return user.role in OVERSEERS


def steers_desk(config: Config, user: User, extension: str) -> bool:
    """A call-taker steers only the desk their login drives (joins the queue, pauses, calls back
    from it); an overseer any desk."""
    if oversees(user):
        return True
    phone = config.calltaker_of(user.username)
    return phone is not None and phone.extension == extension


def steers_call(config: Config, user: User, call: Call) -> bool:
    """A call-taker steers only the call they answered; an overseer any call."""
    return oversees(user) or answered_by(config, user.username, call)


def _answered_here(config: Config, user: User, ticket: Ticket) -> bool:
    return any(answered_by(config, user.username, call) for call in ticket.calls)


def edits_ticket(config: Config, user: User, ticket: Ticket) -> bool:
    """A call-taker edits and closes the tickets of calls answered at their desk, and tickets no
    desk has answered (a caller who hung up while waiting, whom anyone may call back); never a
    ticket another desk answered and is working on. An overseer edits any ticket. (Loaded with
    its calls.)"""
    if oversees(user):
        return True
    return not any(call.calltaker for call in ticket.calls) or _answered_here(config, user, ticket)


def hears_recording(config: Config, user: User, ticket: Ticket) -> bool:
    """Who may play a ticket's recording: an overseer, or the call-taker who answered one of its
    calls (to hear an address again). Not another desk, not an agency."""
    return oversees(user) or _answered_here(config, user, ticket)
