"""AMI: Asterisk's events become domain events, in order; reconnects with backoff, then resyncs.

The subscription table `EVENTS` is the one place that says which Asterisk events we listen to.
Callbacks registered with panoramisk are synchronous and only enqueue, so events keep their order
and no callback task can lose an exception (panoramisk 1.4 does not keep references to them).
A resync that fails is tried again with backoff; an Asterisk that is connected but answers no
Ping (stopped, deadlocked) is taken for down, and its connection is dropped and made again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from panoramisk import Manager

from ..config import Config
from ..live.facts import (
    DISPATCH_LEG_PREFIX,
    MEDIA_LOST,
    AgencyKeyPressed,
    AgencyLegEnded,
    CallAbandoned,
    CallAnswered,
    CallArrived,
    CallCompleted,
    CallEnded,
    CallEvent,
    CallLeftQueue,
    CallNotPickedUp,
    CallOffered,
    CallQueued,
    CallRef,
    CallSeen,
    ChannelsAlive,
    KeyPressed,
    MemberChanged,
    MembersResynced,
    QueueMember,
)
from ..refused import Refused, Why
from .dialplan import (
    CALLOUT_EVENT,
    CALLOUT_PREFIX,
    EMERGENCY_EXTEN,
    OLD_EMERGENCY_NUMBERS,
    PUBLIC_CONTEXT,
    agi_int,
)

log = logging.getLogger(__name__)

Ami = Mapping[str, str]


def _call(event: Ami) -> CallRef:
    return CallRef(
        unique_id=event.get("Uniqueid", ""),
        channel=event.get("Channel", ""),
        linked_id=event.get("Linkedid", ""),
        caller_number=event.get("CallerIDNum", ""),
        caller_name=event.get("CallerIDName", ""),
    )


def is_caller_channel(channel: str) -> bool:
    """False for the originating half (;1) of a Local channel: it reports the dialplan location
    it called into (public/112) but is not a caller; the ;2 half is the one that runs the IVR."""
    return not (channel.startswith("Local/") and channel.endswith(";1"))


def _is_emergency_call(event: Ami) -> bool:
    return (
        event.get("Context") == PUBLIC_CONTEXT
        and event.get("Exten") == EMERGENCY_EXTEN
        and is_caller_channel(event.get("Channel", ""))
    )


def _new_channel(event: Ami) -> CallEvent | None:
    dialled = event.get("Exten") in (EMERGENCY_EXTEN, *OLD_EMERGENCY_NUMBERS)
    is_ours = event.get("Context") == PUBLIC_CONTEXT and dialled
    return (
        CallArrived(_call(event))
        if is_ours and is_caller_channel(event.get("Channel", ""))
        else None
    )


def _new_caller_id(event: Ami) -> CallEvent | None:
    """A 112 caller's number known only now: a Local channel's Newchannel says <unknown>, the
    number follows at once. Told as the call's arrival again (idempotent), so its ticket has the
    number even if the call ends where no later event or call record carries it (an Asterisk
    killed during the welcome)."""
    return _new_channel(event) if event.get("CallerIDNum", "") else None


def _queue_caller_join(event: Ami) -> CallEvent | None:
    return CallQueued(
        _call(event), queue=event.get("Queue", ""), position=_int(event.get("Position"))
    )


def _queue_caller_leave(event: Ami) -> CallEvent | None:
    return CallLeftQueue(_call(event), queue=event.get("Queue", ""))


def _agent_connect(event: Ami) -> CallEvent | None:
    return CallAnswered(
        _call(event),
        queue=event.get("Queue", ""),
        calltaker=event.get("Interface", event.get("MemberName", "")),
        calltaker_channel=event.get("DestChannel", ""),
    )


def _queue_caller_abandon(event: Ami) -> CallEvent | None:
    return CallAbandoned(_call(event), queue=event.get("Queue", ""))


# The cause Asterisk gives a PJSIP channel it hangs up for lack of RTP (res_pjsip_sdp_rtp's
# rtp_timeout): 44, "requested channel not available". A caller's own channel, which Asterisk
# answered, gets it no other way (on a channel Asterisk dials out it may mean a refusal instead).
RTP_TIMEOUT_CAUSE = "44"


def _caller_hangup_cause(event: Ami) -> str:
    if event.get("Cause") == RTP_TIMEOUT_CAUSE and event.get("Channel", "").startswith("PJSIP/"):
        return MEDIA_LOST
    return event.get("Cause-txt", event.get("Cause", ""))


def _hangup(event: Ami) -> CallEvent | None:
    unique_id = event.get("Uniqueid", "")
    if unique_id.startswith(DISPATCH_LEG_PREFIX):
        return AgencyLegEnded(unique_id, cause=event.get("Cause-txt", event.get("Cause", "")))
    if not _is_emergency_call(event):
        return None  # call-takers' and agencies' legs end too; the caller's leg is what counts
    return CallEnded(_call(event), cause=_caller_hangup_cause(event))


def queue_member(event: Ami) -> QueueMember:
    """The member record every QueueMember* event (and QueueStatus) carries."""
    return QueueMember(
        interface=event.get("Interface", event.get("Location", "")),
        name=event.get("MemberName", event.get("Name", "")),
        queue=event.get("Queue", ""),
        device=_int(event.get("Status")),
        paused=event.get("Paused") == "1",
        reason=event.get("PausedReason", "")[:64],
        in_call=event.get("InCall") == "1",
        last_call=float(_int(event.get("LastCall"))),
        wrapup=_int(event.get("Wrapuptime")),
        calls_taken=_int(event.get("CallsTaken")),
    )


def _member_changed(event: Ami) -> CallEvent | None:
    return MemberChanged(queue_member(event), logged_in=event.get("Event") != "QueueMemberRemoved")


def _agent_called(event: Ami) -> CallEvent | None:
    return CallOffered(_call(event), interface=event.get("Interface", ""))


def _agent_ring_no_answer(event: Ami) -> CallEvent | None:
    ring_ms = _int(event.get("RingTime"))
    return CallNotPickedUp(
        _call(event), interface=event.get("Interface", ""), ring_seconds=ring_ms / 1000
    )


def _agent_complete(event: Ami) -> CallEvent | None:
    return CallCompleted(
        _call(event),
        interface=event.get("Interface", ""),
        talk_seconds=float(_int(event.get("TalkTime"))),
        reason=event.get("Reason", "")[:32],
    )


# The keys a phone can send (RFC 4733 and in-band detection both give these).
DIGITS = frozenset("0123456789*#ABCD")


def _dtmf_end(event: Ami) -> CallEvent | None:
    """A key the caller pressed. Sent DTMF (our own SendDTMF, say) is not the caller's."""
    digit = event.get("Digit", "")
    if event.get("Direction") != "Received" or not _is_emergency_call(event):
        return None
    # Anything else is not a key a person pressed: kept as "?" so it is seen, never acted on.
    return KeyPressed(_call(event), digit=digit if digit in DIGITS else "?")


