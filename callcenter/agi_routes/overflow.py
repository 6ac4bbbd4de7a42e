"""`overflow`: no call-taker took the call; tell the dialplan which agency to ring, and how."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..routing import overflow as agency_overflow
from ..telephony.channel import Channel

if TYPE_CHECKING:
    from . import RouteDeps


async def overflow(channel: Channel, deps: RouteDeps) -> None:
    await agency_overflow.overflow(channel, deps.calls, deps.config)
