"""Every branch of the IVR flow, with a scripted caller on a fake channel and the real repositories."""

from __future__ import annotations

import dataclasses
import math
import struct
import wave

import pytest

from callcenter.ivr import prompts
from callcenter.ivr.channel import CallerHungUp
from callcenter.ivr.flow import Menu, ivr
from callcenter.live.facts import CallRef
from callcenter.speech.activity import RecordedDescriber
from callcenter.telephony import dialplan
from tests.records import sqlite_records
from tests.unit.fakes import FakeChannel, routing_config


@pytest.fixture
def menu(tmp_path):
    return Menu.from_config(routing_config(tmp_path))


@pytest.fixture
async def records(tmp_path):
    records = await sqlite_records(tmp_path)
    yield records
    await records.engine.dispose()


class CallerSpeaks:
    """The Describer port as the flow sees it: the fake caller is recorded, and spoke as long as
    their script says."""

    async def describe(self, channel: FakeChannel, seconds: int, silence: int) -> float:
        await channel.record("describe", seconds, silence)
        return channel.speech


async def run(records, menu, caller: FakeChannel, describer=None):
    result = await ivr(
        caller, records.calls, records.restrictions, menu, describer or CallerSpeaks()
    )
    call = await records.calls.call(caller.unique_id)
    assert call is not None
    return result, await records.tickets.get(call.ticket_id)


async def test_caller_presses_1_after_the_menu(records, menu):
    caller = FakeChannel(presses=["", "1"], speech=4.0)
    result, ticket = await run(records, menu, caller)
    assert caller.heard == [
        prompts.WELCOME,
        prompts.MENU,
        prompts.DESCRIBE,
        "(recording)",
        prompts.CONNECTING_CALLTAKER,
    ]
    assert ticket.category == "police" and ticket.priority == 1 and ticket.flags == []
    assert ticket.ivr_done_at is not None
    assert caller.variables[dialplan.CATEGORY] == "police"
    assert caller.variables[dialplan.QUEUE_PRIORITY] == "1"
    assert caller.variables[dialplan.TICKET_ID] == str(ticket.id)
    assert caller.variables[dialplan.OVERFLOW] == "yes"
    assert caller.variables[dialplan.MAX_WAIT] == str(menu.max_wait)
    assert result.path == ["menu:1", "speech:4.0"]


async def test_key_during_the_welcome_barges_in(records, menu):
    caller = FakeChannel(presses=["2"], speech=3.0)
    _, ticket = await run(records, menu, caller)
    assert prompts.MENU not in caller.heard
    assert ticket.category == "ambulance"
    assert ticket.priority == 2  # life-threatening: answered before the others


@pytest.mark.parametrize(
    ("welcome_key", "presses", "first_heard", "category"),
    [
        ("1", [], prompts.DESCRIBE, "police"),  # the key during the welcome is the choice
        ("", ["5"], prompts.MENU, "fire"),  # no key: the menu
        ("7", ["2"], prompts.INVALID, "ambulance"),  # no such choice: invalid, then one retry
    ],
)
async def test_welcome_played_by_asterisk(
    records, menu, welcome_key, presses, first_heard, category
):
    # The dialplan plays the welcome (Read) and passes the key pressed during it.
    caller = FakeChannel(presses=presses, speech=3.0)
    caller.welcome_key = welcome_key
    _, ticket = await run(records, menu, caller)
    assert prompts.WELCOME not in caller.heard
    assert caller.heard[0] == first_heard
    assert ticket.category == category


async def test_key_during_the_invalid_prompt_counts(records, menu):
    caller = FakeChannel(presses=["", "7", "5"], speech=1.0)
    result, ticket = await run(records, menu, caller)
    assert ticket.category == "fire"
    assert result.path[:2] == ["invalid:7", "menu:5"]
    assert caller.heard.count(prompts.MENU) == 1


async def test_one_timeout_then_a_choice(records, menu):
    caller = FakeChannel(presses=["", "", "3"], speech=2.0)
    result, ticket = await run(records, menu, caller)
    assert ticket.category == "electricity"
    assert result.path[:2] == ["timeout", "menu:3"]
    assert caller.heard.count(prompts.MENU) == 2


