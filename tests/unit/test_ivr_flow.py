"""Every branch of the IVR flow, with a scripted caller on a fake channel and a real ticket store."""

from __future__ import annotations

import dataclasses

import pytest

from callcenter.ivr import prompts, variables
from callcenter.ivr.channel import CallerHungUp
from callcenter.ivr.flow import Menu, ivr
from callcenter.live.events import CallRef
from tests.unit.fakes import FakeChannel, routing_config, ticket_store


@pytest.fixture
def menu(tmp_path):
    return Menu.from_config(routing_config(tmp_path))


@pytest.fixture
async def store(tmp_path):
    store = await ticket_store(tmp_path)
    yield store
    await store.engine.dispose()


async def run(store, menu, caller: FakeChannel):
    result = await ivr(caller, store, menu)
    call = await store.call(caller.unique_id)
    assert call is not None
    return result, await store.get_ticket(call.ticket_id)


async def test_caller_presses_1_after_the_menu(store, menu):
    caller = FakeChannel(presses=["", "1"], speech=4.0)
    result, ticket = await run(store, menu, caller)
    assert caller.heard == [
        prompts.WELCOME,
        prompts.MENU,
        prompts.DESCRIBE,
        "(recording)",
        prompts.CONNECTING_CALLTAKER,
    ]
    assert ticket.category == "police" and ticket.priority == 1 and ticket.flags == []
    assert ticket.ivr_done_at is not None
    assert caller.variables[variables.CATEGORY] == "police"
    assert caller.variables[variables.QUEUE_PRIORITY] == "1"
    assert caller.variables[variables.TICKET_ID] == str(ticket.id)
    assert caller.variables[variables.OVERFLOW] == "yes"
    assert caller.variables[variables.MAX_WAIT] == str(menu.max_wait)
    assert result.path == ["menu:1", "speech:4.0"]


async def test_key_during_the_welcome_barges_in(store, menu):
    caller = FakeChannel(presses=["2"], speech=3.0)
    _, ticket = await run(store, menu, caller)
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
async def test_welcome_played_by_asterisk(store, menu, welcome_key, presses, first_heard, category):
    # The dialplan plays the welcome (Read) and passes the key pressed during it.
    caller = FakeChannel(presses=presses, speech=3.0)
    caller.welcome_key = welcome_key
    _, ticket = await run(store, menu, caller)
    assert prompts.WELCOME not in caller.heard
    assert caller.heard[0] == first_heard
    assert ticket.category == category


async def test_key_during_the_invalid_prompt_counts(store, menu):
    caller = FakeChannel(presses=["", "7", "5"], speech=1.0)
    result, ticket = await run(store, menu, caller)
    assert ticket.category == "fire"
    assert result.path[:2] == ["invalid:7", "menu:5"]
    assert caller.heard.count(prompts.MENU) == 1


async def test_one_timeout_then_a_choice(store, menu):
    caller = FakeChannel(presses=["", "", "3"], speech=2.0)
    result, ticket = await run(store, menu, caller)
    assert ticket.category == "electricity"
    assert result.path[:2] == ["timeout", "menu:3"]
    assert caller.heard.count(prompts.MENU) == 2


async def test_invalid_twice_goes_to_a_calltaker(store, menu):
    caller = FakeChannel(presses=["", "8", "", "*"])
    result, ticket = await run(store, menu, caller)
    assert ticket.category is None
    assert result.path == ["invalid:8", "invalid:*"]
    assert caller.heard.count(prompts.INVALID) == 2
    # Wrong keys mean someone is pressing: no silent-caller offer, straight to a person.
    assert prompts.SILENT_OFFER not in caller.heard
    assert caller.heard[-1] == prompts.CONNECTING_CALLTAKER
    assert caller.variables[variables.OVERFLOW] == "yes"


async def test_0_goes_straight_to_a_calltaker(store, menu):
    caller = FakeChannel(presses=["0"])
    result, ticket = await run(store, menu, caller)
    assert ticket.category is None
    assert result.path == ["menu:0"]
    assert caller.recorded == 0  # no describe step: they asked for a person
    assert caller.heard[-1] == prompts.CONNECTING_CALLTAKER


async def test_a_key_mapped_to_an_unknown_category_goes_to_a_calltaker(store, menu):
    broken = dataclasses.replace(menu, keys={**menu.keys, "7": "tsunami"})
    caller = FakeChannel(presses=["7"])
    result, ticket = await run(store, broken, caller)
    assert ticket.category is None
    assert result.path == ["menu:7", "unknown-category:tsunami"]
    assert caller.heard[-1] == prompts.CONNECTING_CALLTAKER


