"""Call-takers' desks from queue-member records: pure logic, with the records Asterisk sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.calltakers.state import Desks, DeskState, derive
from callcenter.config import Phone
from callcenter.live.facts import QueueMember
from callcenter.telephony.ami import members_to_resync, translate

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def member(**fields) -> QueueMember:
    return QueueMember(**{"interface": "PJSIP/2001", "device": 1, **fields})


def desks() -> Desks:
    return Desks([Phone("2001", "Petugas 1", username="petugas"), Phone("2002", "Petugas 2")], T0)


def test_each_record_means_one_state():
    assert derive(None, T0) == (DeskState.LOGGED_OUT, None)
    assert derive(member(), T0)[0] == DeskState.AVAILABLE
    assert derive(member(device=6), T0)[0] == DeskState.RINGING
    assert derive(member(device=2), T0)[0] == DeskState.ON_CALL
    assert derive(member(device=1, in_call=True), T0)[0] == DeskState.ON_CALL
    assert derive(member(paused=True, reason="salat"), T0)[0] == DeskState.PAUSED
    # On a call beats paused: pausing mid-call does not cut the call.
    assert derive(member(device=2, paused=True), T0)[0] == DeskState.ON_CALL
    assert derive(member(device=5), T0)[0] == DeskState.UNREACHABLE
    ended = T0.timestamp() - 3
    state, until = derive(member(last_call=ended, wrapup=5), T0)
    assert state == DeskState.WRAP_UP and until == T0 + timedelta(seconds=2)
    assert derive(member(last_call=ended, wrapup=2), T0)[0] == DeskState.AVAILABLE


def test_time_in_state_counts_from_the_first_record_of_it():
    d = desks()
    [joined] = d.member_changed(member(), True, T0)
    assert (joined.state, joined.since, joined.username) == (DeskState.AVAILABLE, T0, "petugas")
    # The same state again (another member event): nothing to publish, time in state kept.
    assert d.member_changed(member(calls_taken=0), True, T0 + timedelta(seconds=5)) == []
    [ringing] = d.member_changed(member(device=6), True, T0 + timedelta(seconds=9))
    assert ringing.since == T0 + timedelta(seconds=9)


def test_a_pause_reason_change_is_a_change():
    d = desks()
    d.member_changed(member(paused=True, reason="istirahat"), True, T0)
    [changed] = d.member_changed(member(paused=True, reason="briefing"), True, T0)
    assert changed.as_json()["reason"] == "briefing"


def test_wrap_up_ends_on_the_clock():
    d = desks()
    d.member_changed(member(last_call=T0.timestamp(), wrapup=5), True, T0)
    assert d.all()[0].state == DeskState.WRAP_UP
    assert d.next_wrapup_end() == T0 + timedelta(seconds=5)
    assert d.tick(T0 + timedelta(seconds=4)) == []
    [free] = d.tick(T0 + timedelta(seconds=5))
    assert free.state == DeskState.AVAILABLE and d.next_wrapup_end() is None


def test_resync_logs_out_whoever_is_no_longer_in_the_queue():
    d = desks()
    d.member_changed(member(), True, T0)
    d.member_changed(member(interface="PJSIP/2002"), True, T0)
    changed = d.resynced([member(interface="PJSIP/2002", paused=True)], T0)
    states = {x.extension: x.state for x in changed}
    assert states == {"2001": DeskState.LOGGED_OUT, "2002": DeskState.PAUSED}


def test_unknown_members_are_ignored():
    assert desks().member_changed(member(interface="PJSIP/9999"), True, T0) == []


def test_the_call_at_a_desk():
    d = desks()
    [desk] = d.call_at("PJSIP/2001", "1732.1")
    assert desk.unique_id == "1732.1"
    assert d.call_left("PJSIP/2001", "other.9") == []  # a later call rings there now
    [desk] = d.call_left("PJSIP/2001", "1732.1")
    assert desk.unique_id is None
    d.call_at("PJSIP/2002", "1732.7")
    assert d.call_ended("other.9") == []
    [desk] = d.call_ended("1732.7")
    assert (desk.extension, desk.unique_id) == ("2002", None)


QUEUE_MEMBER = {
    "Queue": "calltakers",
    "MemberName": "Petugas 1",
    "Interface": "PJSIP/2001",
    "StateInterface": "PJSIP/2001",
    "Membership": "dynamic",
    "CallsTaken": "3",
    "LastCall": "1795690000",
    "LastPause": "0",
    "LoginTime": "1795680000",
    "InCall": "0",
    "Status": "1",
    "Paused": "1",
    "PausedReason": "salat",
    "Wrapuptime": "5",
}


def test_member_events_become_whole_records():
    event = translate({"Event": "QueueMemberPause", **QUEUE_MEMBER})
    assert event.logged_in and event.member == QueueMember(
        interface="PJSIP/2001",
        name="Petugas 1",
        queue="calltakers",
        device=1,
        paused=True,
        reason="salat",
        in_call=False,
        last_call=1795690000.0,
        wrapup=5,
        calls_taken=3,
    )
    assert not translate({"Event": "QueueMemberRemoved", **QUEUE_MEMBER}).logged_in


def test_hostile_member_fields_do_not_break_translation():
    event = translate(
        {
            "Event": "QueueMemberStatus",
            "Interface": "PJSIP/2001",
            "Status": "x",
            "LastCall": "-",
            "PausedReason": "r" * 5000,
            "Wrapuptime": "",
        }
    )
    assert event.member.device == 0 and event.member.last_call == 0.0
    assert len(event.member.reason) == 64


def test_queue_status_resync_takes_only_our_queue():
    replies = [
        {"Event": "QueueParams", "Queue": "calltakers"},
        {
            "Event": "QueueMember",
            "Name": "Petugas 1",
            "Location": "PJSIP/2001",
            **{k: v for k, v in QUEUE_MEMBER.items() if k not in ("MemberName", "Interface")},
        },
        {"Event": "QueueMember", "Queue": "other", "Location": "PJSIP/2002"},
        {"Event": "QueueStatusComplete"},
    ]
    resynced = members_to_resync(replies, "calltakers", T0)
    assert [m.interface for m in resynced.members] == ["PJSIP/2001"]
    assert resynced.members[0].name == "Petugas 1"


def test_agent_events_name_the_call_and_the_desk():
    base = {"Uniqueid": "1732.5", "Channel": "PJSIP/9001-1", "Interface": "PJSIP/2001"}
    offered = translate({"Event": "AgentCalled", **base})
    assert (offered.call.unique_id, offered.interface) == ("1732.5", "PJSIP/2001")
    missed = translate({"Event": "AgentRingNoAnswer", "RingTime": "5000", **base})
    assert missed.ring_seconds == 5.0
    done = translate({"Event": "AgentComplete", "TalkTime": "42", "Reason": "caller", **base})
    assert (done.talk_seconds, done.reason) == (42.0, "caller")
