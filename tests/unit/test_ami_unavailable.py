"""AMI actions never wait for ever (telephony/ami.py `AmiClient.send`): while AMI is not
connected an action fails at once; one in flight when the connection drops fails then, and is
not sent again after the reconnect (a click must not act minutes later); one Asterisk does not
answer fails after its timeout. Each failure is `TelephonyUnavailable`, which the web answers
with 503 (`Why.UNAVAILABLE`).

Asterisk is a fake AMI server on loopback that accepts the login, answers every action with
Success except those named in `silent`, can drop the connection, and can stop as a whole (SIGSTOP:
connected, answering nothing). Also: a resync while Asterisk is still loading its modules waits
for its queue, not taking "unknown command" for an empty one; a resync that fails (no answer, a
database write) is tried again until it succeeds; an Asterisk that stops answering is an AMI
outage within a few missed Pings, over once it answers again; actions given up on are not kept."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from callcenter.config import Config
from callcenter.live.facts import MembersResynced
from callcenter.refused import Why
from callcenter.telephony.ami import AmiClient, TelephonyUnavailable
from callcenter.web.requests import STATUS_OF
from tests.unit.test_ami_resync import (
    LOGIN,
    NO_CHANNELS,
    QUEUE_STATUS,
    Centre,
    FakeAsterisk,
    transcript,
    wire,
)
from tests.waiting import until_async

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
EMPTY_QUEUE = """
Response: Success
EventList: start
Message: Queue status will follow