async def test_invalid_twice_goes_to_a_calltaker(records, menu):
    caller = FakeChannel(presses=["", "8", "", "*"])
    result, ticket = await run(records, menu, caller)
    assert ticket.category is None
    assert result.path == ["invalid:8", "invalid:*"]
    assert caller.heard.count(prompts.INVALID) == 2
    # Wrong keys mean someone is pressing: no silent-caller offer, straight to a person.
    assert prompts.SILENT_OFFER not in caller.heard
    assert caller.heard[-1] == prompts.CONNECTING_CALLTAKER
    assert caller.variables[dialplan.OVERFLOW] == "yes"


async def test_0_goes_straight_to_a_calltaker(records, menu):
    caller = FakeChannel(presses=["0"])
    result, ticket = await run(records, menu, caller)
    assert ticket.category is None
    assert result.path == ["menu:0"]
    assert caller.recorded == 0  # no describe step: they asked for a person
    assert caller.heard[-1] == prompts.CONNECTING_CALLTAKER


async def test_a_key_mapped_to_an_unknown_category_goes_to_a_calltaker(records, menu):
    broken = dataclasses.replace(menu, keys={**menu.keys, "7": "tsunami"})
    caller = FakeChannel(presses=["7"])
    result, ticket = await run(records, broken, caller)
    assert ticket.category is None
    assert result.path == ["menu:7", "unknown-category:tsunami"]
    assert caller.heard[-1] == prompts.CONNECTING_CALLTAKER


async def test_describe_step_can_be_turned_off(records, menu):
    caller = FakeChannel(presses=["1"])
    _, ticket = await run(records, dataclasses.replace(menu, describe=False), caller)
    assert ticket.category == "police"
    assert caller.recorded == 0


async def test_caller_who_hangs_up_keeps_the_ticket_and_what_they_chose(records, menu):
    caller = FakeChannel(presses=["1"], hang_up_at=prompts.DESCRIBE)
    with pytest.raises(CallerHungUp):
        await ivr(caller, records.calls, records.restrictions, menu, CallerSpeaks())
    call = await records.calls.call(caller.unique_id)
    ticket = await records.tickets.get(call.ticket_id)
    assert ticket.category == "police"
    done = [e for e in ticket.events if e.kind == "ivr-done"]
    assert done and done[0].data["hung_up"] is True


class TestSilentCaller:
    async def test_silent_but_present_presses_the_key(self, records, menu):
        caller = FakeChannel(presses=["", "", "", "55"], speech=0.0)
        result, ticket = await run(records, menu, caller)
        assert prompts.SILENT_OFFER in caller.heard
        assert prompts.SILENT_CONFIRMED in caller.heard
        assert ticket.flags == ["silent-but-present"]
        assert (
            ticket.priority
            == menu.silent_priority
            > max(c.priority for c in menu.categories.values())
        )
        assert caller.variables[dialplan.QUEUE_PRIORITY] == str(menu.silent_priority)
        assert result.path == ["timeout", "timeout", "speech:0.0", "silent-key"]

    async def test_neither_speaks_nor_presses_is_still_queued_marked_silent(self, records, menu):
        caller = FakeChannel(presses=["", "", ""], speech=0.1)
        _, ticket = await run(records, menu, caller)
        assert ticket.flags == ["silent"]
        assert ticket.priority == menu.unknown_priority
        assert caller.heard[-1] == prompts.CONNECTING_CALLTAKER
        assert caller.variables[dialplan.IVR_RESULT] == "done"

    async def test_a_wrong_key_at_the_offer_is_not_the_silent_key(self, records, menu):
        caller = FakeChannel(presses=["", "", "", "5"], speech=0.0)
        result, ticket = await run(records, menu, caller)
        assert ticket.flags == ["silent"]
        assert result.path[-1] == "silent:5"

    async def test_caller_who_talks_but_presses_nothing_is_not_silent(self, records, menu):
        caller = FakeChannel(presses=["", ""], speech=6.0)
        _, ticket = await run(records, menu, caller)
        assert ticket.flags == []
        assert prompts.SILENT_OFFER not in caller.heard
        assert ticket.category is None


