"""The order in which the AMI consumer hands domain events on around a (re)login's resync.

What it promises (callcenter/telephony/ami.py): the resync runs in the consumer, in line with live
events, so
- the call records' catch-up comes first, before the channel list is even asked for (calls that
  ended while we were away end with their real times);
- then the snapshot: the live 112 calls, the whole channel list, the call-takers in the queue;
- events Asterisk sends while the resync waits for its replies come after the snapshot, in the
  order they came (they are newer than it);
- events of an earlier session still waiting when the new session logs in come before its resync.

Asterisk is a fake AMI server on loopback answering from transcripts written as Asterisk 22 sends
them (panoramisk-style); it copies each action's ActionID into its reply, so replies always match.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from callcenter.config import Config
from callcenter.live.facts import (
    CallArrived,
    CallEnded,
    CallQueued,
    CallSeen,
    ChannelsAlive,
    MemberChanged,
    MembersResynced,
)
from callcenter.telephony.ami import AmiClient

BANNER = "Asterisk Call Manager/9.0.0\r\n"
QUEUE = "calltakers"

LOGIN = """
Response: Success
Message: Authentication accepted
"""

CALLER = """
Channel: PJSIP/9001-00000001
Uniqueid: dev-1795338680.0
Linkedid: dev-1795338680.0
CallerIDNum: 9001
CallerIDName: Penelepon
Context: public
Exten: 112
""".strip()

NEW_CALLER = """
Channel: PJSIP/9002-00000003
Uniqueid: dev-1795338690.3
Linkedid: dev-1795338690.3
CallerIDNum: 9002
CallerIDName: Penelepon Dua
Context: public
Exten: 112
""".strip()

CHANNELS = f"""
Response: Success
EventList: start
Message: Channels will follow

Event: CoreShowChannel
{CALLER}
Application: Queue
Duration: 00:00:42

Event: CoreShowChannel
Channel: PJSIP/2001-00000002
Uniqueid: dev-1795338680.2
Linkedid: dev-1795338680.0
Context: calltakers
Exten: s
Application: AppQueue
Duration: 00:00:10

Event: CoreShowChannelsComplete
EventList: Complete
ListItems: 2
"""

NO_CHANNELS = """
Response: Success
EventList: start
Message: Channels will follow

Event: CoreShowChannelsComplete
EventList: Complete
ListItems: 0
"""

QUEUE_STATUS = f"""
Response: Success
EventList: start
Message: Queue status will follow

Event: QueueParams
Queue: {QUEUE}
Calls: 1

Event: QueueMember
Queue: {QUEUE}
Name: Desk 1
Location: PJSIP/2001
Status: 2
Paused: 0
InCall: 1
CallsTaken: 3

