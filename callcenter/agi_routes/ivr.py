"""`ivr`: the caller heard the welcome; open the ticket, run the menu, hand the call to the queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ivr import flow
from ..ivr.channel import Channel

if TYPE_CHECKING:
    from . import RouteDeps


async def ivr(channel: Channel, deps: RouteDeps) -> None:
    # The flow writes its own answer (ticket id, category, priority…): it talks to the channel
    # throughout the call, not only at the end.
    await flow.ivr(channel, deps.calls, deps.restrictions, deps.menu, deps.describer())