# The keys an agency's desk phone may answer a callout with (Read() leaves "" for none).
CALLOUT_KEYS = frozenset("0123456789*#")


def _user_event(event: Ami) -> CallEvent | None:
    """A callout's key (UserEvent AgencyCallout from the dialplan); every other user event, and
    one from a channel the controller did not name as a callout, is not ours. Untrusted text:
    the assignment id must be ASCII digits, the key one known character."""
    unique_id = event.get("Uniqueid", "")
    if event.get("UserEvent") != CALLOUT_EVENT or not unique_id.startswith(CALLOUT_PREFIX):
        return None
    assignment_id = agi_int(event.get("Assignment", ""), None)
    if assignment_id is None:
        log.warning("callout %s: unreadable assignment id; key ignored", unique_id[:80])
        return None
    key = event.get("Key", "")
    return AgencyKeyPressed(
        unique_id[:80], assignment_id, key=key if key in CALLOUT_KEYS or key == "" else "?"
    )


# The subscription table: Asterisk event → translation into a domain event (None: not ours).
EVENTS: dict[str, Callable[[Ami], CallEvent | None]] = {
    "Newchannel": _new_channel,
    "NewCallerid": _new_caller_id,
    "QueueCallerJoin": _queue_caller_join,
    "QueueCallerLeave": _queue_caller_leave,
    "AgentCalled": _agent_called,
    "AgentRingNoAnswer": _agent_ring_no_answer,
    "AgentConnect": _agent_connect,
    "AgentComplete": _agent_complete,
    "QueueCallerAbandon": _queue_caller_abandon,
    "Hangup": _hangup,
    "QueueMemberAdded": _member_changed,
    "QueueMemberRemoved": _member_changed,
    "QueueMemberPause": _member_changed,
    "QueueMemberStatus": _member_changed,
    "DTMFEnd": _dtmf_end,
    "UserEvent": _user_event,
}


