"""Who may do what: the roles, the sets of roles each page and route admits, and the rule that a
call-taker steers only their own desk and the calls they answered. Every handler asks here."""

from __future__ import annotations

from enum import StrEnum

from ..calltakers.calls import answered_by
from ..config import Config
from ..tickets.models import Call, User


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
