"""What the web handlers work with: one typed bundle, built once in app.py's Centre."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from ..calltakers.calls import CallControl
from ..calltakers.desk import DeskService
from ..calltakers.protocols import Protocols
from ..calltakers.ticket_work import TicketWork
from ..config import Config
from ..live.bus import Bus
from ..routing.assignments import Assignments
from ..routing.callouts import Callouts
from ..routing.dispatch import Dispatcher
from ..speech.meaning import Gazetteer
from ..supervision.board import Board
from ..supervision.callbacks import Callbacks
from ..supervision.listen import ListenIn
from ..supervision.restrictions import Restrictions
from ..tickets.calls import Calls
from ..tickets.reports import Reports
from ..tickets.repository import Tickets
from .accounts import Accounts


@dataclass(frozen=True)
class Services:
    config: Config
    bus: Bus
    accounts: Accounts
    # Reads of tickets and calls; changes go through the services below.
    tickets: Tickets
    call_log: Calls
    ticket_work: TicketWork
    dispatcher: Dispatcher
    desks: DeskService
    calls: CallControl
    protocols: Protocols
    gazetteer: Gazetteer
    reports: Reports
    board: Board
    listen: ListenIn
    callbacks: Callbacks
    restrictions: Restrictions
    # Assigning a ticket to an agency without a phone bridge (its desk phone is called).
    callouts: Callouts
    # The agency loop's records: open assignments, status moves.
    assignments: Assignments


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
