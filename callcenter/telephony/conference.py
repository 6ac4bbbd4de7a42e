"""The dispatch port over AMI: Redirect the caller and call-taker into a ConfBridge, Originate the
agency into it. The dialplan side (contexts `dispatch` and `public,112,conference`) is in
extensions.conf; the conference profiles in confbridge.conf."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..ivr import variables
from ..routing.dispatch import DispatchError, Ringing
from .ami import AmiClient

log = logging.getLogger(__name__)

# OriginateResponse "Reason": Asterisk's control frame that ended the attempt.
_REASONS = {"0": "failed", "1": "no-answer", "3": "no-answer", "5": "busy", "8": "failed"}


def _ok(reply: Any) -> bool:
    first = reply[0] if isinstance(reply, list) and reply else reply
    return bool(getattr(first, "success", False))


class AmiTelephony:
    def __init__(self, ami: AmiClient):
        self._ami = ami

    async def join_conference(
        self, caller_channel: str, calltaker_channel: str, conference: str
    ) -> None:
        for channel in (caller_channel, calltaker_channel):
            reply = await self._ami.send(
                {
                    "Action": "Setvar",
                    "Channel": channel,
                    "Variable": variables.CONFERENCE,
                    "Value": conference,
                }
            )
            if not _ok(reply):
                raise DispatchError(f"the call's channel {channel} is gone")
        # Both at once, so neither is left alone in the queue's bridge (and hung up).
        reply = await self._ami.send(
            {
                "Action": "Redirect",
                "Channel": caller_channel,
                "Context": "public",
                "Exten": "112",
                "Priority": "conference",
                "ExtraChannel": calltaker_channel,
                "ExtraContext": "dispatch",
                "ExtraExten": "calltaker",
                "ExtraPriority": "1",
            }
        )
        if not _ok(reply):
            raise DispatchError(
                f"Asterisk refused to move the call: {getattr(reply, 'message', '')}"
            )

    async def ring_into_conference(
        self, target: str, conference: str, leg_id: str, timeout: int, caller_id: str
    ) -> Ringing:
        action = {
            "Action": "Originate",
            "Channel": target,
            "Context": "dispatch",
            "Exten": "agency",
            "Priority": "1",
            "Timeout": str(timeout * 1000),
            "CallerID": f'"{caller_id}" <112>',
            "Variable": f"{variables.CONFERENCE}={conference}",
            # The agency channel's unique id: its Hangup event then names the dispatch.
            "ChannelId": leg_id,
            "Async": "true",
        }
        try:
            reply = await asyncio.wait_for(self._ami.send(action), timeout + 15)
        except TimeoutError:
            return Ringing(False, "failed", "no OriginateResponse from Asterisk")
        messages = reply if isinstance(reply, list) else [reply]
        result = next((m for m in messages if m.get("Event") == "OriginateResponse"), None)
        if result is None:
            return Ringing(False, "failed", str(getattr(messages[0], "message", ""))[:64])
        if result.get("Response") == "Success":
            return Ringing(True)
        code = str(result.get("Reason", "0"))
        return Ringing(False, _REASONS.get(code, "failed"), f"reason {code}")
