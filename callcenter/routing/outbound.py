"""Each assignment and status change, posted to the agency's own systems when it has a webhook
(`webhook_url` in its [[agencies]] entry, signed with its secret: webhooks.py).

It follows the view messages on the bus, as the live views do, so it sees every change once it is
committed, whoever made it (the agency's page, its desk phone, a supervisor, the deadlines), and
it never holds up the change: the sender only queues. What a receiver gets:

    {"event": "assigned" | "status", "ticket": {...}, "assignment": {...}, "agency": "<id>",
     "status": "<new status>", "previous": "<old status>" | null, "at": "<ISO time>",
     "actor": "<who moved it>"}

`ticket` is what the agency needs to respond (category, what/where/who, place); the caller's
number only when the agency's `show_caller_number` is on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import suppress
from typing import Any

from ..config import Agency, Config
from ..live.bus import Bus, Subscription
from ..live.messages import AssignmentChanged, ViewMessage
from ..tickets.models import Ticket
from ..tickets.repository import Tickets
from .webhooks import WebhookSender

log = logging.getLogger(__name__)


def webhook_ticket(ticket: Ticket, agency: Agency) -> dict[str, Any]:
    """The ticket as the agency's systems receive it."""
    data: dict[str, Any] = {
        "id": ticket.id,
        "category": ticket.category,
        "priority": ticket.priority,
        "what": ticket.what,
        "where": ticket.where,
        "who": ticket.who,
        "kecamatan": ticket.kecamatan,
        "kelurahan": ticket.kelurahan,
        "address": ticket.address,
        "landmark": ticket.landmark,
        "arrived_at": ticket.arrived_at.isoformat(),
    }
    if agency.show_caller_number:
        data["caller_number"] = ticket.caller_number
    return data


def payload_of(change: AssignmentChanged, agency: Agency, ticket: Ticket | None) -> dict[str, Any]:
    """What the agency's webhook receives about one change (`ticket` None: it could not be read;
    the receiver still learns the status, with the ticket's id)."""
    return {
        "event": "assigned" if change.previous is None else "status",
        "ticket": webhook_ticket(ticket, agency)
        if ticket is not None
        else {"id": change.ticket_id},
        "assignment": change.assignment,
        "agency": change.agency,
        "status": change.status,
        "previous": change.previous,
        "at": change.at.isoformat(),
        "actor": change.actor,
    }


class Outbound:
    """Follows the bus and hands each assignment change of an agency with a webhook to the sender.
    Subscribed when built, so nothing published before `start` is missed."""

    def __init__(self, config: Config, bus: Bus, tickets: Tickets, sender: WebhookSender):
        self._config = config
        self._bus = bus
        self._tickets = tickets
        self.sender = sender
        self._subscription: Subscription = bus.subscribe()
        # What a dropped subscription still held, sent before anything newer.
        self._backlog: deque[ViewMessage | None] = deque()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="agency-webhooks")

    async def stop(self) -> None:
        """Stop following, then stop the sender (pending deliveries are dropped: see webhooks)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._subscription.close()
        await self.sender.stop()

    async def _follow(self) -> None:
        while True:
            if self._subscription.dropped:
                self._catch_up()
            if self._backlog:
                message: ViewMessage | None = self._backlog.popleft()
            else:
                message = await self._subscription.next()
            if isinstance(message, AssignmentChanged):
                try:
                    await self.deliver(message)
                except Exception:  # one bad change must not stop the webhooks of every other
                    log.exception(
                        "ticket %d: the webhook of %s failed", message.ticket_id, message.agency
                    )

    def _catch_up(self) -> None:
        """The bus dropped our subscription, its queue full. Follow it again from now, and keep
        what the old queue holds to send first: those changes were published before any of the
        new subscription's. Only what was published while we were off the bus is lost (the
        change that overflowed the queue, and any after it until now)."""
        old = self._subscription
        self._subscription = self._bus.subscribe()
        while not old.queue.empty():
            self._backlog.append(old.queue.get_nowait())
        # The receiver reads the current state of what it missed from the EIDO endpoint.
        log.error(
            "agency webhooks fell behind the live bus: changes published while it was full were "
            "not sent; %d queued before are sent now",
            len(self._backlog),
        )

    async def deliver(self, change: AssignmentChanged) -> str | None:
        """Queue the change for its agency's webhook; its event id, None if it has none."""
        agency = self._config.agency(change.agency)
        if agency is None or not agency.webhook_url:
            return None
        try:
            ticket = await self._tickets.get(change.ticket_id)
        except Exception:  # the database hiccuped: the status still goes out, without details
            log.exception("ticket %d: read for the webhook failed", change.ticket_id)
            ticket = None
        payload = payload_of(change, agency, ticket)
        return self.sender.send(agency.id, agency.webhook_url, agency.webhook_secret, payload)


def subscribe(config: Config, bus: Bus, tickets: Tickets) -> Outbound:
    """The webhooks of every agency that has one, following the bus from now (start it with the
    centre, stop it on shutdown)."""
    return Outbound(config, bus, tickets, WebhookSender())
