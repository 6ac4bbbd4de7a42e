"""`callback`: the dial back to a caller who abandoned is over; record it on their ticket."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..supervision import callbacks
from ..telephony.channel import Channel

if TYPE_CHECKING:
    from . import RouteDeps


async def callback(channel: Channel, deps: RouteDeps) -> None:
    await callbacks.dialled(channel, deps.tickets)