Event: QueueStatusComplete
EventList: Complete
ListItems: 0
"""
# An empty queue and no calls: what a resync asks for.
REPLIES = {"CoreShowChannels": NO_CHANNELS, "QueueStatus": EMPTY_QUEUE}


class SilentAsterisk:
    def __init__(self, silent: set[str], silent_first: dict[str, int] | None = None):
        self.silent = silent
        # Actions left unanswered only the first n times they are asked.
        self.silent_first = Counter(silent_first or {})
        self.actions: list[str] = []
        self.sessions: list[asyncio.StreamWriter] = []
        self.asked = asyncio.Condition()
        # Cleared: the process is stopped (SIGSTOP). Connections are still accepted (the kernel
        # does that) and what is sent is read, but nothing is answered until it is set again.
        self.running = asyncio.Event()
        self.running.set()
        # Silent actions kept to be answered late: (session, action name, ActionID).
        self.held: list[tuple[asyncio.StreamWriter, str, str]] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions.append(writer)
        await self.running.wait()
        writer.write(BANNER)
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
                await self.running.wait()
                if name in self.silent or self.silent_first[name] > 0:
                    self.silent_first[name] -= 1
                    self.held.append((writer, name, action.get("ActionID", "")))
                    continue
                self.answer(writer, name, action.get("ActionID", ""))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    @staticmethod
    def answer(writer: asyncio.StreamWriter, name: str, action_id: str) -> None:
        for reply in transcript(REPLIES.get(name, "Response: Success\nMessage: ok")):
            writer.write(wire({**reply, "ActionID": action_id}))

    def answer_late(self) -> None:
        """Answer every action held back so far (Asterisk catching up)."""
        held, self.held = self.held, []
        for writer, name, action_id in held:
            self.answer(writer, name, action_id)

    async def until_asked(self, name: str, times: int = 1) -> None:
        async with asyncio.timeout(10), self.asked:
            await self.asked.wait_for(lambda: self.actions.count(name) >= times)


async def ignore(_event: object) -> None:
    return None


async def client_of(
    asterisk: SilentAsterisk, handle: Callable[[object], Awaitable[None]] = ignore
) -> tuple[AmiClient, asyncio.Server, list[bool]]:
    server = await asyncio.start_server(asterisk.serve, "127.0.0.1", 0)
    config = Config()
    config.asterisk.bind = "127.0.0.1"
    config.asterisk.ami_port = server.sockets[0].getsockname()[1]
    config.asterisk.ami_secret = "rahasia-ami-untuk-tes"
    config.controller.ami_reconnect_min = 0.05
    config.controller.ami_reconnect_max = 0.05
    config.controller.channel_sweep = 3600
    told: list[bool] = []
    return AmiClient(config, handle, on_connection=told.append), server, told


QUEUE_ADD = {"Action": "QueueAdd", "Queue": "calltakers", "Interface": "PJSIP/2001"}


def test_unavailable_telephony_is_a_503_and_asterisk_refusing_stays_a_502():
    from aiohttp import web

    assert STATUS_OF[Why.UNAVAILABLE] is web.HTTPServiceUnavailable
    assert STATUS_OF[Why.TELEPHONY] is web.HTTPBadGateway


async def test_an_action_while_ami_is_not_connected_fails_at_once():
    asterisk = SilentAsterisk(silent=set())
    client, server, _told = await client_of(asterisk)
    async with server:
        # Never started: no connection at all. A timeout far longer than any test proves the
        # answer does not come from waiting.
        with pytest.raises(TelephonyUnavailable) as refused:
            await asyncio.wait_for(client.send(QUEUE_ADD, timeout=3600), 10)
        assert refused.value.why == Why.UNAVAILABLE
        assert "no AMI connection" in str(refused.value)
    assert asterisk.actions == []


async def test_an_action_in_flight_fails_when_the_connection_drops_and_is_never_sent_again():
    asterisk = SilentAsterisk(silent={"QueueAdd"})
    client, server, told = await client_of(asterisk)
    async with server:
        await client.start()
        try:
            async with asyncio.timeout(10):
                await client.synced.wait()
            assert told == [True]
            in_flight = asyncio.create_task(client.send(QUEUE_ADD, timeout=3600))
            await asyncio.wait_for(asterisk.until_asked("QueueAdd"), 10)
            asterisk.sessions[-1].close()  # Asterisk dies with the action unanswered
            with pytest.raises(TelephonyUnavailable) as refused:
                await asyncio.wait_for(in_flight, 10)
            assert "connection was lost" in str(refused.value)
            assert told[:2] == [True, False]

            # The client logs in again; the failed action stays failed, not sent a second time.
            async def resynced_again() -> bool:
                return client.logins >= 2 and client.synced.is_set()

            await until_async(resynced_again, 10, 0.02, "the client did not log in again")
            reply = await client.send({"Action": "Ping"}, timeout=10)
            assert reply.success
            assert asterisk.actions.count("QueueAdd") == 1
            assert told[-1] is True
        finally:
            await client.stop()


async def test_an_action_asterisk_does_not_answer_fails_after_its_timeout():
    asterisk = SilentAsterisk(silent={"QueueAdd"})
    client, server, _told = await client_of(asterisk)
    async with server:
        await client.start()
        try:
            async with asyncio.timeout(10):
                await client.connected.wait()
            with pytest.raises(TelephonyUnavailable) as refused:
                await asyncio.wait_for(client.send(QUEUE_ADD, timeout=0.2), 10)
            assert "did not answer QueueAdd" in str(refused.value)
            # The connection itself is fine: the next action is answered.
            assert (await client.send({"Action": "Ping"})).success
        finally:
            await client.stop()


# Asterisk takes AMI logins before it has loaded app_queue (right after a restart, say).
QUEUE_UNKNOWN = """
Response: Error
Message: Invalid/unknown command: QueueStatus. Use Action: ListCommands to show available commands.
"""


class StillBooting(dict[str, str]):
    """Replies of an Asterisk whose app_queue loads after the first QueueStatus."""

    def __init__(self) -> None:
        super().__init__({"Login": LOGIN, "CoreShowChannels": NO_CHANNELS})
        self.queue_status_asked = 0

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if name == "QueueStatus":
            self.queue_status_asked += 1
            return QUEUE_UNKNOWN if self.queue_status_asked == 1 else QUEUE_STATUS
        return super().get(name, default)


async def test_a_resync_while_asterisk_is_still_starting_waits_for_its_queue():
    asterisk = FakeAsterisk(StillBooting())
    server = await asyncio.start_server(asterisk.serve, "127.0.0.1", 0)
    centre = Centre(asterisk, server.sockets[0].getsockname()[1])
    async with server:
        await centre.client.start()
        try:
            await centre.handled_at_least(5)
        finally:
            await centre.client.stop()
            for writer in asterisk.sessions:
                writer.close()
    # The unknown command was not taken for an empty queue (that would log every call-taker
    # out); the resync was done again once the queue answered.
    members = [h for h in centre.handled if h[0] == "MembersResynced"]
    assert members == [("MembersResynced", "PJSIP/2001")]
    assert asterisk.actions.count("QueueStatus") == 2


async def until_told(told: list[bool], up: bool, client: AmiClient) -> None:
    async def said() -> bool:
        return bool(told) and told[-1] is up

    await until_async(said, 10, 0.02, f"AMI never reported {'up' if up else 'down'} ({told})")


async def test_a_resync_whose_queue_status_is_not_answered_is_tried_again():
    asterisk = SilentAsterisk(silent=set(), silent_first={"QueueStatus": 1})
    client, server, told = await client_of(asterisk)
    client.action_timeout = 0.2
    async with server:
        await client.start()
        try:
            # Before: the timed-out QueueStatus was logged and nothing more happened, so AMI
            # stayed "resyncing" (healthz 503, the board's banner) until the next reconnect.
            await until_told(told, True, client)
            assert client.synced.is_set() and client.status == "ok"
            assert asterisk.actions.count("QueueStatus") == 2
            assert client.logins == 1  # the same session, resynced again: no reconnect
        finally:
            await client.stop()


async def test_a_resync_whose_database_write_fails_is_tried_again_until_it_succeeds(caplog):
    asterisk = SilentAsterisk(silent=set())
    failures = 2

    async def handle(event: object) -> None:
        nonlocal failures
        if isinstance(event, MembersResynced) and failures:
            failures -= 1
            raise RuntimeError("database is locked")

    client, server, told = await client_of(asterisk, handle)
    caplog.set_level(logging.WARNING, "callcenter.telephony.ami")
    async with server:
        await client.start()
        try:
            await until_told(told, True, client)
            assert told == [True]  # AMI was never reported up before its resync succeeded
            assert asterisk.actions.count("QueueStatus") == 3
            # Each failure is logged, with what failed.
            failed = [r for r in caplog.records if "AMI resync failed" in r.getMessage()]
            assert len(failed) == 2
            assert all("database is locked" in r.getMessage() for r in failed)
        finally:
            await client.stop()


async def test_an_asterisk_that_stops_answering_is_down_within_its_missed_pings_then_up_again():
    asterisk = SilentAsterisk(silent=set())
    client, server, told = await client_of(asterisk)
    client.ping_interval, client.ping_timeout = 0.05, 0.2
    async with server:
        await client.start()
        try:
            await until_told(told, True, client)
            pings = asterisk.actions.count("Ping")

            asterisk.running.clear()  # SIGSTOP: the connection stays, nothing answers

            # Before: the connection looked fine, so AMI stayed "ok" however long it lasted.
            await until_told(told, False, client)
            assert asterisk.actions.count("Ping") - pings <= client.missed_pings
            assert client.status == "not answering"
            assert not client.synced.is_set()
            # From now on an action fails at once instead of waiting for its own timeout.
            with pytest.raises(TelephonyUnavailable):
                await asyncio.wait_for(client.send(QUEUE_ADD, timeout=3600), 10)
            assert told == [True, False]

            asterisk.running.set()  # SIGCONT

            # A fresh session (the hung one was dropped) and its resync: AMI is up again.
            await until_told(told, True, client)
            assert told == [True, False, True]
            assert client.status == "ok" and client.logins == 2
            assert (await client.send({"Action": "Ping"})).success
        finally:
            await client.stop()


async def test_actions_given_up_on_are_not_kept_even_when_answered_late():
    asterisk = SilentAsterisk(silent={"Getvar"})
    client, server, told = await client_of(asterisk)
    async with server:
        await client.start()
        try:
            await until_told(told, True, client)
            # One Getvar per FastAGI request (AgiTrust), none answered in time.
            getvars = [
                client.send(
                    {"Action": "Getvar", "Channel": f"PJSIP/9001-{n:08x}", "Variable": "UNIQUEID"},
                    single=True,
                    timeout=0.2,
                )
                for n in range(1000)
            ]
            failed = await asyncio.gather(*getvars, return_exceptions=True)
            assert all(isinstance(f, TelephonyUnavailable) for f in failed)
            # Before: panoramisk kept each one for the life of the connection.
            assert len(client.manager.protocol.responses) <= 1  # at most a Ping in flight

            # Asterisk answers them all late; the answers match nothing and harm nothing.
            await asterisk.until_asked("Getvar", 1000)
            asterisk.answer_late()
            assert (await client.send({"Action": "Ping"}, single=True)).success
            assert len(client.manager.protocol.responses) <= 1
            assert client.status == "ok"
        finally:
            await client.stop()