class TestNonEmergency:
    async def test_informasi_hears_where_to_go_and_waits_without_overflow(self, records, menu):
        caller = FakeChannel(presses=["9", ""])
        result, ticket = await run(records, menu, caller)
        assert ticket.category == "informasi"
        assert ticket.priority == 0  # after every emergency
        assert "id/informasi" in caller.heard
        assert prompts.INFORMASI_STAY in caller.heard
        assert caller.recorded == 0
        # Information calls never ring an agency; they wait for a call-taker.
        assert caller.variables[dialplan.OVERFLOW] == "no"
        assert caller.variables[dialplan.MAX_WAIT] == ""
        assert result.path == ["menu:9", "informasi"]

    async def test_informasi_caller_presses_0_during_the_hotlines(self, records, menu):
        caller = FakeChannel(presses=["9", "0"])
        result, _ = await run(records, menu, caller)
        assert result.path == ["menu:9", "informasi:0"]
        assert prompts.INFORMASI_STAY not in caller.heard


async def test_a_ticket_opened_before_the_caller_id_was_known_learns_it(records, menu):
    # Asterisk's Newchannel can come before the caller ID (Local channels say <unknown>).
    caller = FakeChannel(presses=["1"], speech=3.0)
    early = CallRef(unique_id=caller.unique_id, caller_number="<unknown>", caller_name="<unknown>")
    opened = await records.calls.open_ticket(early, source="asterisk")
    assert opened.caller_number == ""
    _, ticket = await run(records, menu, caller)
    assert ticket.id == opened.id
    assert (ticket.caller_number, ticket.caller_name) == ("081234567890", "Penelepon")
    learned = [e for e in ticket.events if e.kind == "caller-id"]
    assert [e.actor for e in learned] == ["ivr"]


async def test_a_caller_who_skips_the_menu_but_talks_gets_a_category_from_their_words(tmp_path):
    from callcenter.config import default_categories
    from callcenter.speech.meaning import Lexicon

    records = await sqlite_records(tmp_path)
    menu = Menu.from_config(
        routing_config(tmp_path), Lexicon.load(categories=set(default_categories()))
    )

    class Describing(FakeChannel):
        async def record(self, part: str, seconds: int, silence: int):
            # What live recognition put on the ticket while the caller spoke.
            await records.calls.speech_heard(self.unique_id, "tolong rumah saya kebakaran", None)
            return await super().record(part, seconds, silence)

    caller = Describing(presses=["", ""], speech=4.0)  # no key at the menu, twice
    # Opened from Asterisk's Newchannel as the call arrived, before the IVR.
    await records.calls.open_ticket(CallRef(unique_id=caller.unique_id), source="asterisk")
    try:
        result, ticket = await run(records, menu, caller)
    finally:
        await records.engine.dispose()
    assert "words:fire" in result.path
    assert (ticket.category, ticket.priority) == ("fire", menu.categories["fire"].priority)
    assert "silent" not in ticket.flags


