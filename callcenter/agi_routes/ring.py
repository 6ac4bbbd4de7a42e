"""`ring`: the dialplan is about to ring one of the agency's targets; record the attempt."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..routing import overflow as agency_overflow
from ..telephony.channel import Channel

if TYPE_CHECKING:
    from . import RouteDeps


async def ring(channel: Channel, deps: RouteDeps) -> None:
    await agency_overflow.ring(channel, deps.dispatches, deps.config)
