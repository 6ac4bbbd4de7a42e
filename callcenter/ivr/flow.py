"""The `ivr` FastAGI route: open the ticket, greet the caller, hand the call to the queue.

The flow talks only to the Channel interface and the ticket store, so it is plain Python.
"""

from __future__ import annotations

import logging

from ..live.events import CallRef
from ..tickets.store import TicketStore
from . import variables
from .channel import Channel

log = logging.getLogger(__name__)

WELCOME = "id/welcome"


async def ivr(channel: Channel, tickets: TicketStore) -> None:
    """Open the call's ticket first (so it exists even if the caller hangs up at once), then greet.

    Returning hands the call back to the dialplan, which queues it: the IVR never hangs up.
    """
    ticket = await tickets.open_ticket(
        CallRef(
            unique_id=channel.unique_id,
            channel=channel.channel_name,
            linked_id=channel.linked_id,
            caller_number=channel.caller_number,
            caller_name=channel.caller_name,
        ),
        source="ivr",
    )
    await channel.set_variable(variables.TICKET_ID, str(ticket.id))
    await channel.answer()
    await channel.play(WELCOME)
    await channel.set_variable(variables.IVR_RESULT, "done")
    await tickets.ivr_done(channel.unique_id, {"ticket_id": str(ticket.id)})
    log.info("call %s: IVR done, ticket %d to the queue", channel.unique_id, ticket.id)
