"""The actions the controller takes on calls, over AMI: call-takers join, pause in and leave the
queue (QueueAdd/QueuePause/QueueRemove); a call moves into its ConfBridge (Redirect) and an agency
is rung into it (Originate); a caller goes on hold or is hung up.

The dialplan side (`public,112,conference|onhold`, context `dispatch`) is in extensions.conf, its
names in telephony/dialplan.py; the conference profiles in confbridge.conf. It implements the
ports of routing.dispatch (Telephony), routing.callouts (DeskPhones), calltakers.desk
(QueuePort), calltakers.calls (CallPort), supervision.listen (ListenPort) and
supervision.callbacks (CallbackPort). An agency's desk phone is also called about an
assignment (Originate into `agency-callout`)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from ..refused import Refused, Why
from ..routing.dispatch import DispatchError, Ringing
from . import dialplan
from .ami import AmiClient, TelephonyUnavailable

log = logging.getLogger(__name__)

# OriginateResponse "Reason": Asterisk's control frame that ended the attempt.
_REASONS = {"0": "failed", "1": "no-answer", "3": "no-answer", "5": "busy", "8": "failed"}


def _rung(reply: Any) -> Ringing:
    """How an originated call's ringing ended, from its OriginateResponse."""
    messages = reply if isinstance(reply, list) else [reply]
    result = next((m for m in messages if m.get("Event") == "OriginateResponse"), None)
    if result is None:
        return Ringing(False, "failed", str(getattr(messages[0], "message", ""))[:64])
    if result.get("Response") == "Success":
        return Ringing(True)
    code = str(result.get("Reason", "0"))
    return Ringing(False, _REASONS.get(code, "failed"), f"reason {code}")


def _ok(reply: Any) -> bool:
    first = reply[0] if isinstance(reply, list) and reply else reply
    return bool(getattr(first, "success", False))


class AmiRefused(Refused):
    """Asterisk answered an action with an error; the message is Asterisk's."""

    def __init__(self, message: str):
        super().__init__(message, Why.TELEPHONY)


