"""The console's rules without a socket: what an edit may change, what the repositories publish, what
each user's live feed receives, and the protocol cards."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from callcenter.calltakers.protocols import (
    CardError,
    Protocols,
    check_items,
    item_id,
    load_cards,
)
from callcenter.config import Phone
from callcenter.live.bus import Bus
from callcenter.live.facts import CallAnswered, CallEnded, CallQueued, CallRef
from callcenter.live.messages import (
    AssignmentChanged,
    BoardChanged,
    DeskChanged,
    DispatchAlert,
    ScreenPop,
    TicketChanged,
)
from callcenter.speech.meaning import Gazetteer
from callcenter.tickets.edits import EditError, parse_edit, parse_outcome
from callcenter.web.live import LiveFeed, Viewer
from tests.records import sqlite_records
from tests.unit.fakes import routing_config

CATEGORIES = {"police", "ambulance", "fire"}
PLACES = Gazetteer.load().districts()
ITEMS = {"ask-aaaa", "tell-bbbb"}


def edit(body):
    return parse_edit(body, categories=CATEGORIES, places=PLACES, items=ITEMS)


def test_the_gazetteer_gives_the_form_its_places():
    assert sorted(PLACES) == ["Blimbing", "Kedungkandang", "Klojen", "Lowokwaru", "Sukun"]
    assert sum(len(k) for k in PLACES.values()) == 57
    assert "Oro-oro Dowo" in PLACES["Klojen"]


def test_a_good_edit_is_kept_as_given():
    checked = edit(
        {
            "what": "  Rumah terbakar\ttiga lantai\n",
            "kecamatan": "Klojen",
            "kelurahan": "Oro-oro Dowo",
            "category": "fire",
            "flags": {"prank": False},
            "checklist": {"ask-aaaa": True},
        }
    )
    assert checked.text == {"what": "Rumah terbakar\ttiga lantai"}
    assert checked.place == {"kecamatan": "Klojen", "kelurahan": "Oro-oro Dowo"}
    assert (checked.category, checked.has_category) == ("fire", True)
    assert checked.flags == {"prank": False} and checked.checklist == {"ask-aaaa": True}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "resolved"}, "status"),  # not a call-taker's to set
        ({"id": 5}, "id"),
        ({"what": 5}, "what"),
        ({"what": "x" * 4001}, "what"),  # refused, not cut
        ({"address": ["Jl. Ijen"]}, "address"),
        ({"category": "aliens"}, "category"),
        ({"category": 3}, "category"),
        ({"kecamatan": "Batu"}, "kecamatan"),  # Kota Batu is not Kota Malang
        ({"kelurahan": "Oro-oro Dowo"}, "kelurahan"),  # without its kecamatan
        ({"kecamatan": "Sukun", "kelurahan": "Oro-oro Dowo"}, "kelurahan"),  # another's
        ({"flags": {"overflow": True}}, "flags.overflow"),  # set by the call, not by hand
        ({"flags": ["prank"]}, "flags"),
        ({"flags": {"prank": "yes"}}, "flags.prank"),
        ({"checklist": {"ask-zzzz": True}}, "checklist.ask-zzzz"),
        ({"checklist": {f"x{i}": True for i in range(101)}}, "checklist"),
    ],
)
def test_a_bad_edit_names_its_field(body, field):
    with pytest.raises(EditError) as e:
        edit(body)
    assert e.value.field == field


def test_control_characters_are_dropped_but_lines_kept():
    checked = edit({"who": "Bu\x00di\x1b[31m\u202e dan\nSiti"})
    assert checked.text["who"] == "Budi[31m dan\nSiti"


def test_clearing_the_kecamatan_clears_the_kelurahan():
    assert edit({"kecamatan": ""}).place == {"kecamatan": "", "kelurahan": ""}


def test_outcomes_are_the_national_call_types():
    assert parse_outcome({"outcome": "tidak-tercatat"}) == "tidak-tercatat"
    for bad in ({}, {"outcome": "selesai"}, {"outcome": None}):
        with pytest.raises(EditError):
            parse_outcome(bad)


async def test_an_edit_is_one_event_with_what_changed(tmp_path):
    records = await sqlite_records(tmp_path)
    ticket = await records.calls.open_ticket(CallRef("t-1.1", caller_number="0812"), source="ivr")
    texts = {"ask-aaaa": "Di mana lokasinya?"}
    await records.tickets.edit(
        ticket.id,
        edit({"what": "Kebakaran", "checklist": {"ask-aaaa": True}, "flags": {"prank": True}}),
        "petugas",
        texts,
    )
    # The same again changes nothing and writes nothing.
    await records.tickets.edit(ticket.id, edit({"what": "Kebakaran"}), "petugas", texts)
    stored = await records.tickets.get(ticket.id)
    edits = [e for e in stored.events if e.kind == "edited"]
    assert len(edits) == 1 and edits[0].actor == "petugas"
    assert edits[0].data["what"] == {"from": "", "to": "Kebakaran"}
    assert stored.checklist == {"ask-aaaa": "Di mana lokasinya?"}
    assert stored.flags == ["prank"]
    await records.tickets.edit(ticket.id, edit({"flags": {"prank": False}}), "penyelia", texts)
    assert (await records.tickets.get(ticket.id)).flags == []
    await records.engine.dispose()


async def test_a_ticket_is_closed_once(tmp_path):
    records = await sqlite_records(tmp_path)
    ticket = await records.calls.open_ticket(CallRef("t-2.1"), source="ivr")
    closed = await records.tickets.close(ticket.id, "informasi", "petugas")
    assert (closed.outcome, closed.closed_by) == ("informasi", "petugas")
    assert closed.flags == ["informasi"]  # a call-taker's outcome marks it, as the IVR's menu does
    with pytest.raises(ValueError, match="already closed as informasi by petugas"):
        await records.tickets.close(ticket.id, "prank", "petugas2")
    assert await records.tickets.close(99999, "prank", "petugas") is None
    await records.engine.dispose()


async def test_history_is_the_same_number_only(tmp_path):
    records = await sqlite_records(tmp_path)
    first = await records.calls.open_ticket(CallRef("t-3.1", caller_number="0812"), source="ivr")
    await records.calls.open_ticket(CallRef("t-3.2", caller_number="0899"), source="ivr")
    anonymous = await records.calls.open_ticket(CallRef("t-3.3", caller_number=""), source="ivr")
    latest = await records.calls.open_ticket(CallRef("t-3.4", caller_number="0812"), source="ivr")
    assert [t.id for t in await records.tickets.history("0812", before=latest.id)] == [first.id]
    # Callers without a number are not one person.
    assert await records.tickets.history("", before=anonymous.id + 1) == []
    await records.engine.dispose()


async def test_every_ticket_event_is_published_once_committed_in_order(tmp_path):
    bus = Bus()
    feed = bus.subscribe()
    records = await sqlite_records(tmp_path, bus)
    call = CallRef("t-4.1", channel="PJSIP/9001-1", caller_number="0812\x07")
    ticket = await records.calls.open_ticket(call, source="ivr")
    await records.calls.choose_while_waiting(
        call.unique_id, lambda _c, _f, _a: ("police", ["silent"], 2), {"key": "1"}
    )
    await records.facts.deliver(CallQueued(call, queue="calltakers"))
    await records.facts.deliver(CallAnswered(call, queue="calltakers", calltaker="PJSIP/2001"))
    await records.calls.note(call.unique_id, "petugas", "hold", {})
    dispatch = await records.dispatches.start(
        call, "polresta", "PJSIP/7001", "conference", "petugas"
    )
    await records.dispatches.outcome(dispatch.id, "answered")
    # Who alerts the call-taker is the Dispatcher's business (test_dispatch.py); this is who.
    assert await records.dispatches.failed(call, "pmi", "petugas") == (ticket.id, "PJSIP/2001")
    await records.calls.speech_heard(call.unique_id, "ada api", None)  # no event: a change
    await records.calls.speech_heard(call.unique_id, "ada api besar", "ada api besar")
    job = await records.jobs.queue(call.unique_id, "/none.wav")
    await records.jobs.failed(job, "not readable audio", None)
    await records.facts.deliver(CallEnded(call, cause="Normal Clearing"))
    await records.tickets.close(ticket.id, "darurat", "petugas")

    published = []
    while not feed.queue.empty():
        published.append(feed.queue.get_nowait())
    changes = [p for p in published if isinstance(p, TicketChanged)]
    stored = await records.tickets.get(ticket.id)
    with_events = [c for c in changes if c.event is not None]
    assert [c.event["id"] for c in with_events] == [e.id for e in stored.events]
    assert all(c.ticket["id"] == ticket.id for c in changes)  # each with the ticket as it was
    assert with_events[-1].ticket["outcome"] == "darurat"
    assert [c.kind for c in changes if c.event is None] == ["speech"]
    await records.engine.dispose()


async def test_nothing_is_published_for_a_change_that_did_not_commit(tmp_path):
    bus = Bus()
    feed = bus.subscribe()
    records = await sqlite_records(tmp_path, bus)
    call = CallRef("t-5.1")
    await records.calls.open_ticket(call, source="ivr")
    # The same call opened twice concurrently: one insert loses on the unique id and rolls back.
    await asyncio.gather(
        *(records.calls.open_ticket(CallRef("t-5.2"), source="ivr") for _ in range(5))
    )
    kinds = []
    while not feed.queue.empty():
        kinds.append(feed.queue.get_nowait().kind)
    assert kinds == ["opened", "opened"]
    await records.engine.dispose()


async def test_protocol_cards_ship_for_every_category(tmp_path):
    config = routing_config(tmp_path)
    cards = load_cards(config.categories)
    assert set(cards) == {*config.categories, "umum"}
    records = await sqlite_records(tmp_path)
    protocols = Protocols(cards, records.protocol_cards)
    assert [c.category for c in protocols.for_ticket("fire")] == ["umum", "fire"]
    assert [c.category for c in protocols.for_ticket(None)] == ["umum"]
    item = protocols.card("fire").items[0]
    assert protocols.items()[item.id] == item.text
    # A supervisor's version wins; ids follow the words, so a rewritten item is a new item.
    await protocols.save("fire", ["Apakah ada korban?"], [], "penyelia")
    assert protocols.card("fire").as_json()["ask"] == [
        {"id": item_id("ask", "Apakah ada korban?"), "text": "Apakah ada korban?"}
    ]
    assert item.id not in protocols.items()
    # Kept: a restart of the centre loads the supervisor's version again.
    restarted = Protocols(cards, records.protocol_cards)
    await restarted.load_edits()
    assert restarted.card("fire") == protocols.card("fire")
    await records.engine.dispose()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('[aliens]\nask = ["?"]\n', "aliens: not a configured category"),
        ('[fire]\nask = "Apa?"\n', "fire.ask: must be a list"),
        ('[fire]\nask = ["", "x"]\n', "fire.ask: each item"),
        ('[fire]\nask = ["x", "x"]\n', "fire.ask: the same item twice"),
        ("[fire\n", "Expected"),
    ],
)
def test_a_bad_card_file_names_file_and_key(tmp_path, content, problem):
    path = tmp_path / "cards.toml"
    path.write_text(content)
    with pytest.raises(CardError) as e:
        load_cards({"fire"}, path)
    assert str(path) in str(e.value) and problem in str(e.value)


def test_a_supervisors_card_is_checked():
    assert check_items("ask", [" Siapa? \x07"]) == ["Siapa?"]
    for bad in ("Siapa?", [1], ["x" * 301], ["a"] * 31):
        with pytest.raises(CardError):
            check_items("ask", bad)


class TestWhatEachConsoleReceives:
    @pytest.fixture
    def config(self, tmp_path: Path):
        config = routing_config(tmp_path)
        config.calltakers = [
            Phone("2001", "Petugas 1", username="petugas"),
            Phone("2002", "Petugas 2", username="petugas2"),
        ]
        return config

    def feed(self, config, username, role, agency=None):
        return LiveFeed(Viewer(username, role, agency), config)

    def test_a_screen_pop_reaches_only_its_calltaker(self, config):
        pop = ScreenPop("petugas2", "answered", "1.1", {"id": 7})
        assert self.feed(config, "petugas2", "call-taker").message(pop)["ticket"] == {"id": 7}
        assert self.feed(config, "petugas", "call-taker").message(pop) is None
        assert self.feed(config, "penyelia", "supervisor").message(pop) is None

    def test_desks_are_ones_own_unless_supervising(self, config):
        change = DeskChanged("2002", "petugas2", {"state": "paused"})
        assert self.feed(config, "petugas", "call-taker").message(change) is None
        assert self.feed(config, "petugas2", "call-taker").message(change)["type"] == "desk"
        assert self.feed(config, "penyelia", "supervisor").message(change) is not None
        assert self.feed(config, "polisi", "agency", "polresta").message(change) is None

    def test_agencies_see_only_their_assignments_and_no_ticket(self, config):
        # A ticket message carries the caller's number, which an agency may not be allowed to
        # see: agencies follow their assignments and read tickets through the API.
        ours = TicketChanged(1, "edited", "dispatched", {"id": 1, "agency": "polresta"})
        theirs = TicketChanged(2, "edited", "dispatched", {"id": 2, "agency": "pmi"})
        agency = self.feed(config, "polisi", "agency", "polresta")
        assert agency.message(ours) is None and agency.message(theirs) is None
        assert self.feed(config, "petugas", "call-taker").message(theirs) is not None

        def moved(agency_id: str) -> AssignmentChanged:
            return AssignmentChanged(1, 7, agency_id, "en-route", "assigned", "x", {"id": 7})

        assert agency.message(moved("polresta"))["type"] == "assignment"
        assert agency.message(moved("pmi")) is None

    def test_a_failed_dispatch_alerts_the_calltaker_who_has_the_call(self, config):
        alert = DispatchAlert(3, "1.1", "pmi", calltaker="PJSIP/2001")
        assert self.feed(config, "petugas", "call-taker").message(alert)["agency"] == "pmi"
        assert self.feed(config, "petugas2", "call-taker").message(alert) is None
        assert self.feed(config, "penyelia", "supervisor").message(alert) is not None

    def test_an_event_is_encoded_once_for_every_console_that_sees_it(self, config):
        change = TicketChanged(4, "edited", "queued", {"id": 4, "what": "api <b>besar</b>"})
        consoles = [self.feed(config, f"petugas{n}", "call-taker") for n in range(100)]
        sent = [c.encoded(change) for c in consoles]
        assert sent[0] is not None and json.loads(sent[0]) == consoles[0].message(change)
        assert all(text is sent[0] for text in sent)  # one string, not a hundred
        agency = self.feed(config, "polisi", "agency", "polresta")
        assert agency.encoded(change) is None  # not theirs: nothing to encode

    def test_an_event_pushed_out_of_the_encodings_is_encoded_again(self, config):
        console = self.feed(config, "penyelia", "supervisor")
        first = BoardChanged({"waiting": 1})
        encoded = console.encoded(first)
        for n in range(300):  # more events than are kept, while `first` is still queued
            console.encoded(BoardChanged({"waiting": n}))
        again = console.encoded(first)
        assert again == encoded and again is not encoded
        assert json.loads(again or "") == {"type": "board", "board": {"waiting": 1}}
