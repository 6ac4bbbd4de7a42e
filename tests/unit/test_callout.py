"""Calling an agency's desk phone about its assignment: what it hears (every piece a prompt file
that exists), what its keys do, and that only a key from a callout the centre placed counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from callcenter.config import load
from callcenter.ivr import prompts
from callcenter.live.bus import Bus
from callcenter.live.facts import AgencyKeyPressed, AgencyLegEnded, CallRef
from callcenter.routing import callout
from callcenter.routing.agency_loop import Mover, Status
from callcenter.routing.assignments import Assignments
from callcenter.routing.callouts import Callouts
from callcenter.routing.dispatch import Ringing
from callcenter.routing.dispatch_log import DispatchLog
from callcenter.speech.meaning import Gazetteer
from callcenter.telephony import ami, dialplan
from callcenter.tickets.models import Ticket
from tests.centre import REPO
from tests.records import sqlite_records
from tests.unit.fakes import CONFIG_TOML
from tests.waiting import until_async

PROMPTS = REPO / "ivr-prompts"
AVAILABLE = prompts.available(PROMPTS)
CALLER = CallRef(unique_id="callout-test-1.1", channel="PJSIP/9001-00000001")

# ---- the briefing ----------------------------------------------------------------------------


def test_the_briefing_reads_the_number_category_and_kelurahan_then_the_keys():
    assert callout.briefing(507, "police", "Lowokwaru", "Dinoyo", AVAILABLE) == (
        "id/callout/ticket",
        "id/digits/5",
        "id/digits/0",
        "id/digits/7",
        "id/category/police",
        "id/place/kel-dinoyo",
        "id/callout/press",
    )


@pytest.mark.parametrize(
    ("category", "kecamatan", "kelurahan", "said"),
    [
        # No kelurahan: the kecamatan.
        ("fire", "Klojen", None, ("id/category/fire", "id/place/kec-klojen")),
        # Neither: the location is not known yet.
        ("ambulance", None, None, ("id/category/ambulance", "id/callout/place-unknown")),
        # A name with a hyphen and a space.
        ("police", "Klojen", "Oro-oro Dowo", ("id/category/police", "id/place/kel-oro-oro-dowo")),
        # No category yet.
        (None, "Sukun", "Sukun", ("id/callout/category-unknown", "id/place/kel-sukun")),
        # A configured category nobody recorded a prompt for: left out, not played as silence.
        ("banjir", "Sukun", None, ("id/place/kec-sukun",)),
        # A kelurahan the gazetteer does not know (an old name): its kecamatan.
        ("police", "Blimbing", "Kampung Lama", ("id/category/police", "id/place/kec-blimbing")),
        # Text nobody could have recorded: the location is unknown.
        ("police", "../../etc", "&Playback(x)", ("id/category/police", "id/callout/place-unknown")),
    ],
)
def test_the_briefing_names_what_it_knows_and_says_what_it_does_not(
    category, kecamatan, kelurahan, said
):
    briefing = callout.briefing(12, category, kecamatan, kelurahan, AVAILABLE)
    assert briefing == (
        "id/callout/ticket",
        "id/digits/1",
        "id/digits/2",
        *said,
        "id/callout/press",
    )


def test_every_gazetteer_place_has_its_prompt_file_and_prompts_txt_line():
    districts = Gazetteer.load().districts()
    for kecamatan, kelurahan in districts.items():
        assert callout.place_prompt(kecamatan, None) in AVAILABLE, kecamatan
        for name in kelurahan:
            assert callout.place_prompt(kecamatan, name) in AVAILABLE, name
    catalogue = (PROMPTS / "id/prompts.txt").read_text(encoding="utf-8").splitlines()
    lines = callout.place_prompt_lines(districts)
    start = catalogue.index(lines[0])
    assert catalogue[start : start + len(lines)] == lines, "regenerate the places' block"
    assert len(lines) == 5 + 57  # Kota Malang's kecamatan and kelurahan


def test_every_briefing_names_only_prompt_files_that_exist():
    config = load(None, env={})
    places = [(k, None) for k in Gazetteer.load().districts()] + [
        (k, name) for k, names in Gazetteer.load().districts().items() for name in names
    ]
    for category in [*config.categories, None]:
        for kecamatan, kelurahan in places:
            for ticket_id in (1, 90, 1234567890):
                for name in callout.briefing(ticket_id, category, kecamatan, kelurahan, AVAILABLE):
                    assert (PROMPTS / f"{name}.wav").is_file(), name
    # And what the dialplan plays after the key.
    for name in (callout.ACCEPTED, callout.DECLINED, callout.NO_KEY):
        assert name in AVAILABLE


def test_a_key_means_accept_decline_or_nothing():
    assert callout.status_for_key("1") == Status.ACKNOWLEDGED
    assert callout.status_for_key("2") == Status.DECLINED
    for key in ("", "0", "3", "*", "#", "?", "11", "١"):
        assert callout.status_for_key(key) is None
    assert callout.text_for(Status.DECLINED) == "ditolak lewat telepon"


# ---- the key as Asterisk reports it: untrusted text -------------------------------------------


def user_event(**fields: str) -> dict[str, str]:
    event = {
        "Event": "UserEvent",
        "UserEvent": "AgencyCallout",
        "Uniqueid": "callout-7-0123456789ab",
        "Channel": "PJSIP/7001-00000003",
        "Assignment": "7",
        "Key": "1",
    }
    return event | fields


def test_the_callouts_user_event_becomes_a_key_fact():
    fact = ami.translate(user_event())
    assert isinstance(fact, AgencyKeyPressed)
    assert (fact.unique_id, fact.assignment_id, fact.key) == ("callout-7-0123456789ab", 7, "1")
    assert ami.translate(user_event(Key="")).key == ""
    assert "UserEvent" in ami.RECEIVED_EVENTS


@pytest.mark.parametrize(
    "fields",
    [
        {"UserEvent": "SomethingElse"},  # another user event is not ours
        {"UserEvent": "agencycallout"},
        {"Uniqueid": "1712345678.42"},  # not a channel named as a callout
        {"Uniqueid": ""},
        {"Assignment": ""},  # the id must be ASCII digits, and not too many
        {"Assignment": "7; DROP TABLE assignments"},
        {"Assignment": "٧"},
        {"Assignment": "-7"},
        {"Assignment": "9" * 13},
    ],
)
def test_other_or_garbled_user_events_are_no_fact(fields):
    assert ami.translate(user_event(**fields)) is None


@pytest.mark.parametrize("key", ["12", "x", "١", "1\n", "A"])
def test_a_garbled_key_is_kept_as_one_that_means_nothing(key):
    fact = ami.translate(user_event(Key=key))
    assert isinstance(fact, AgencyKeyPressed) and fact.key == "?"
    assert callout.status_for_key(fact.key) is None


# ---- the calls, over the real repositories ----------------------------------------------------


@dataclass
class DeskPhones:
    """Desk phones that answer or not as scripted; a note of every callout placed."""

    answers: dict[str, bool] = field(default_factory=dict)
    placed: list[tuple[str, str, int, tuple[str, ...]]] = field(default_factory=list)

    async def call_agency_desk(self, target, leg_id, timeout, caller_id, assignment_id, briefing):
        self.placed.append((target, leg_id, assignment_id, briefing))
        if self.answers.get(target, False):
            return Ringing(True)
        return Ringing(False, "no-answer", "reason 3")


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "callout.toml"
    # PLN's desk answers on its page only.
    path.write_text(
        CONFIG_TOML.replace(
            'primary = "PJSIP/0341123@telkom"\n',
            'primary = "PJSIP/0341123@telkom"\ncallout = false\n',
        )
    )
    return load(path, env={})


@pytest.fixture
async def records(tmp_path):
    records = await sqlite_records(tmp_path, Bus())
    yield records
    await records.engine.dispose()


@dataclass
class Centre:
    records: object
    assignments: Assignments
    dispatches: DispatchLog
    phones: DeskPhones
    callouts: Callouts


@pytest.fixture
def centre(records, config):
    assignments = Assignments(records.db, config)
    dispatches = DispatchLog(records.db, records.calls, assignments)
    phones = DeskPhones()
    callouts = Callouts(config, assignments, records.tickets, dispatches, phones, AVAILABLE)
    return Centre(records, assignments, dispatches, phones, callouts)


async def police_ticket(records) -> int:
    ticket = await records.calls.open_ticket(CALLER, source="ivr")
    async with records.db.session() as db:
        row = await db.get_one(Ticket, ticket.id)
        row.category, row.kecamatan, row.kelurahan = "police", "Lowokwaru", "Dinoyo"
        await db.commit()
    return ticket.id


async def idle(callouts: Callouts) -> None:
    await until_async(lambda: _no_tasks(callouts), message="the callout never finished")


async def _no_tasks(callouts: Callouts) -> bool:
    return not callouts._tasks


async def callout_events(records, ticket_id):
    ticket = await records.tickets.get(ticket_id)
    return [e.data for e in ticket.events if e.kind == "agency-callout"]


async def test_an_assignment_calls_the_primary_then_the_backup(centre):
    centre.phones.answers = {"PJSIP/7002": True}
    ticket_id = await police_ticket(centre.records)

    assignment = await centre.callouts.assign(ticket_id, "polresta", "petugas")
    await idle(centre.callouts)

    assert [(t, a) for t, _leg, a, _b in centre.phones.placed] == [
        ("PJSIP/7001", assignment.id),
        ("PJSIP/7002", assignment.id),
    ]
    briefing = centre.phones.placed[0][3]
    assert briefing[-3:] == ("id/category/police", "id/place/kel-dinoyo", "id/callout/press")
    # Only the call that was answered can still send a key.
    [leg] = centre.callouts.placed
    assert leg == centre.phones.placed[1][1] and leg.startswith(dialplan.CALLOUT_PREFIX)
    events = await callout_events(centre.records, ticket_id)
    assert [(e["target"], e["outcome"]) for e in events] == [
        ("PJSIP/7001", "no-answer"),
        ("PJSIP/7002", "answered"),
    ]


async def test_pressing_1_acknowledges_in_the_name_of_the_phone(centre):
    centre.phones.answers = {"PJSIP/7001": True}
    ticket_id = await police_ticket(centre.records)
    assignment = await centre.callouts.assign(ticket_id, "polresta", "petugas")
    await idle(centre.callouts)
    [(_target, leg, _a, _b)] = centre.phones.placed

    await centre.callouts.key_pressed(AgencyKeyPressed(leg, assignment.id, "1"))

    moved = await centre.assignments.get(assignment.id)
    assert (moved.status, moved.moved_by) == ("acknowledged", "telepon PJSIP/7001")
    assert not centre.callouts.placed  # the key is taken once
    # The same key again (a replayed event) finds no callout.
    await centre.callouts.key_pressed(AgencyKeyPressed(leg, assignment.id, "2"))
    assert (await centre.assignments.get(assignment.id)).status == "acknowledged"


async def test_pressing_2_declines_with_a_reason(centre):
    centre.phones.answers = {"PJSIP/7001": True}
    ticket_id = await police_ticket(centre.records)
    assignment = await centre.callouts.assign(ticket_id, "polresta", "petugas")
    await idle(centre.callouts)
    [(_target, leg, _a, _b)] = centre.phones.placed

    await centre.callouts.key_pressed(AgencyKeyPressed(leg, assignment.id, "2"))

    moved = await centre.assignments.get(assignment.id)
    assert (moved.status, moved.decline_reason) == ("declined", "ditolak lewat telepon")


async def test_a_key_from_elsewhere_or_about_another_assignment_changes_nothing(centre):
    centre.phones.answers = {"PJSIP/7001": True}
    ticket_id = await police_ticket(centre.records)
    assignment = await centre.callouts.assign(ticket_id, "polresta", "petugas")
    other = await centre.assignments.assign(ticket_id, "pmi", "petugas")
    await idle(centre.callouts)
    [(_target, leg, _a, _b)] = [p for p in centre.phones.placed if p[0] == "PJSIP/7001"]

    for fact in (
        # A channel the centre never called (its name even looks like a callout's).
        AgencyKeyPressed("callout-1-ffffffffffff", assignment.id, "1"),
        AgencyKeyPressed("1712345678.9", assignment.id, "1"),
        # The right channel naming another assignment: forged or garbled.
        AgencyKeyPressed(leg, other.id, "1"),
        AgencyKeyPressed(leg, assignment.id + 1000, "1"),
    ):
        await centre.callouts.key_pressed(fact)

    assert (await centre.assignments.get(assignment.id)).status == "assigned"
    assert (await centre.assignments.get(other.id)).status == "assigned"
    assert leg in centre.callouts.placed  # its own key may still come
    # A key that means nothing is taken and changes nothing.
    await centre.callouts.key_pressed(AgencyKeyPressed(leg, assignment.id, "?"))
    assert (await centre.assignments.get(assignment.id)).status == "assigned"
    assert leg not in centre.callouts.placed


async def test_a_key_after_the_page_acknowledged_is_noted_and_changes_nothing(centre):
    centre.phones.answers = {"PJSIP/7001": True}
    ticket_id = await police_ticket(centre.records)
    assignment = await centre.callouts.assign(ticket_id, "polresta", "petugas")
    await idle(centre.callouts)
    [(_target, leg, _a, _b)] = centre.phones.placed
    page = Mover("polresta1", "agency", "polresta")
    await centre.assignments.move(assignment.id, Status.ACKNOWLEDGED, page)

    await centre.callouts.key_pressed(AgencyKeyPressed(leg, assignment.id, "1"))

    moved = await centre.assignments.get(assignment.id)
    assert (moved.status, moved.moved_by) == ("acknowledged", "polresta1")
    [*_, refused] = await callout_events(centre.records, ticket_id)
    assert refused["key"] == "1" and "already acknowledged" in refused["refused"]


async def test_an_agency_without_callouts_is_not_called(centre):
    ticket_id = await police_ticket(centre.records)
    await centre.callouts.assign(ticket_id, "pln", "petugas")
    await idle(centre.callouts)
    assert centre.phones.placed == []


async def test_the_end_of_an_answered_conference_leg_calls_the_desk_still_assigned(centre):
    ticket_id = await police_ticket(centre.records)
    dispatch = await centre.dispatches.start(CALLER, "polresta", "PJSIP/7001", "conference", "p")
    await centre.dispatches.outcome(dispatch.id, "answered")
    never = await centre.dispatches.start(CALLER, "polresta", "PJSIP/7001", "conference", "p")
    await centre.dispatches.outcome(never.id, "no-answer")

    # A leg that never answered, and one that is not a dispatch's: nobody is called.
    await centre.callouts.after_conference(AgencyLegEnded(never.leg_id or ""))
    await centre.callouts.after_conference(AgencyLegEnded("dispatch-99999"))
    await idle(centre.callouts)
    assert centre.phones.placed == []

    await centre.callouts.after_conference(AgencyLegEnded(dispatch.leg_id or ""))
    await idle(centre.callouts)
    assert [p[0] for p in centre.phones.placed] == ["PJSIP/7001", "PJSIP/7002"]
    [assignment] = await centre.assignments.of_ticket(ticket_id)
    assert {p[2] for p in centre.phones.placed} == {assignment.id}

    # Acknowledged meanwhile: the end of another leg calls nobody.
    await centre.assignments.move(
        assignment.id, Status.ACKNOWLEDGED, callout.phone_mover("polresta", "x")
    )
    centre.phones.placed.clear()
    await centre.callouts.after_conference(AgencyLegEnded(dispatch.leg_id or ""))
    await idle(centre.callouts)
    assert centre.phones.placed == []


async def test_a_re_alert_calls_the_backup_only(centre, config):
    ticket_id = await police_ticket(centre.records)
    assignment = await centre.assignments.assign(ticket_id, "polresta", "petugas")
    polresta = config.agency("polresta")
    await centre.callouts.re_alert(polresta, assignment, "PJSIP/7002")
    await idle(centre.callouts)
    assert [p[0] for p in centre.phones.placed] == ["PJSIP/7002"]
    [event] = await callout_events(centre.records, ticket_id)
    assert (event["why"], event["outcome"]) == ("re-alert", "no-answer")


def test_prompt_names_are_found_by_path(tmp_path: Path):
    (tmp_path / "id/place").mkdir(parents=True)
    (tmp_path / "id/place/kel-dinoyo.wav").write_bytes(b"")
    (tmp_path / "id/readme.txt").write_text("")
    assert prompts.available(tmp_path) == {"id/place/kel-dinoyo"}
