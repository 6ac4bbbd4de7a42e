"""`unanswered`: no target of the agency answered; raise the alert."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..routing import overflow as agency_overflow
from ..telephony.channel import Channel

if TYPE_CHECKING:
    from . import RouteDeps


async def unanswered(channel: Channel, deps: RouteDeps) -> None:
    await agency_overflow.unanswered(channel, deps.dispatcher)
