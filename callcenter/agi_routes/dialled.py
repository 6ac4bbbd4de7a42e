"""`dialled`: Dial() to an agency returned; record how it went."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..routing import overflow as agency_overflow
from ..telephony.channel import Channel

if TYPE_CHECKING:
    from . import RouteDeps


async def dialled(channel: Channel, deps: RouteDeps) -> None:
    await agency_overflow.dialled(channel, deps.dispatches)