class TestRestrictedNumber:
    """The prank policy in the IVR: a warning and the lowest priority, never a refusal."""

    async def restrict(self, records, number="081234567890"):
        return await records.restrictions.restrict(
            number, "tiga panggilan iseng", [1, 2, 3], "penyelia", [3, 30, 0]
        )

    async def test_a_restricted_number_is_warned_and_still_queued_last(self, records, menu):
        restriction = await self.restrict(records)
        caller = FakeChannel(presses=["1"], speech=3.0)
        result, ticket = await run(records, menu, caller)
        assert caller.heard[:2] == ["id/welcome", "id/prank-warning"]
        assert result.category == "police"  # the menu still works: it may be real this time
        assert caller.variables[dialplan.QUEUE_PRIORITY] == "0"
        assert caller.variables[dialplan.IVR_RESULT] == "done"  # handed to the queue
        assert "restricted" in ticket.flags and ticket.priority == 0
        [restriction] = await records.restrictions.in_force_or_since(restriction.created_at)
        assert [e.kind for e in restriction.events] == ["created", "applied"]
        assert restriction.events[1].data == {"ticket_id": ticket.id}

    async def test_the_lookup_does_not_hold_up_the_menu(self, records, menu):
        # A key at the menu, not during the welcome: the menu came first, then the warning.
        await self.restrict(records)
        caller = FakeChannel(presses=["", "1"], speech=3.0)
        result, ticket = await run(records, menu, caller)
        assert caller.heard[:4] == ["id/welcome", "id/menu", "id/prank-warning", "id/describe"]
        assert "restricted" in ticket.flags and result.category == "police"

    async def test_a_restricted_caller_who_hangs_up_in_the_menu_is_on_its_trail(
        self, records, menu
    ):
        restriction = await self.restrict(records)
        caller = FakeChannel(presses=[""], hang_up_at=prompts.MENU)
        with pytest.raises(CallerHungUp):
            await ivr(caller, records.calls, records.restrictions, menu, CallerSpeaks())
        [restriction] = await records.restrictions.in_force_or_since(restriction.created_at)
        assert [e.kind for e in restriction.events] == ["created", "applied"]

    async def test_a_failed_lookup_does_not_stop_the_call(self, records, menu, monkeypatch):
        async def broken(number):
            raise OSError("database is locked")

        monkeypatch.setattr(records.restrictions, "active", broken)
        caller = FakeChannel(presses=["1"], speech=3.0)
        result, ticket = await run(records, menu, caller)
        assert result.category == "police" and "restricted" not in ticket.flags
        assert caller.variables[dialplan.IVR_RESULT] == "done"

    async def test_a_restricted_caller_who_cannot_talk_keeps_the_silent_priority(
        self, records, menu
    ):
        await self.restrict(records)
        caller = FakeChannel(presses=["", "", "", "55"], speech=0.0)
        result, ticket = await run(records, menu, caller)
        assert "silent-but-present" in ticket.flags and "restricted" in ticket.flags
        assert result.priority == menu.silent_priority

    async def test_a_lifted_or_expired_restriction_is_not_applied(self, records, menu):
        restriction = await self.restrict(records)
        await records.restrictions.lift(restriction.id, "penyelia", "salah sasaran")
        caller = FakeChannel(presses=["1"], speech=3.0)
        _, ticket = await run(records, menu, caller)
        assert "id/prank-warning" not in caller.heard and "restricted" not in ticket.flags

    async def test_restrictions_are_graduated(self, records):
        levels = []
        for _ in range(4):
            restriction = await self.restrict(records, "0341555")
            levels.append((restriction.level, restriction.until is None))
            await records.restrictions.lift(restriction.id, "penyelia", "cukup")
        # 3 days, 30 days, then until lifted, and it stays there.
        assert levels == [(1, False), (2, False), (3, True), (3, True)]


def write_description(path, spoken: float, quiet: float) -> None:
    """A telephone recording (8 kHz, 16-bit): `spoken` s of a voice-loud tone, then `quiet` s."""
    rate = 8000
    loud = [int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(spoken * rate))]
    samples = loud + [0] * int(quiet * rate)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))


async def test_without_a_speech_model_the_description_is_recorded_and_measured(
    records, menu, tmp_path
):
    caller = FakeChannel(presses=["1"])
    caller.recording = tmp_path / "test-1.1-describe.wav"
    write_description(caller.recording, spoken=1.5, quiet=1.0)
    result, ticket = await run(records, menu, caller, RecordedDescriber())
    assert caller.recorded == 1
    assert result.path == ["menu:1", "speech:1.5"]
    assert ticket.category == "police"


@pytest.mark.parametrize("recording", [None, "missing.wav", "not-audio.wav"])
async def test_a_description_that_was_not_recorded_counts_as_silence(
    records, menu, tmp_path, recording
):
    caller = FakeChannel(presses=["1"])
    if recording is not None:
        caller.recording = tmp_path / recording
        if recording == "not-audio.wav":
            caller.recording.write_bytes(b"RIFF\0\0\0\0WAVEnope")
    result, _ = await run(records, menu, caller, RecordedDescriber())
    assert result.path == ["menu:1", "speech:0.0"]
