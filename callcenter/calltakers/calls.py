"""What a call-taker does with the call they answered: hold it, take it back, hang it up.

Hold has no AMI action of its own, so it uses the dialplan: the caller goes to music on hold
(`public,112,onhold`), the call-taker's phone to a waiting loop (`dispatch,held`); taking the call
back brings both into the ticket's conference (the same one an agency is later brought into).
Both waits are bounded in the dialplan, and a caller who hangs up while held releases the desk.
"""

from __future__ import annotations

import logging
from typing import Protocol

from ..config import Config
from ..live.facts import CallEnded
from ..refused import Refused
from ..routing.dispatch_log import DispatchLog
from ..tickets.calls import Calls
from ..tickets.models import Call

log = logging.getLogger(__name__)


class CallPort(Protocol):
    async def hold(self, caller_channel: str, calltaker_channel: str) -> None: ...

    async def join_conference(
        self, caller_channel: str, calltaker_channel: str, conference: str
    ) -> None: ...

    async def hang_up(self, channel: str) -> None: ...


class CallError(Refused):
    """The call cannot do that now; the message says why."""


def answered_by(config: Config, username: str, call: Call) -> bool:
    """Whether this login's phone is the call-taker who has the call."""
    phone = config.calltaker_of(username)
    return phone is not None and call.calltaker == phone.interface


class CallControl:
    def __init__(self, calls: Calls, dispatches: DispatchLog, telephony: CallPort):
        self._calls = calls
        self._dispatches = dispatches
        self._telephony = telephony

    async def hold(self, call: Call, actor: str) -> None:
        if call.held:
            raise CallError("the call is already on hold")
        if not call.calltaker_channel or not call.channel:
            raise CallError("no call-taker has answered this call yet")
        if await self._dispatches.agency_on_call(call.unique_id):
            raise CallError("an agency is with the caller: leave the conference instead")
        # Recorded first: the queue reports the call complete as it moves, and the desk must
        # already know the call is only on hold.
        await self._calls.set_held(call.unique_id, True, actor)
        try:
            await self._telephony.hold(call.channel, call.calltaker_channel)
        except Exception:
            await self._calls.set_held(call.unique_id, False, "system")
            raise

    async def resume(self, call: Call, actor: str) -> None:
        if not call.held or not call.calltaker_channel or not call.channel:
            raise CallError("the call is not on hold")
        conference = call.conference or f"ticket-{call.ticket_id}"
        await self._telephony.join_conference(call.channel, call.calltaker_channel, conference)
        await self._calls.set_conference(call.unique_id, conference)
        await self._calls.set_held(call.unique_id, False, actor)

    async def hang_up(self, call: Call, actor: str) -> None:
        if not call.channel:
            raise CallError("the call's channel is not known")
        await self._calls.note(call.unique_id, actor, "hung-up-by-calltaker", {})
        await self._telephony.hang_up(call.channel)

    async def call_ended(self, event: CallEnded) -> None:
        """The caller hung up: a call-taker still waiting on hold for them is released."""
        call = await self._calls.call(event.call.unique_id)
        if call is not None and call.held and call.calltaker_channel:
            log.info("call %s ended on hold: releasing %s", call.unique_id, call.calltaker)
            await self._calls.set_held(call.unique_id, False, "asterisk")
            try:
                await self._telephony.hang_up(call.calltaker_channel)
            except Exception:
                log.exception("call %s: could not release %s", call.unique_id, call.calltaker)
