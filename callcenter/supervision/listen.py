"""Listen, whisper, barge: a supervisor's own phone rings into ChanSpy on the call-taker's channel.

Listening hears caller and call-taker and is heard by neither; whispering is heard by the
call-taker only (coaching); barging is heard by both. Every use is a ticket event with the
supervisor's name: callers' calls are not listened to unrecorded.
"""

from __future__ import annotations

from typing import Protocol

from ..config import Config
from ..refused import Refused, Why
from ..tickets.calls import Calls

# ChanSpy options added to "qE" (quiet, end with the spied call) for each mode.
MODES = {"listen": "", "whisper": "w", "barge": "B"}


class ListenPort(Protocol):
    async def ring_to_listen(
        self, supervisor: str, calltaker_channel: str, options: str, caller_id: str
    ) -> None: ...


class ListenError(Refused):
    """No listening in: a bad mode, no supervisor phone, no such call, or nobody on it yet."""


class ListenIn:
    def __init__(self, config: Config, calls: Calls, telephony: ListenPort):
        self._config = config
        self._calls = calls
        self._telephony = telephony

    async def listen(self, unique_id: str, mode: str, username: str) -> None:
        if mode not in MODES:
            raise ListenError(f"mode must be one of {', '.join(MODES)}", Why.BAD_REQUEST)
        phone = self._config.supervisor_phone_of(username)
        if phone is None:
            raise ListenError(
                f"no supervisor phone for {username} ([[supervisor_phones]])", Why.CONFLICT
            )
        call = await self._calls.call(unique_id)
        if call is None:
            raise ListenError("no such call", Why.NOT_FOUND)
        if call.ended_at is not None:
            raise ListenError("the call has ended")
        if not call.calltaker_channel:
            raise ListenError("no call-taker has the call yet")
        await self._telephony.ring_to_listen(
            phone.interface,
            call.calltaker_channel,
            MODES[mode],
            caller_id=f"{mode} tiket {call.ticket_id}",
        )
        await self._calls.note(
            unique_id, username, "supervisor-listening", {"mode": mode, "phone": phone.extension}
        )