# Every event the controller's AMI user receives: manager.conf filters the rest inside Asterisk, so
# a burst of calls does not cost the controller parsing events it would drop (a 112 call raises
# dozens: Newexten, VarSet, bridges…). OriginateResponse ends a dispatch's ringing.
RECEIVED_EVENTS = sorted({*EVENTS, "OriginateResponse"})


def translate(event: Ami) -> CallEvent | None:
    handler = EVENTS.get(event.get("Event", ""))
    return handler(event) if handler else None


def channels_to_resync(channels: list[Ami], at: datetime) -> list[CallEvent]:
    """The 112 calls alive in Asterisk right now (CoreShowChannel events), as CallSeen events."""
    seen: list[CallEvent] = []
    for ch in channels:
        if ch.get("Event") != "CoreShowChannel" or not _is_emergency_call(ch):
            continue
        started = at - _duration(ch.get("Duration", ""))
        seen.append(
            CallSeen(
                _call(ch), in_queue=ch.get("Application") == "Queue", started_at=started, at=at
            )
        )
    return seen


def channels_alive(replies: Sequence[Ami], at: datetime) -> ChannelsAlive | None:
    """Every channel's unique and linked id, or None unless the list is provably whole: a cut-off
    list would make live calls look ended."""
    complete = [m for m in replies if m.get("Event") == "CoreShowChannelsComplete"]
    channels = [m for m in replies if m.get("Event") == "CoreShowChannel"]
    if len(complete) != 1 or complete[0].get("ListItems") != str(len(channels)):
        return None
    ids = {m.get(key, "") for m in channels for key in ("Uniqueid", "Linkedid")}
    return ChannelsAlive(frozenset(ids - {""}), at=at)


def members_to_resync(replies: Sequence[Ami], queue: str, at: datetime) -> MembersResynced:
    """The call-takers in our queue right now (QueueStatus's QueueMember events)."""
    members = [
        queue_member(m)
        for m in replies
        if m.get("Event") == "QueueMember" and m.get("Queue") == queue
    ]
    return MembersResynced(tuple(members), at=at)


def _duration(text: str) -> timedelta:
    try:
        h, m, s = (int(x) for x in text.split(":"))
        return timedelta(hours=h, minutes=m, seconds=s)
    except ValueError:
        return timedelta(0)


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


# Seconds an action waits for Asterisk's answer by default: a desk's click must not hang on an
# Asterisk that died or is stuck (Asterisk answers a healthy action within milliseconds).
ACTION_TIMEOUT = 5.0
# Seconds before a resync is tried again (Asterisk still starting, no answer, a database write
# that failed): doubling up to the most, for as long as the session lasts (a new one resyncs).
RESYNC_RETRY = 0.5
RESYNC_RETRY_MAX = 10.0
# The liveness check: a Ping every PING_INTERVAL s while connected. An Asterisk that lets
# MISSED_PINGS in a row go PING_TIMEOUT s each without an answer is hung (stopped, deadlocked):
# under ten seconds from the hang to the outage, where a healthy one answers in milliseconds.
PING_INTERVAL = 3.0
PING_TIMEOUT = 2.0
MISSED_PINGS = 3


class TelephonyUnavailable(Refused):
    """Asterisk cannot be asked now: AMI is not connected, the connection dropped before the
    answer came, or no answer came in time. (`AmiRefused` is Asterisk answering no.)"""

    def __init__(self, message: str):
        super().__init__(message, Why.UNAVAILABLE)