class AmiTelephony:
    def __init__(self, ami: AmiClient):
        self._ami = ami

    async def _must(self, action: dict[str, str]) -> None:
        reply = await self._ami.send(action, single=True)
        if not _ok(reply):
            first = reply[0] if isinstance(reply, list) and reply else reply
            raise AmiRefused(str(getattr(first, "message", "") or first)[:200])

    # ---- the queue --------------------------------------------------------------------------

    async def join_queue(
        self, queue: str, interface: str, name: str, paused: bool, reason: str
    ) -> None:
        await self._must(
            {
                "Action": "QueueAdd",
                "Queue": queue,
                "Interface": interface,
                "MemberName": name,
                # Device state of the phone itself: ringing, in use, unregistered.
                "StateInterface": interface,
                "Paused": "true" if paused else "false",
                "Reason": reason,
            }
        )

    async def leave_queue(self, queue: str, interface: str) -> None:
        await self._must({"Action": "QueueRemove", "Queue": queue, "Interface": interface})

    async def pause(self, queue: str, interface: str, paused: bool, reason: str) -> None:
        await self._must(
            {
                "Action": "QueuePause",
                "Queue": queue,
                "Interface": interface,
                "Paused": "true" if paused else "false",
                "Reason": reason,
            }
        )

    async def change_priority(self, queue: str, channel: str, priority: int) -> None:
        """The caller moves in the queue without leaving it. QUEUE_PRIO first: it keeps the
        priority for when they come back to the queue (after a hold, an agency, a call-taker who
        hung up), even when they are not in it now and the move itself is refused."""
        await self.set_join_priority(channel, priority)
        await self._must(
            {
                "Action": "QueueChangePriorityCaller",
                "Queue": queue,
                "Caller": channel,
                "Priority": str(priority),
                # Now, not at the next ring: the caller moves ahead at once.
                "Immediate": "yes",
            }
        )

    async def set_join_priority(self, channel: str, priority: int) -> None:
        await self._must(
            {
                "Action": "Setvar",
                "Channel": channel,
                "Variable": dialplan.QUEUE_PRIORITY,
                "Value": str(priority),
            }
        )

    async def whisper(self, channel: str, prompts: tuple[str, ...]) -> str:
        """Play prompts to a waiting caller over the waiting audio: a Local channel plays them
        into ChanSpy's whisper on the caller's channel (only the caller hears it), and ends.
        Returns the whisper's unique id, for hang_up() when the caller must not hear the rest."""
        whisper = f"{dialplan.WHISPER_PREFIX}{uuid.uuid4().hex}"
        await self._must(
            {
                "Action": "Originate",
                "Channel": f"Local/{dialplan.WHISPER_EXTEN}@{dialplan.WHISPER_CONTEXT}/n",
                "Application": "ChanSpy",
                # q: no beep or name; w: talk to the spied channel; E: end with it; u: the
                # caller's exact channel, so no other channel can be picked.
                "Data": f"{channel},qwEu",
                "ChannelId": whisper,
                "Variable": f"{dialplan.WHISPER_PROMPTS}={'&'.join(prompts)}",
                "CallerID": '"112" <112>',
                "Async": "true",
            }
        )
        return whisper

    # ---- one call ---------------------------------------------------------------------------

    async def hold(self, caller_channel: str, calltaker_channel: str) -> None:
        """The caller to music on hold, the call-taker's phone to a waiting loop: both at once,
        so neither is left alone in the queue's bridge (and hung up)."""
        await self._must(
            {
                "Action": "Redirect",
                "Channel": caller_channel,
                "Context": dialplan.PUBLIC_CONTEXT,
                "Exten": dialplan.EMERGENCY_EXTEN,
                "Priority": dialplan.ONHOLD_LABEL,
                "ExtraChannel": calltaker_channel,
                "ExtraContext": dialplan.DISPATCH_CONTEXT,
                "ExtraExten": dialplan.HELD_EXTEN,
                "ExtraPriority": "1",
            }
        )

    async def ring_to_listen(
        self, supervisor: str, calltaker_channel: str, options: str, caller_id: str
    ) -> None:
        """Ring the supervisor's phone; answered, it spies on the call-taker's channel."""
        await self._must(
            {
                "Action": "Originate",
                "Channel": supervisor,
                "Context": dialplan.SUPERVISE_CONTEXT,
                "Exten": dialplan.SPY_EXTEN,
                "Priority": "1",
                "Timeout": "30000",
                "CallerID": f'"{caller_id}" <112>',
                "Variable": (
                    f"{dialplan.SPY_CHANNEL}={calltaker_channel},{dialplan.SPY_OPTIONS}={options}"
                ),
                "Async": "true",
            }
        )

    async def call_back(self, calltaker: str, target: str, ticket_id: int, leg_id: str) -> None:
        """Ring the call-taker's phone; answered, the dialplan dials the caller (`callback`)."""
        await self._must(
            {
                "Action": "Originate",
                "Channel": calltaker,
                "Context": dialplan.CALLBACK_CONTEXT,
                "Exten": dialplan.START_EXTEN,
                "Priority": "1",
                "Timeout": "30000",
                "CallerID": f'"Telepon balik tiket {ticket_id}" <112>',
                "ChannelId": leg_id,
                "Variable": (
                    f"{dialplan.CALLBACK_TARGET}={target},{dialplan.TICKET_ID}={ticket_id}"
                ),
                "Async": "true",
            }
        )

    async def stop_whisper(self, whisper: str) -> None:
        await self.hang_up(whisper)

    async def hang_up(self, channel: str) -> None:
        await self._must({"Action": "Hangup", "Channel": channel, "Cause": "16"})

    async def join_conference(
        self, caller_channel: str, calltaker_channel: str, conference: str
    ) -> None:
        for channel in (caller_channel, calltaker_channel):
            reply = await self._ami.send(
                {
                    "Action": "Setvar",
                    "Channel": channel,
                    "Variable": dialplan.CONFERENCE,
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
                "Context": dialplan.PUBLIC_CONTEXT,
                "Exten": dialplan.EMERGENCY_EXTEN,
                "Priority": dialplan.CONFERENCE_LABEL,
                "ExtraChannel": calltaker_channel,
                "ExtraContext": dialplan.DISPATCH_CONTEXT,
                "ExtraExten": dialplan.CALLTAKER_LEG_EXTEN,
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
            "Context": dialplan.DISPATCH_CONTEXT,
            "Exten": dialplan.AGENCY_LEG_EXTEN,
            "Priority": "1",
            "Timeout": str(timeout * 1000),
            "CallerID": f'"{caller_id}" <112>',
            "Variable": f"{dialplan.CONFERENCE}={conference}",
            # The agency channel's unique id: its Hangup event then names the dispatch.
            "ChannelId": leg_id,
            "Async": "true",
        }
        try:
            # The answer is the OriginateResponse, after the target's ringing.
            reply = await self._ami.send(action, timeout=timeout + 15)
        except TelephonyUnavailable as e:
            return Ringing(False, "failed", str(e)[:64])
        return _rung(reply)

    async def call_agency_desk(
        self,
        target: str,
        leg_id: str,
        timeout: int,
        caller_id: str,
        assignment_id: int,
        briefing: tuple[str, ...],
    ) -> Ringing:
        """Ring an agency's desk phone about an assignment (routing.callouts' port): answered, it
        hears the briefing and its key comes back as a UserEvent. Waits for the answer or not."""
        action = {
            "Action": "Originate",
            "Channel": target,
            "Context": dialplan.CALLOUT_CONTEXT,
            "Exten": dialplan.START_EXTEN,
            "Priority": "1",
            "Timeout": str(timeout * 1000),
            "CallerID": f'"{caller_id}" <112>',
            "Variable": (
                f"{dialplan.CALLOUT_ASSIGNMENT}={assignment_id},"
                f"{dialplan.CALLOUT_BRIEFING}={'&'.join(briefing)}"
            ),
            # Its UserEvent carries this id: only a callout the controller placed is heard.
            "ChannelId": leg_id,
            "Async": "true",
        }
        try:
            reply = await self._ami.send(action, timeout=timeout + 15)
        except TelephonyUnavailable as e:
            return Ringing(False, "failed", str(e)[:64])
        return _rung(reply)

    # ---- hearing a waiting caller -------------------------------------------------------------

    async def snoop_to_audiosocket(self, unique_id: str, stream_id: str, address: str) -> str:
        """A Local channel into `snoop`: one half spies on the caller `unique_id`, listen-only,
        the other streams what it hears to AudioSocket `address` as `stream_id`. Returns the
        streaming half's unique id, for hang_up()."""
        snoop = f"{dialplan.SNOOP_PREFIX}{stream_id}"
        await self._must(
            {
                "Action": "Originate",
                # /n: never optimised away; the two halves run applications, never a bridge.
                "Channel": f"Local/{dialplan.SNOOP_SPY_EXTEN}@{dialplan.SNOOP_CONTEXT}/n",
                "Context": dialplan.SNOOP_CONTEXT,
                "Exten": dialplan.SNOOP_STREAM_EXTEN,
                "Priority": "1",
                "Timeout": "5000",
                "ChannelId": snoop,
                # A Local channel hands its first half's variables to the second.
                "Variable": (
                    f"{dialplan.SNOOP_CALL}={unique_id},"
                    f"{dialplan.SNOOP_STREAM}={stream_id},"
                    f"{dialplan.SNOOP_AUDIOSOCKET}={address}"
                ),
                "Async": "true",
            }
        )
        return snoop
