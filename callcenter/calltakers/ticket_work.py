"""What a call-taker does to a ticket at the console: edit what/where/who, the place, the
category, flags and protocol ticks, and close it with the call's type. The body is checked
(tickets/edits.py) before anything is stored; the change itself is a lifecycle rule."""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..refused import Refused, Why
from ..speech.meaning import Gazetteer
from ..tickets.edits import EditError, parse_edit, parse_outcome
from ..tickets.lifecycle import AlreadyClosed
from ..tickets.models import Ticket
from ..tickets.repository import Tickets
from .protocols import Protocols


class TicketRefused(Refused):
    """No such ticket, a field that is wrong, or a ticket closed already."""


class TicketWork:
    def __init__(self, config: Config, tickets: Tickets, protocols: Protocols, places: Gazetteer):
        self._categories = set(config.categories)
        self._tickets = tickets
        self._protocols = protocols
        self._places = places

    async def edit(self, ticket_id: int, body: dict[str, Any], actor: str) -> Ticket:
        """Each edit that changes something is one `edited` event with the editor's name."""
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            raise TicketRefused("no such ticket", Why.NOT_FOUND)
        items = self._protocols.items()
        try:
            edit = parse_edit(
                body,
                categories=self._categories,
                places=self._places.districts(),
                items=set(items) | set(ticket.checklist),  # an old tick can always be taken back
            )
        except EditError as e:
            raise TicketRefused(str(e), Why.BAD_REQUEST) from None
        if edit.empty:
            raise TicketRefused("nothing to change", Why.BAD_REQUEST)
        edited = await self._tickets.edit(ticket_id, edit, actor, items)
        if edited is None:  # tickets are never deleted; kept for the type's sake
            raise TicketRefused("no such ticket", Why.NOT_FOUND)
        return edited

    async def close(self, ticket_id: int, body: dict[str, Any], actor: str) -> Ticket:
        """Close with the call's type; a closed ticket keeps its first outcome."""
        try:
            outcome = parse_outcome(body)
            closed = await self._tickets.close(ticket_id, outcome, actor)
        except EditError as e:
            raise TicketRefused(str(e), Why.BAD_REQUEST) from None
        except AlreadyClosed as e:
            raise TicketRefused(str(e), Why.CONFLICT) from None
        if closed is None:
            raise TicketRefused("no such ticket", Why.NOT_FOUND)
        return closed
