"""`answered`: on the agency's channel, the moment it picks up an overflowing call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..routing import overflow as agency_overflow
from ..telephony.channel import Channel

if TYPE_CHECKING:
    from . import RouteDeps


async def answered(channel: Channel, deps: RouteDeps) -> None:
    await agency_overflow.answered(channel, deps.dispatches)
