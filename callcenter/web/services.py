"""What the web handlers work with: one typed bundle, built once in app.py's Centre."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from ..calltakers.calls import CallControl
from ..calltakers.desk import DeskService
from ..calltakers.protocols import Protocols
from ..config import Config
from ..live.bus import Bus
from ..routing.dispatch import Dispatcher
from ..speech.meaning import Gazetteer
from ..supervision.board import Board
from ..supervision.callbacks import Callbacks
from ..supervision.listen import ListenIn
from ..supervision.restrictions import Restrictions
from ..tickets.reports import Reports
from ..tickets.store import TicketStore


@dataclass(frozen=True)
class Services:
    config: Config
    store: TicketStore
    bus: Bus
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


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
