"""The menu while waiting: what keys mean (pure), and what the centre does with them, over the
real repositories and a fake queue port."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.ivr import menu as waiting_menu
from callcenter.ivr import prompts
from callcenter.ivr.menu import FLOOD_KEYS, KeyReader, Menu, meaning
from callcenter.ivr.waiting import WaitingCallers
from callcenter.live.facts import (
    CallAnswered,
    CallArrived,
    CallEnded,
    CallLeftQueue,
    CallNotPickedUp,
    CallOffered,
    CallQueued,
    CallRef,
    CallSeen,
    KeyPressed,
)
from tests.records import sqlite_records
from tests.unit.fakes import routing_config

CALLER = CallRef("wait-1.1", channel="PJSIP/9001-00000001", caller_number="081234567890")


@pytest.fixture
def menu(tmp_path):
    return Menu.from_config(routing_config(tmp_path))


class TestKeys:
    def test_a_category_key_is_its_category(self, menu):
        assert meaning(menu, "1").category == "police"
        assert meaning(menu, "2").category == "ambulance"
        assert meaning(menu, "2").prompts == (prompts.KEY_HEARD,)

    def test_informasi_says_where_to_go(self, menu):
        choice = meaning(menu, "9")
        assert (choice.kind, choice.category) == ("informasi", "informasi")
        assert choice.prompts == menu.information_prompts

    def test_0_and_unknown_keys(self, menu):
        assert meaning(menu, "0").kind == "calltaker" and meaning(menu, "0").category is None
        for key in ("7", "8", "*", "#", "?", "A"):
            assert meaning(menu, key).kind == "unknown"

    def test_5_waits_to_see_whether_it_is_55(self, menu):
        reader = KeyReader(menu)
        assert reader.press("5", 0.0) == ([], False)
        assert [c.category for c in reader.gap_over()] == ["fire"]
        assert reader.press("5", 1.0) == ([], False)
        [silent], _ = reader.press("5", 1.2)
        assert (silent.kind, silent.flag) == ("silent", waiting_menu.SILENT_BUT_PRESENT)
        assert reader.gap_over() == []

    def test_5_then_another_key_is_fire_then_that_key(self, menu):
        reader = KeyReader(menu)
        reader.press("5", 0.0)
        choices, _ = reader.press("1", 0.3)
        assert [c.category for c in choices] == ["fire", "police"]

    def test_a_flood_of_keys_is_cut_and_said_once(self, menu):
        reader = KeyReader(menu)
        said = []
        for n in range(300):  # 300 keys in 1.5 s: a stuck key or a tone generator
            _, flooded = reader.press("1", n * 0.005)
            said.append(flooded)
        assert said.count(True) == 1
        # Only the first keys of the window counted; later, keys count again.
        assert reader.press("2", 10.0)[0][0].category == "ambulance"
        assert FLOOD_KEYS < 300

    def test_a_key_never_undoes_what_makes_a_call_urgent(self, menu):
        ambulance, informasi, police = meaning(menu, "2"), meaning(menu, "9"), meaning(menu, "1")
        # The latest key wins between emergencies: callers correct themselves.
        assert menu.after(police, "ambulance", [], False)[0] == "police"
        # Informasi does not replace an emergency (it would keep the call from its agency).
        category, _, priority = menu.after(informasi, "ambulance", [], False)
        assert (category, priority) == ("ambulance", menu.categories["ambulance"].priority)
        assert menu.after(informasi, None, [], False)[0] == "informasi"
        # A category a call-taker had stays (the caller is back in the queue after an agency).
        assert menu.after(ambulance, "fire", [], True)[0] == "fire"

    def test_priority_follows_what_is_known(self, menu):
        assert menu.priority(None, []) == menu.unknown_priority
        assert menu.priority("ambulance", []) == menu.categories["ambulance"].priority
        assert menu.priority("ambulance", ["restricted"]) == menu.restricted_priority
        silent = [waiting_menu.SILENT_BUT_PRESENT, "restricted"]
        assert menu.priority("police", silent) == menu.silent_priority


class FakeQueue:
    """The queue port: records what the centre asked of Asterisk; may refuse."""

    def __init__(self, fail: bool = False):
        self.priorities: list[tuple[str, str, int]] = []
        self.whispers: list[tuple[str, tuple[str, ...]]] = []
        self.joins: list[tuple[str, int]] = []
        self.stopped: list[str] = []
        self.fail = fail

    async def change_priority(self, queue: str, channel: str, priority: int) -> None:
        if self.fail:
            raise OSError("AMI is down")
        self.priorities.append((queue, channel, priority))

    async def set_join_priority(self, channel: str, priority: int) -> None:
        if self.fail:
            raise OSError("AMI is down")
        self.joins.append((channel, priority))

    async def whisper(self, channel: str, prompts: tuple[str, ...]) -> str:
        if self.fail:
            raise OSError("AMI is down")
        self.whispers.append((channel, prompts))
        return f"whisper-{len(self.whispers)}"

    async def stop_whisper(self, whisper: str) -> None:
        self.stopped.append(whisper)


@pytest.fixture
async def records(tmp_path):
    records = await sqlite_records(tmp_path)
    yield records
    await records.engine.dispose()


async def waiting_caller(records, menu, port, call=CALLER):
    waiting = WaitingCallers(menu, "calltakers", records.calls, records.restrictions, port)
    await records.calls.open_ticket(call, source="asterisk")
    await records.facts.deliver(CallQueued(call, queue="calltakers"))
    await waiting.queued(CallQueued(call, queue="calltakers"))
    return waiting


async def until_true(check, timeout: float = 2.0):
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never")


async def events(records, kind, call=CALLER):
    found = await records.calls.call(call.unique_id)
    ticket = await records.tickets.get(found.ticket.id)
    return ticket, [e.data for e in ticket.events if e.kind == kind]


class TestWhileWaiting:
    async def test_a_key_sets_the_category_and_moves_the_caller_up(self, records, menu):
        port = FakeQueue()
        waiting = await waiting_caller(records, menu, port)
        await waiting.key(KeyPressed(CALLER, "2"))
        ticket, [pressed] = await events(records, "key-pressed")
        ambulance = menu.categories["ambulance"].priority
        assert (ticket.category, ticket.priority) == ("ambulance", ambulance)
        assert pressed["priority"] == {"from": menu.unknown_priority, "to": ambulance}
        assert pressed["stage"] == "waiting" and ambulance > menu.unknown_priority
        assert port.priorities == [("calltakers", CALLER.channel, ambulance)]
        assert port.whispers == [(CALLER.channel, (prompts.KEY_HEARD,))]

    async def test_a_key_during_the_welcome_counts_when_the_caller_joins(
        self, records, menu, monkeypatch
    ):
        monkeypatch.setattr("callcenter.ivr.waiting.JOIN_SETTLE", 0.01)
        port = FakeQueue()
        waiting = WaitingCallers(menu, "calltakers", records.calls, records.restrictions, port)
        await records.facts.deliver(CallArrived(CALLER))
        await waiting.arrived(CallArrived(CALLER))
        await waiting.key(KeyPressed(CALLER, "2"))
        ticket, [pressed] = await events(records, "key-pressed")
        ambulance = menu.categories["ambulance"].priority
        assert ticket.category == "ambulance" and pressed["stage"] == "welcome"
        # Not in the queue yet: it joins at this priority; nothing talks over the welcome.
        assert port.joins == [(CALLER.channel, ambulance)] and port.priorities == []
        assert port.whispers == []
        await waiting.queued(CallQueued(CALLER, queue="calltakers"))
        await until_true(lambda: port.whispers)
        assert port.whispers == [(CALLER.channel, (prompts.KEY_HEARD,))]

    async def test_a_held_back_answer_is_dropped_if_a_calltaker_rings(self, records, menu):
        port = FakeQueue()
        waiting = WaitingCallers(menu, "calltakers", records.calls, records.restrictions, port)
        await records.facts.deliver(CallArrived(CALLER))
        await waiting.arrived(CallArrived(CALLER))
        await waiting.key(KeyPressed(CALLER, "2"))
        await waiting.queued(CallQueued(CALLER, queue="calltakers"))
        await waiting.offered(CallOffered(CALLER, interface="PJSIP/2001"))  # a free desk rings
        await asyncio.sleep(0.01)
        assert port.whispers == []

    async def test_a_whisper_stops_when_the_calltakers_phone_rings(self, records, menu):
        port = FakeQueue()
        waiting = await waiting_caller(records, menu, port)
        await waiting.key(KeyPressed(CALLER, "2"))
        assert port.whispers and port.stopped == []
        await waiting.offered(CallOffered(CALLER, interface="PJSIP/2001"))
        await until_true(lambda: port.stopped)  # stopped in the background
        assert port.stopped == ["whisper-1"]

    async def test_a_key_while_a_calltaker_rings_is_kept_without_a_prompt(self, records, menu):
        port = FakeQueue()
        waiting = await waiting_caller(records, menu, port)
        await waiting.offered(CallOffered(CALLER, interface="PJSIP/2001"))
        await waiting.key(KeyPressed(CALLER, "2"))
        ticket, [pressed] = await events(records, "key-pressed")
        assert ticket.category == "ambulance" and pressed["stage"] == "ringing"
        assert port.whispers == []  # the ring is not interrupted
        ambulance = menu.categories["ambulance"].priority
        assert port.priorities == [("calltakers", CALLER.channel, ambulance)]  # if the ring fails
        await waiting.not_picked_up(CallNotPickedUp(CALLER, interface="PJSIP/2001"))
        await waiting.key(KeyPressed(CALLER, "0"))
        assert port.whispers == [(CALLER.channel, (prompts.KEY_HEARD,))]

    async def test_keys_after_the_answer_mean_nothing(self, records, menu):
        port = FakeQueue()
        waiting = await waiting_caller(records, menu, port)
        await waiting.left(CallAnswered(CALLER, queue="calltakers", calltaker="PJSIP/2001"))
        await waiting.key(KeyPressed(CALLER, "2"))
        ticket, pressed = await events(records, "key-pressed")
        assert pressed == [] and ticket.category is None and port.priorities == []

    async def test_out_of_the_queue_keys_mean_nothing_and_back_in_it_they_count_again(
        self, records, menu
    ):
        port = FakeQueue()
        waiting = await waiting_caller(records, menu, port)
        await waiting.key(KeyPressed(CALLER, "2"))
        await waiting.left_queue(CallLeftQueue(CALLER, queue="calltakers"))  # to an agency
        await waiting.key(KeyPressed(CALLER, "1"))  # in the agency's conversation
        _, pressed = await events(records, "key-pressed")
        assert len(pressed) == 1 and len(port.whispers) == 1
        # The move set QUEUE_PRIO too (AmiTelephony.change_priority): back in the queue after
        # the agency, the caller joins at it without another action, and keys count again.
        ambulance = menu.categories["ambulance"].priority
        assert port.priorities == [("calltakers", CALLER.channel, ambulance)]
        await waiting.queued(CallQueued(CALLER, queue="calltakers"))
        await waiting.key(KeyPressed(CALLER, "1"))
        _, pressed = await events(records, "key-pressed")
        assert len(pressed) == 2

    async def test_55_is_a_caller_who_cannot_talk(self, records, menu):
        port = FakeQueue()
        waiting = await waiting_caller(records, menu, port)
        await waiting.key(KeyPressed(CALLER, "5"))
        await waiting.key(KeyPressed(CALLER, "5"))
        ticket, [pressed] = await events(records, "key-pressed")
        assert waiting_menu.SILENT_BUT_PRESENT in ticket.flags
        assert ticket.priority == menu.silent_priority and ticket.category is None
        assert pressed["key"] == "55"
        assert port.whispers == [(CALLER.channel, (prompts.SILENT_CONFIRMED,))]

    async def test_a_lone_5_is_fire_after_the_gap(self, records, menu, monkeypatch):
        monkeypatch.setattr("callcenter.ivr.waiting.DIGIT_GAP", 0.01)
        waiting = await waiting_caller(records, menu, FakeQueue())
        await waiting.key(KeyPressed(CALLER, "5"))
        for _ in range(200):
            ticket, pressed = await events(records, "key-pressed")
            if pressed:
                break
            await asyncio.sleep(0.01)
        assert ticket.category == "fire"

    async def test_hanging_up_mid_key_is_noted_and_nothing_chosen(self, records, menu):
        waiting = await waiting_caller(records, menu, FakeQueue())
        await waiting.key(KeyPressed(CALLER, "5"))
        await waiting.left(CallEnded(CALLER, cause="Normal Clearing"))
        ticket, [unfinished] = await events(records, "keys-unfinished")
        assert unfinished == {"keys": "5", "stage": "waiting"} and ticket.category is None

    async def test_unknown_keys_and_floods_are_ticket_events(self, records, menu):
        port = FakeQueue()
        waiting = await waiting_caller(records, menu, port)
        await waiting.key(KeyPressed(CALLER, "7"))
        for _ in range(100):
            await waiting.key(KeyPressed(CALLER, "1"))
        _, unknown = await events(records, "key-unknown")
        _, flood = await events(records, "keys-flood")
        _, pressed = await events(records, "key-pressed")
        assert unknown == [{"key": "7", "stage": "waiting"}]
        assert len(flood) == 1 and len(pressed) == FLOOD_KEYS - 1

    async def test_informasi_is_told_where_to_go_and_never_overflows(self, records, menu):
        port = FakeQueue()
        waiting = await waiting_caller(records, menu, port)
        await waiting.key(KeyPressed(CALLER, "9"))
        ticket, _ = await events(records, "key-pressed")
        assert ticket.category == "informasi"
        assert port.whispers == [(CALLER.channel, menu.information_prompts)]

    async def test_asterisk_refusing_costs_the_key_nothing(self, records, menu):
        waiting = await waiting_caller(records, menu, FakeQueue(fail=True))
        await waiting.key(KeyPressed(CALLER, "2"))
        ticket, [pressed] = await events(records, "key-pressed")
        assert ticket.category == "ambulance"
        assert pressed["priority"]["to"] == menu.categories["ambulance"].priority

    async def test_a_resync_finds_callers_already_waiting(self, records, menu):
        port = FakeQueue()
        waiting = WaitingCallers(menu, "calltakers", records.calls, records.restrictions, port)
        await records.calls.open_ticket(CALLER, source="reconciled")
        await waiting.queued(CallSeen(CALLER, in_queue=False))
        await waiting.key(KeyPressed(CALLER, "2"))
        assert port.priorities == []  # not in the queue: not waiting
        await waiting.queued(CallSeen(CALLER, in_queue=True))
        await waiting.key(KeyPressed(CALLER, "2"))
        ambulance = menu.categories["ambulance"].priority
        assert port.priorities == [("calltakers", CALLER.channel, ambulance)]


class TestRestrictedNumber:
    """The prank policy while waiting: a warning and the lowest priority, never a refusal."""

    async def restrict(self, records, number=CALLER.caller_number):
        return await records.restrictions.restrict(
            number, "tiga panggilan iseng", [1, 2, 3], "penyelia", [3, 30, 0]
        )

    async def test_warned_and_moved_last_and_on_the_trail(self, records, menu):
        restriction = await self.restrict(records)
        port = FakeQueue()
        await waiting_caller(records, menu, port)
        ticket, [restricted] = await events(records, "restricted")
        assert "restricted" in ticket.flags and ticket.priority == menu.restricted_priority
        assert restricted["priority"] == {"from": menu.unknown_priority, "to": 0}
        assert port.priorities == [("calltakers", CALLER.channel, 0)]
        assert port.whispers == [(CALLER.channel, (menu.restricted_prompt,))]
        [restriction] = await records.restrictions.in_force_or_since(restriction.created_at)
        assert [e.kind for e in restriction.events] == ["created", "applied"]

    async def test_a_category_key_keeps_the_restricted_priority(self, records, menu):
        await self.restrict(records)
        port = FakeQueue()
        waiting = await waiting_caller(records, menu, port)
        await waiting.key(KeyPressed(CALLER, "2"))
        ticket, _ = await events(records, "key-pressed")
        assert ticket.category == "ambulance" and ticket.priority == menu.restricted_priority

    async def test_a_restricted_caller_who_cannot_talk_gets_the_silent_priority(
        self, records, menu
    ):
        await self.restrict(records)
        waiting = await waiting_caller(records, menu, FakeQueue())
        await waiting.key(KeyPressed(CALLER, "5"))
        await waiting.key(KeyPressed(CALLER, "5"))
        ticket, _ = await events(records, "key-pressed")
        assert ticket.priority == menu.silent_priority

    async def test_a_lifted_restriction_is_not_applied(self, records, menu):
        restriction = await self.restrict(records)
        await records.restrictions.lift(restriction.id, "penyelia", "salah sasaran")
        port = FakeQueue()
        await waiting_caller(records, menu, port)
        ticket, restricted = await events(records, "restricted")
        assert restricted == [] and "restricted" not in ticket.flags and port.whispers == []

    async def test_a_failed_lookup_does_not_stop_the_call(self, records, menu, monkeypatch):
        async def broken(number):
            raise OSError("database is locked")

        monkeypatch.setattr(records.restrictions, "active", broken)
        port = FakeQueue()
        waiting = await waiting_caller(records, menu, port)
        await waiting.key(KeyPressed(CALLER, "1"))
        ticket, _ = await events(records, "key-pressed")
        assert ticket.category == "police" and "restricted" not in ticket.flags

    async def test_restrictions_are_graduated(self, records):
        levels = []
        for _ in range(4):
            restriction = await self.restrict(records, "0341555")
            levels.append((restriction.level, restriction.until is None))
            await records.restrictions.lift(restriction.id, "penyelia", "cukup")
        # 3 days, 30 days, then until lifted, and it stays there.
        assert levels == [(1, False), (2, False), (3, True), (3, True)]