async def test_describe_step_can_be_turned_off(store, menu):
    caller = FakeChannel(presses=["1"])
    _, ticket = await run(store, dataclasses.replace(menu, describe=False), caller)
    assert ticket.category == "police"
    assert caller.recorded == 0


async def test_caller_who_hangs_up_keeps_the_ticket_and_what_they_chose(store, menu):
    caller = FakeChannel(presses=["1"], hang_up_at=prompts.DESCRIBE)
    with pytest.raises(CallerHungUp):
        await ivr(caller, store, menu)
    call = await store.call(caller.unique_id)
    ticket = await store.get_ticket(call.ticket_id)
    assert ticket.category == "police"
    done = [e for e in ticket.events if e.kind == "ivr-done"]
    assert done and done[0].data["hung_up"] is True


class TestSilentCaller:
    async def test_silent_but_present_presses_the_key(self, store, menu):
        caller = FakeChannel(presses=["", "", "", "55"], speech=0.0)
        result, ticket = await run(store, menu, caller)
        assert prompts.SILENT_OFFER in caller.heard
        assert prompts.SILENT_CONFIRMED in caller.heard
        assert ticket.flags == ["silent-but-present"]
        assert (
            ticket.priority
            == menu.silent_priority
            > max(c.priority for c in menu.categories.values())
        )
        assert caller.variables[variables.QUEUE_PRIORITY] == str(menu.silent_priority)
        assert result.path == ["timeout", "timeout", "speech:0.0", "silent-key"]

    async def test_neither_speaks_nor_presses_is_still_queued_marked_silent(self, store, menu):
        caller = FakeChannel(presses=["", "", ""], speech=0.1)
        _, ticket = await run(store, menu, caller)
        assert ticket.flags == ["silent"]
        assert ticket.priority == menu.unknown_priority
        assert caller.heard[-1] == prompts.CONNECTING_CALLTAKER
        assert caller.variables[variables.IVR_RESULT] == "done"

    async def test_a_wrong_key_at_the_offer_is_not_the_silent_key(self, store, menu):
        caller = FakeChannel(presses=["", "", "", "5"], speech=0.0)
        result, ticket = await run(store, menu, caller)
        assert ticket.flags == ["silent"]
        assert result.path[-1] == "silent:5"

    async def test_caller_who_talks_but_presses_nothing_is_not_silent(self, store, menu):
        caller = FakeChannel(presses=["", ""], speech=6.0)
        _, ticket = await run(store, menu, caller)
        assert ticket.flags == []
        assert prompts.SILENT_OFFER not in caller.heard
        assert ticket.category is None


class TestNonEmergency:
    async def test_informasi_hears_where_to_go_and_waits_without_overflow(self, store, menu):
        caller = FakeChannel(presses=["9", ""])
        result, ticket = await run(store, menu, caller)
        assert ticket.category == "informasi"
        assert ticket.priority == 0  # after every emergency
        assert "id/informasi" in caller.heard
        assert prompts.INFORMASI_STAY in caller.heard
        assert caller.recorded == 0
        # Information calls never ring an agency; they wait for a call-taker.
        assert caller.variables[variables.OVERFLOW] == "no"
        assert caller.variables[variables.MAX_WAIT] == ""
        assert result.path == ["menu:9", "informasi"]

    async def test_informasi_caller_presses_0_during_the_hotlines(self, store, menu):
        caller = FakeChannel(presses=["9", "0"])
        result, _ = await run(store, menu, caller)
        assert result.path == ["menu:9", "informasi:0"]
        assert prompts.INFORMASI_STAY not in caller.heard


async def test_a_ticket_opened_before_the_caller_id_was_known_learns_it(store, menu):
    # Asterisk's Newchannel can come before the caller ID (Local channels say <unknown>).
    caller = FakeChannel(presses=["1"], speech=3.0)
    early = CallRef(unique_id=caller.unique_id, caller_number="<unknown>", caller_name="<unknown>")
    opened = await store.open_ticket(early, source="asterisk")
    assert opened.caller_number == ""
    _, ticket = await run(store, menu, caller)
    assert ticket.id == opened.id
    assert (ticket.caller_number, ticket.caller_name) == ("081234567890", "Penelepon")
    learned = [e for e in ticket.events if e.kind == "caller-id"]
    assert [e.actor for e in learned] == ["ivr"]