Event: QueueStatusComplete
EventList: Complete
ListItems: 2
"""

HANGUP = f"""
Event: Hangup
{CALLER}
Cause: 16
Cause-txt: Normal Clearing
"""

NEWCHANNEL = f"""
Event: Newchannel
{NEW_CALLER}
"""

PAUSED = f"""
Event: QueueMemberPause
Queue: {QUEUE}
MemberName: Desk 1
Interface: PJSIP/2001
Paused: 1
PausedReason: istirahat
"""

JOINED = f"""
Event: QueueCallerJoin
{CALLER}
Queue: {QUEUE}
Position: 1
"""


def transcript(text: str) -> list[dict[str, str]]:
    """AMI messages, blank-line separated, as `Key: value` lines."""
    messages = []
    for block in text.strip().split("\n\n"):
        fields = (line.partition(": ") for line in block.strip().splitlines() if line.strip())
        messages.append({key: value for key, _, value in fields})
    return messages


def wire(message: dict[str, str]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in message.items()).encode() + b"\r\n"


class FakeAsterisk:
    """Answers each action from `replies` (by action name; "Response: Success" otherwise); first
    sends the events `during[action]`: Asterisk's live events that cross the resync's requests."""

    def __init__(self, replies: dict[str, str], during: dict[str, str] | None = None):
        self.replies = replies
        self.during = dict(during or {})
        self.actions: list[str] = []
        self.sessions: list[asyncio.StreamWriter] = []
        self.asked = asyncio.Condition()  # notified at each action

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions.append(writer)
        writer.write(BANNER.encode())
        try:
            while True:
                action: dict[str, str] = {}
                while (line := (await reader.readline()).decode().strip()) or not action:
                    if not line and reader.at_eof():
                        return
                    if line:
                        key, _, value = line.partition(": ")
                        action[key] = value
                name = action.get("Action", "")
                async with self.asked:
                    self.actions.append(name)
                    self.asked.notify_all()
                for event in transcript(self.during.pop(name, "")) if name in self.during else []:
                    writer.write(wire(event))
                for reply in transcript(self.replies.get(name, "Response: Success")):
                    writer.write(wire({**reply, "ActionID": action.get("ActionID", "")}))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def send(self, text: str) -> None:
        """Live events on the current session."""
        for event in transcript(text):
            self.sessions[-1].write(wire(event))


def summary(event: object) -> tuple[str, ...]:
    match event:
        case CallSeen(call=call, in_queue=in_queue):
            return ("CallSeen", call.unique_id, "in queue" if in_queue else "in IVR")
        case ChannelsAlive(ids=ids):
            return ("ChannelsAlive", *sorted(ids))
        case MembersResynced(members=members):
            return ("MembersResynced", *(m.interface for m in members))
        case MemberChanged(member=member):
            return ("MemberChanged", member.interface, "paused" if member.paused else "ready")
        case CallEnded(call=call) | CallArrived(call=call) | CallQueued(call=call):
            return (type(event).__name__, call.unique_id)
    return (type(event).__name__,)


async def until(changed: asyncio.Condition, predicate: Callable[[], bool]) -> None:
    """Wait (5 s at most) until `predicate` holds, rechecked whenever `changed` is notified."""
    async with asyncio.timeout(5), changed:
        await changed.wait_for(predicate)


class Centre:
    """The AMI client as the centre runs it, with what it handed on recorded in order."""

    def __init__(self, asterisk: FakeAsterisk, port: int):
        self.asterisk = asterisk
        self.handled: list[tuple[str, ...]] = []
        self.progress = asyncio.Condition()  # notified at each handled event
        # Set to hold the consumer on an event: lets the queue fill as under load.
        self.hold: asyncio.Event | None = None
        config = Config()
        config.queue.name = QUEUE
        config.asterisk.bind = "127.0.0.1"
        config.asterisk.ami_port = port
        config.asterisk.ami_secret = "rahasia-ami-untuk-tes"
        config.controller.ami_reconnect_min = 0.05
        config.controller.ami_reconnect_max = 0.05
        config.controller.channel_sweep = 3600  # no sweep in the middle of the test
        self.client = AmiClient(config, self.handle, catch_up=self.catch_up)

    async def handle(self, event: object) -> None:
        await self.note(summary(event))
        if self.hold is not None:
            await self.hold.wait()

    async def catch_up(self, reconnected: bool) -> int:
        # What Asterisk had been asked when the call records were read.
        await self.note(("catch-up", "reconnected" if reconnected else "sweep"))
        await self.note(("asked so far", *self.asterisk.actions))
        return 0

    async def note(self, what: tuple[str, ...]) -> None:
        async with self.progress:
            self.handled.append(what)
            self.progress.notify_all()

    async def handled_at_least(self, count: int) -> None:
        await until(self.progress, lambda: len(self.handled) >= count)


@pytest.fixture
async def ami():
    made: list[tuple[asyncio.Server, Centre]] = []

    async def start(asterisk: FakeAsterisk) -> Centre:
        server = await asyncio.start_server(asterisk.serve, "127.0.0.1", 0)
        centre = Centre(asterisk, server.sockets[0].getsockname()[1])
        made.append((server, centre))
        await centre.client.start()
        return centre

    yield start
    for server, centre in made:
        if centre.hold is not None:
            centre.hold.set()
        await centre.client.stop()
        server.close()
        for writer in centre.asterisk.sessions:
            writer.close()
        await server.wait_closed()


async def test_live_events_during_the_resync_come_after_its_snapshot(ami):
    asterisk = FakeAsterisk(
        {"Login": LOGIN, "CoreShowChannels": CHANNELS, "QueueStatus": QUEUE_STATUS},
        # The caller hangs up and another calls just as the channel list is asked for; the
        # call-taker pauses just as the queue is.
        during={"CoreShowChannels": HANGUP + "\n" + NEWCHANNEL, "QueueStatus": PAUSED},
    )
    centre = await ami(asterisk)
    await centre.handled_at_least(8)
    await asyncio.sleep(0.05)  # and nothing more comes
    assert centre.handled == [
        ("catch-up", "reconnected"),
        ("asked so far", "Login"),  # the records are read before the channels
        ("CallSeen", "dev-1795338680.0", "in queue"),
        ("ChannelsAlive", "dev-1795338680.0", "dev-1795338680.2"),
        ("MembersResynced", "PJSIP/2001"),
        # Newer than the snapshot, so after it, in the order Asterisk sent them.
        ("CallEnded", "dev-1795338680.0"),
        ("CallArrived", "dev-1795338690.3"),
        ("MemberChanged", "PJSIP/2001", "paused"),
    ]
    assert asterisk.actions == ["Login", "CoreShowChannels", "QueueStatus"]


async def test_after_a_reconnect_the_old_sessions_events_come_first_then_a_fresh_resync(ami):
    asterisk = FakeAsterisk(
        {"Login": LOGIN, "CoreShowChannels": CHANNELS, "QueueStatus": QUEUE_STATUS}
    )
    centre = await ami(asterisk)
    await centre.handled_at_least(5)
    first = len(centre.handled)

    # The consumer falls behind on the caller's queue event; meanwhile Asterisk restarts, the
    # caller is gone, and the client logs in again.
    centre.hold = asyncio.Event()
    asterisk.send(JOINED + "\n" + HANGUP)
    await centre.handled_at_least(first + 1)
    asterisk.replies["CoreShowChannels"] = NO_CHANNELS
    asterisk.sessions[-1].close()
    await until(asterisk.asked, lambda: asterisk.actions.count("Login") == 2)
    async with asyncio.timeout(5):
        await centre.client.connected.wait()  # logged in: the resync is queued
    assert centre.client.logins == 2
    centre.hold.set()
    centre.hold = None
    await centre.handled_at_least(first + 6)
    await asyncio.sleep(0.05)

    assert centre.handled[first:] == [
        # The first session's events, still waiting at the new login, are handled first…
        ("CallQueued", "dev-1795338680.0"),
        ("CallEnded", "dev-1795338680.0"),
        # …then the new session's resync, from the records on.
        ("catch-up", "reconnected"),
        ("asked so far", "Login", "CoreShowChannels", "QueueStatus", "Login"),
        ("ChannelsAlive",),  # Asterisk has no channels now: every call we knew of has ended
        ("MembersResynced", "PJSIP/2001"),
    ]


async def test_a_channel_list_that_never_comes_holds_nothing_else_back(ami, monkeypatch):
    """No answer to CoreShowChannels: no snapshot of calls (a partial one would close live
    calls), but the queue is still resynced and the live events still flow, after it."""
    monkeypatch.setattr(asyncio, "wait_for", _short_wait_for(asyncio.wait_for))
    asterisk = FakeAsterisk(
        {
            "Login": LOGIN,
            "CoreShowChannels": "Response: Success\nEventList: start",  # and then nothing
            "QueueStatus": QUEUE_STATUS,
        },
        during={"QueueStatus": NEWCHANNEL},
    )
    centre = await ami(asterisk)
    await centre.handled_at_least(4)
    await asyncio.sleep(0.05)
    assert centre.handled == [
        ("catch-up", "reconnected"),
        ("asked so far", "Login"),
        ("MembersResynced", "PJSIP/2001"),
        ("CallArrived", "dev-1795338690.3"),
    ]


async def test_a_hangup_sent_before_the_sweeps_channel_list_ends_its_call_first(ami):
    """A sweep's channel list is handled after the events that came while it was asked for: a
    caller whose Hangup Asterisk sent before the list ends with their own cause, not as gone."""
    asterisk = FakeAsterisk(
        {"Login": LOGIN, "CoreShowChannels": CHANNELS, "QueueStatus": QUEUE_STATUS}
    )
    centre = await ami(asterisk)
    await centre.handled_at_least(5)
    first = len(centre.handled)

    asterisk.replies["CoreShowChannels"] = NO_CHANNELS
    asterisk.during["CoreShowChannels"] = HANGUP
    centre.client._events.put_nowait("sweep")  # as _sweep_every does
    await centre.handled_at_least(first + 4)
    await asyncio.sleep(0.05)

    assert centre.handled[first:] == [
        ("catch-up", "sweep"),
        ("asked so far", "Login", "CoreShowChannels", "QueueStatus"),
        ("CallEnded", "dev-1795338680.0"),
        ("ChannelsAlive",),
    ]


def _short_wait_for(wait_for):
    """The client gives CoreShowChannels 10 s; a test need not wait that long to see it give up."""

    async def shorter(awaitable, timeout):
        return await wait_for(awaitable, min(timeout, 0.2) if timeout else timeout)

    return shorter