class Backoff:
    """Delays between reconnect attempts: doubling from `low` up to `high`, reset after a login."""

    def __init__(self, low: float, high: float):
        self.low, self.high = low, high
        self.next = low

    def take(self) -> float:
        delay = self.next
        self.next = min(self.next * 2, self.high)
        return delay

    def reset(self) -> None:
        self.next = self.low


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk reconnects at a fixed interval; each attempt here sets the delay before the next."""

    backoff: Backoff
    attempts = 0
    stopped = False

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.stopped:
            return None  # panoramisk schedules reconnects on the loop; after stop() they do nothing
        self.reconnect_timeout = self.backoff.take()
        self.attempts += 1
        if self.attempts > 1:
            log.warning(
                "AMI connect attempt %d to %s:%s (next retry in %.1f s)",
                self.attempts,
                self.config["host"],
                self.config["port"],
                self.reconnect_timeout,
            )
        return super().connect(*args, **kwargs)

    def ping(self) -> None:
        """panoramisk's own Ping waits for no answer and keeps each unanswered one for the life of
        the connection: AmiClient pings instead, with a timeout."""


class AmiClient:
    """Keeps an AMI session to Asterisk and feeds domain events to `handle`, one at a time, in order."""

    def __init__(
        self,
        config: Config,
        handle: Callable[[CallEvent], Awaitable[None]],
        catch_up: Callable[[bool], Awaitable[int]] | None = None,
        on_connection: Callable[[bool], None] | None = None,
    ):
        self._handle = handle
        # Told True once each login's resync is done, False at each loss: the outage state
        # follows at once.
        self._on_connection = on_connection
        # Futures of the actions sent on this connection and not answered yet: failed at once
        # when it drops, rather than left waiting for a reply that cannot come.
        self._in_flight: set[asyncio.Future[Any]] = set()
        # Handles the calls the call records name: after a reconnect (True) all of them, those
        # that ended while we were away, before the live channels are read; at each sweep
        # (False) those recorded before the last one. Says how many it handled.
        self._catch_up = catch_up
        self._queue = config.queue.name
        self._events: asyncio.Queue[CallEvent | str] = asyncio.Queue()
        self._consumer: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._sweep_interval = config.controller.channel_sweep
        self.connected = asyncio.Event()
        # Connected, and what Asterisk has was read since (desks, calls): until then the
        # controller's picture may be from before an Asterisk restart.
        self.synced = asyncio.Event()
        # Asterisk let the last session's Pings go unanswered; until the next login.
        self.not_answering = False
        self.logins = 0
        self.action_timeout = ACTION_TIMEOUT
        self.ping_interval, self.ping_timeout = PING_INTERVAL, PING_TIMEOUT
        self.missed_pings = MISSED_PINGS
        self._pinger: asyncio.Task[None] | None = None
        self._resync_backoff = Backoff(RESYNC_RETRY, RESYNC_RETRY_MAX)
        self._resyncs_failed = 0
        self._resync_timer: asyncio.TimerHandle | None = None
        a = config.asterisk
        self.manager = _Manager(
            host=a.bind if a.bind != "0.0.0.0" else "127.0.0.1",  # noqa: S104
            port=a.ami_port,
            username=a.ami_user,
            secret=a.ami_secret,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )
        self.manager.backoff = Backoff(
            config.controller.ami_reconnect_min, config.controller.ami_reconnect_max
        )
        for name in EVENTS:
            self.manager.register_event(name, self._on_event)

    async def start(self) -> None:
        self._consumer = asyncio.create_task(self._consume(), name="ami-events")
        self._sweeper = asyncio.create_task(
            self._sweep_every(self._sweep_interval), name="ami-channel-sweep"
        )
        self._pinger = asyncio.create_task(self._ping_every(), name="ami-liveness")
        self.manager.loop = asyncio.get_running_loop()
        self.manager.connect()

    async def stop(self) -> None:
        self.manager.stopped = True
        self.manager.close()
        self._cancel_resync_later()
        for task in (self._consumer, self._sweeper, self._pinger):
            if task is not None:
                task.cancel()

    @property
    def status(self) -> str:
        """AMI in a word or two, as /healthz and the outage banner say it: "ok" once logged in
        and resynced."""
        if self.not_answering:
            return "not answering"
        if self.synced.is_set():
            return "ok"
        return "resyncing" if self.connected.is_set() else "disconnected"

    async def send(
        self, action: dict[str, str], *, single: bool = False, timeout: float | None = None
    ) -> Any:
        """Send an action; its reply (or list of event replies). `single`: the action answers
        with one message only. panoramisk guesses from the reply's words otherwise, and takes
        QueueAdd's "Added interface to queue" for the start of a list that never ends.
        Raises TelephonyUnavailable at once while AMI is down, when the connection drops before
        the reply, or after `timeout` seconds (`action_timeout` by default) without one."""
        if timeout is None:
            timeout = self.action_timeout
        for key, value in action.items():
            if any(c in str(value) for c in "\r\n"):
                raise ValueError(f"AMI action field {key!r} contains a line break")
        name = action.get("Action", "?")
        if not self.connected.is_set():
            # panoramisk would write to the dead connection and wait for ever.
            raise TelephonyUnavailable(f"telephony unavailable: no AMI connection ({name})")
        reply = self.manager.send_action(action, as_list=False if single else None)
        self._in_flight.add(reply)
        try:
            return await asyncio.wait_for(reply, timeout)
        except TimeoutError:
            raise TelephonyUnavailable(
                f"telephony unavailable: Asterisk did not answer {name} in {timeout:.0f} s"
            ) from None
        finally:
            self._in_flight.discard(reply)
            if reply.cancelled():
                self._forget(reply)

    def _forget(self, reply: asyncio.Future[Any]) -> None:
        """panoramisk keeps an action until an answer completes its future, and an answer to one
        given up on (timed out, cancelled) completes nothing: without this every Getvar a hung
        Asterisk left unanswered would be kept for the life of the connection."""
        responses = getattr(self.manager.protocol, "responses", None) or {}
        for key in [key for key, action in responses.items() if action.future is reply]:
            del responses[key]

    def _on_event(self, _manager: Manager, message: Any) -> None:
        try:
            event = translate({str(k): str(v) for k, v in message.items()})
        except Exception:
            log.exception("AMI event %s could not be translated", message.get("Event"))
            return
        if event is not None:
            self._events.put_nowait(event)

    def _on_login(self, _manager: Manager) -> None:
        self.logins += 1
        self.manager.backoff.reset()
        self.manager.attempts = 0
        self.not_answering = False
        self._resync_backoff.reset()
        self._resyncs_failed = 0
        self._cancel_resync_later()
        log.info("AMI logged in (session %d)", self.logins)
        self.connected.set()
        # Resync runs in the consumer, in line with live events, so it cannot race them.
        self._events.put_nowait("resync")

    def _on_disconnect(self, _manager: Manager, exc: Any) -> None:
        self.connected.clear()
        self.synced.clear()
        self._cancel_resync_later()
        log.warning("AMI connection lost; reconnecting with backoff")
        lost = TelephonyUnavailable("telephony unavailable: the AMI connection was lost")
        for reply in list(self._in_flight):
            if not reply.done():
                reply.set_exception(lost)
        # panoramisk keeps unanswered actions to send again after a reconnect: a call-taker's
        # click would then act minutes later, on a call that may be over. They have failed.
        self.manager.awaiting_actions.clear()
        if self._on_connection is not None:
            self._on_connection(False)

    async def _consume(self) -> None:
        while True:
            item = await self._events.get()
            try:
                if item == "resync":
                    await self._resync_or_retry()
                elif item == "sweep":
                    await self._sweep()
                elif not isinstance(item, str):
                    await self._handle(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("handling %r failed", item)

    async def _resync_or_retry(self) -> None:
        """AMI is up only once a resync has succeeded: one that fails (no answer, a database write
        that failed) is tried again later, on the same session, however often it takes."""
        try:
            await self._resync()
        except Exception as e:
            if not self.connected.is_set():
                log.warning("AMI resync ended with the connection (%s); the next login resyncs", e)
                return
            self._resyncs_failed += 1
            delay = self._resync_later()
            # The whole traceback once; after that a line each time.
            log.error(
                "AMI resync failed (%d in a row): %s: %s; trying again in %.1f s",
                self._resyncs_failed,
                type(e).__name__,
                e,
                delay,
                exc_info=self._resyncs_failed == 1,
            )

    async def _resync(self) -> None:
        """After a (re)connect, rebuild what we missed: live 112 calls, and calls ended meanwhile."""
        ended = await self._caught_up(reconnected=True)
        at = datetime.now(UTC)
        channels = await self._channels()
        events: list[CallEvent] = channels_to_resync(channels, at)
        calls = len(events)
        alive = channels_alive(channels, at)
        if alive is not None:  # after the CDR's ends: they carry the real times
            events.append(alive)
        # Who is at the queue now: call-takers may have joined, paused or left while we were away.
        reply = await self.send({"Action": "QueueStatus", "Queue": self._queue})
        if not isinstance(reply, list):
            # Asterisk takes logins while still loading its modules; until app_queue is loaded
            # QueueStatus is an "Invalid/unknown command", and taking that for an empty queue
            # would log every call-taker out of the console while Asterisk still has them.
            log.info("AMI resync: the queue is not ready yet (%s)", getattr(reply, "message", ""))
            self._resync_later()
            return
        members = [dict(m) for m in reply]
        resynced = members_to_resync(members, self._queue, datetime.now(UTC))
        events.append(resynced)
        log.info(
            "AMI resync: %d 112 calls ended while away, %d live, %d call-takers in the queue",
            ended,
            calls,
            len(resynced.members),
        )
        for event in events:
            await self._handle(event)
        self._resync_backoff.reset()
        self._resyncs_failed = 0
        if self.connected.is_set():
            self.synced.set()
            if self._on_connection is not None:
                self._on_connection(True)

    def _resync_later(self) -> float:
        """Queue a resync after the next backoff delay (unless the session ends first); the delay."""

        def again() -> None:
            self._resync_timer = None
            if self.connected.is_set():  # else the next login resyncs
                self._events.put_nowait("resync")

        delay = self._resync_backoff.take()
        self._cancel_resync_later()
        self._resync_timer = asyncio.get_running_loop().call_later(delay, again)
        return delay

    def _cancel_resync_later(self) -> None:
        if self._resync_timer is not None:
            self._resync_timer.cancel()
            self._resync_timer = None

    async def _channels(self) -> list[Ami]:
        """Asterisk's channel list; empty if it does not come (the events wait behind it)."""
        try:
            reply = await self.send({"Action": "CoreShowChannels"}, timeout=10)
        except TelephonyUnavailable as e:
            log.warning("CoreShowChannels: %s", e)
            return []
        return [dict(m) for m in (reply if isinstance(reply, list) else [])]

    async def _caught_up(self, reconnected: bool) -> int:
        # Unreadable records (a full disk, a bad mount) must not stop the channels' resync.
        if self._catch_up is None:
            return 0
        try:
            return await self._catch_up(reconnected)
        except Exception:
            log.exception("catching up on the call records failed; trying again at the next sweep")
            return 0

    async def _sweep(self) -> None:
        """Which channels Asterisk has now, so calls whose end we never heard of get closed; and
        the call records, so the position a restart resumes from stays recent."""
        await self._caught_up(reconnected=False)
        at = datetime.now(UTC)
        alive = channels_alive(await self._channels(), at)
        if alive is None:
            log.warning("channel sweep skipped: Asterisk's channel list came back incomplete")
            return
        # Behind the events that came while the list was asked for: a Hangup Asterisk sent
        # before its list (the channel is not in it) ends its call with its own cause first,
        # rather than the sweep closing it as gone. (A channel that appeared meanwhile is newer
        # than the list, and calls_gone leaves calls that young alone.)
        self._events.put_nowait(alive)

    async def _sweep_every(self, interval: float) -> None:
        # Queued, not run here: the sweep takes its turn among the events, so it cannot race them.
        while True:
            await asyncio.sleep(interval)
            if self.connected.is_set():
                self._events.put_nowait("sweep")

    async def _ping_every(self) -> None:
        """A hung Asterisk (stopped, deadlocked) keeps its connection open and answers nothing:
        only a Ping notices. After `missed_pings` unanswered in a row, AMI is down."""
        missed = 0
        while True:
            if missed == 0:  # after a miss, ask again at once: the timeout was the wait
                await self.connected.wait()
                await asyncio.sleep(self.ping_interval)
            if not self.connected.is_set():
                missed = 0
                continue
            try:
                await self.send({"Action": "Ping"}, single=True, timeout=self.ping_timeout)
                missed = 0
            except TelephonyUnavailable as e:
                if not self.connected.is_set():
                    missed = 0  # the connection dropped: the reconnect takes it from here
                    continue
                missed += 1
                log.warning("AMI: Ping %d of %d unanswered (%s)", missed, self.missed_pings, e)
                if missed >= self.missed_pings:
                    missed = 0
                    self._give_up_on_session()
            except Exception:
                # The check must outlive any surprise, or a later hang would go unnoticed.
                log.exception("AMI liveness check failed; checking again")
                missed = 0

    def _give_up_on_session(self) -> None:
        """Asterisk is hung: AMI is down ("not answering") and the connection is dropped, so every
        action waiting on it fails now and new ones fail at once. A new connection logs in when
        Asterisk runs again, and its resync ends the outage."""
        log.error(
            "AMI: Asterisk answered none of the last %d Pings (%.1f s each); taking it for hung, "
            "dropping the connection and connecting again",
            self.missed_pings,
            self.ping_timeout,
        )
        self.not_answering = True
        self.connected.clear()
        self.synced.clear()
        protocol = self.manager.protocol
        if protocol is not None:
            # As if the connection had been lost: panoramisk closes it and connects again, and
            # _on_disconnect fails what was in flight and tells the outage.
            protocol.connection_lost(TimeoutError("Asterisk did not answer AMI Pings"))