async def test_a_caller_who_skips_the_menu_but_talks_gets_a_category_from_their_words(tmp_path):
    from callcenter.config import default_categories
    from callcenter.speech.meaning import Lexicon

    store = await ticket_store(tmp_path)
    menu = Menu.from_config(
        routing_config(tmp_path), Lexicon.load(categories=set(default_categories()))
    )

    class Describing(FakeChannel):
        async def record_description(self, seconds: int, silence: int) -> float:
            # What live recognition put on the ticket while the caller spoke.
            await store.speech_heard(self.unique_id, "tolong rumah saya kebakaran", None)
            return await super().record_description(seconds, silence)

    caller = Describing(presses=["", ""], speech=4.0)  # no key at the menu, twice
    # Opened from Asterisk's Newchannel as the call arrived, before the IVR.
    await store.open_ticket(CallRef(unique_id=caller.unique_id), source="asterisk")
    try:
        result, ticket = await run(store, menu, caller)
    finally:
        await store.engine.dispose()
    assert "words:fire" in result.path
    assert (ticket.category, ticket.priority) == ("fire", menu.categories["fire"].priority)
    assert "silent" not in ticket.flags


class TestRestrictedNumber:
    """The prank policy in the IVR: a warning and the lowest priority, never a refusal."""

    async def restrict(self, store, number="081234567890"):
        return await store.restrict(
            number, "tiga panggilan iseng", [1, 2, 3], "penyelia", [3, 30, 0]
        )

    async def test_a_restricted_number_is_warned_and_still_queued_last(self, store, menu):
        restriction = await self.restrict(store)
        caller = FakeChannel(presses=["1"], speech=3.0)
        result, ticket = await run(store, menu, caller)
        assert caller.heard[:2] == ["id/welcome", "id/prank-warning"]
        assert result.category == "police"  # the menu still works: it may be real this time
        assert caller.variables[variables.QUEUE_PRIORITY] == "0"
        assert caller.variables[variables.IVR_RESULT] == "done"  # handed to the queue
        assert "restricted" in ticket.flags and ticket.priority == 0
        [restriction] = await store.restrictions(restriction.created_at)
        assert [e.kind for e in restriction.events] == ["created", "applied"]
        assert restriction.events[1].data == {"ticket_id": ticket.id}

    async def test_the_lookup_does_not_hold_up_the_menu(self, store, menu):
        # A key at the menu, not during the welcome: the menu came first, then the warning.
        await self.restrict(store)
        caller = FakeChannel(presses=["", "1"], speech=3.0)
        result, ticket = await run(store, menu, caller)
        assert caller.heard[:4] == ["id/welcome", "id/menu", "id/prank-warning", "id/describe"]
        assert "restricted" in ticket.flags and result.category == "police"

    async def test_a_restricted_caller_who_hangs_up_in_the_menu_is_on_its_trail(self, store, menu):
        restriction = await self.restrict(store)
        caller = FakeChannel(presses=[""], hang_up_at=prompts.MENU)
        with pytest.raises(CallerHungUp):
            await ivr(caller, store, menu)
        [restriction] = await store.restrictions(restriction.created_at)
        assert [e.kind for e in restriction.events] == ["created", "applied"]

    async def test_a_failed_lookup_does_not_stop_the_call(self, store, menu, monkeypatch):
        async def broken(number):
            raise OSError("database is locked")

        monkeypatch.setattr(store, "active_restriction", broken)
        caller = FakeChannel(presses=["1"], speech=3.0)
        result, ticket = await run(store, menu, caller)
        assert result.category == "police" and "restricted" not in ticket.flags
        assert caller.variables[variables.IVR_RESULT] == "done"

    async def test_a_restricted_caller_who_cannot_talk_keeps_the_silent_priority(self, store, menu):
        await self.restrict(store)
        caller = FakeChannel(presses=["", "", "", "55"], speech=0.0)
        result, ticket = await run(store, menu, caller)
        assert "silent-but-present" in ticket.flags and "restricted" in ticket.flags
        assert result.priority == menu.silent_priority

    async def test_a_lifted_or_expired_restriction_is_not_applied(self, store, menu):
        restriction = await self.restrict(store)
        await store.lift_restriction(restriction.id, "penyelia", "salah sasaran")
        caller = FakeChannel(presses=["1"], speech=3.0)
        _, ticket = await run(store, menu, caller)
        assert "id/prank-warning" not in caller.heard and "restricted" not in ticket.flags

    async def test_restrictions_are_graduated(self, store):
        levels = []
        for _ in range(4):
            restriction = await self.restrict(store, "0341555")
            levels.append((restriction.level, restriction.until is None))
            await store.lift_restriction(restriction.id, "penyelia", "cukup")
        # 3 days, 30 days, then until lifted, and it stays there.
        assert levels == [(1, False), (2, False), (3, True), (3, True)]
