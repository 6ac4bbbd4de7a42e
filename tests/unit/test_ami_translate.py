"""AMI transcripts (as Asterisk 22 sends them) become domain events."""

from datetime import UTC, datetime, timedelta

from callcenter.live.facts import (
    AgencyLegEnded,
    CallAbandoned,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallLeftQueue,
    CallQueued,
    CallSeen,
    KeyPressed,
)
from callcenter.telephony.ami import Backoff, channels_alive, channels_to_resync, translate

CALLER = {
    "Channel": "PJSIP/9001-00000001",
    "Uniqueid": "dev-1795338680.0",
    "Linkedid": "dev-1795338680.0",
    "CallerIDNum": "9001",
    "CallerIDName": "Penelepon",
    "Context": "public",
    "Exten": "112",
}


def test_queue_events_become_call_events():
    joined = translate(
        {"Event": "QueueCallerJoin", **CALLER, "Queue": "calltakers", "Position": "2"}
    )
    assert isinstance(joined, CallQueued) and joined.position == 2
    assert joined.call.unique_id == "dev-1795338680.0"
    answered = translate(
        {"Event": "AgentConnect", **CALLER, "Queue": "calltakers", "Interface": "PJSIP/2001"}
    )
    assert isinstance(answered, CallAnswered) and answered.calltaker == "PJSIP/2001"
    assert answered.calltaker_channel == ""  # older events without DestChannel still translate
    with_channel = translate(
        {
            "Event": "AgentConnect",
            **CALLER,
            "Interface": "PJSIP/2001",
            "DestChannel": "PJSIP/2001-00000002",
        }
    )
    assert isinstance(with_channel, CallAnswered)
    # Dispatch moves this very channel into the conference: it must be the call-taker's leg.
    assert with_channel.calltaker_channel == "PJSIP/2001-00000002"
    abandoned = translate({"Event": "QueueCallerAbandon", **CALLER, "Queue": "calltakers"})
    assert isinstance(abandoned, CallAbandoned)


def test_only_the_callers_hangup_counts():
    ended = translate({"Event": "Hangup", **CALLER, "Cause-txt": "Normal Clearing"})
    assert isinstance(ended, CallEnded) and ended.cause == "Normal Clearing"
    agent_leg = {**CALLER, "Channel": "PJSIP/2001-00000002", "Context": "calltakers", "Exten": "s"}
    assert translate({"Event": "Hangup", **agent_leg}) is None
    local_origin = {**CALLER, "Channel": "Local/112@public-00000000;1"}
    assert translate({"Event": "Hangup", **local_origin}) is None
    assert translate({"Event": "Newexten", **CALLER}) is None


def test_resync_finds_live_112_calls_and_when_they_started():
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    events = channels_to_resync(
        [
            {"Event": "CoreShowChannel", **CALLER, "Application": "Queue", "Duration": "00:01:05"},
            {
                "Event": "CoreShowChannel",
                **CALLER,
                "Uniqueid": "x.2",
                "Application": "AGI",
                "Duration": "garbage",
            },
            {"Event": "CoreShowChannel", **CALLER, "Context": "calltakers"},
            {"Event": "CoreShowChannelsComplete"},
        ],
        now,
    )
    assert len(events) == 2
    first = events[0]
    assert isinstance(first, CallSeen) and first.in_queue
    assert first.started_at == now - timedelta(minutes=1, seconds=5)
    assert isinstance(events[1], CallSeen) and not events[1].in_queue


def test_the_channel_list_names_every_channel_by_unique_and_linked_id():
    at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    agent_leg = {**CALLER, "Uniqueid": "dev-1795338680.1", "Context": "calltakers"}
    alive = channels_alive(
        [
            {"Response": "Success", "EventList": "start"},
            {"Event": "CoreShowChannel", **CALLER},
            {"Event": "CoreShowChannel", **agent_leg},
            {"Event": "CoreShowChannelsComplete", "EventList": "Complete", "ListItems": "2"},
        ],
        at,
    )
    assert alive is not None and alive.at == at
    assert alive.ids == {"dev-1795338680.0", "dev-1795338680.1"}
    empty = [{"Event": "CoreShowChannelsComplete", "ListItems": "0"}]
    assert channels_alive(empty, at) == type(alive)(frozenset(), at=at)


def test_a_channel_list_that_is_not_provably_whole_closes_nothing():
    """Taking a cut-off list for the truth would close calls that are up: no list instead."""
    at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    one = {"Event": "CoreShowChannel", **CALLER}
    assert channels_alive([], at) is None  # no answer at all
    assert channels_alive([one], at) is None  # no end of list
    short = {"Event": "CoreShowChannelsComplete", "ListItems": "2"}
    assert channels_alive([one, short], at) is None  # a channel went missing on the way
    hostile = {"Event": "CoreShowChannelsComplete", "ListItems": "1\r\nEvent: x"}
    assert channels_alive([one, hostile], at) is None
    assert channels_alive([one, short, short], at) is None
    no_count = {"Event": "CoreShowChannelsComplete"}
    assert channels_alive([one, no_count], at) is None


def test_reconnect_backoff_doubles_to_a_ceiling_and_resets():
    b = Backoff(0.5, 3.0)
    assert [b.take() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.take() == 0.5


def test_an_agency_legs_hangup_ends_its_dispatch_not_the_call():
    leg = {
        "Channel": "PJSIP/7001-00000003",
        "Uniqueid": "dispatch-17",
        "Linkedid": "dispatch-17",
        "Context": "dispatch",
        "Exten": "agency",
    }
    ended = translate({"Event": "Hangup", **leg, "Cause-txt": "Normal Clearing"})
    assert isinstance(ended, AgencyLegEnded)
    assert (ended.leg_id, ended.cause) == ("dispatch-17", "Normal Clearing")
    # A caller cannot pose as an agency leg: only Asterisk's channel id carries the prefix, and a
    # caller's id is Asterisk's own, so a 112 call always translates as a call.
    forged = translate({"Event": "Hangup", **CALLER, "CallerIDNum": "dispatch-17"})
    assert isinstance(forged, CallEnded)


def test_a_new_112_channel_opens_its_ticket_early():
    arrived = translate({"Event": "Newchannel", **CALLER})
    assert isinstance(arrived, CallArrived) and arrived.call.caller_number == "9001"
    # The originating half of a Local channel, and channels elsewhere, are not callers.
    local_origin = {**CALLER, "Channel": "Local/112@public-00000000;1"}
    assert translate({"Event": "Newchannel", **local_origin}) is None
    desk = {**CALLER, "Channel": "PJSIP/2001-00000002", "Context": "calltakers", "Exten": "s"}
    assert translate({"Event": "Newchannel", **desk}) is None


def test_a_call_to_an_old_emergency_number_is_a_112_call_from_its_first_event():
    for number in ("110", "113", "118", "119"):
        arrived = translate({"Event": "Newchannel", **CALLER, "Exten": number})
        assert isinstance(arrived, CallArrived), number
    assert translate({"Event": "Newchannel", **CALLER, "Exten": "111"}) is None


def test_a_key_the_caller_pressed_is_a_fact_and_nothing_else_is():
    pressed = translate({"Event": "DTMFEnd", **CALLER, "Digit": "5", "Direction": "Received"})
    assert isinstance(pressed, KeyPressed) and pressed.digit == "5"
    assert pressed.call.unique_id == CALLER["Uniqueid"]
    # Keys Asterisk sent (SendDTMF), and keys on channels that are not a 112 caller's, are not.
    assert translate({"Event": "DTMFEnd", **CALLER, "Digit": "5", "Direction": "Sent"}) is None
    desk = {**CALLER, "Channel": "PJSIP/2001-00000002", "Context": "calltakers", "Exten": "s"}
    assert translate({"Event": "DTMFEnd", **desk, "Digit": "1", "Direction": "Received"}) is None
    # Whatever Asterisk names a digit, only a phone's keys pass as themselves.
    for odd in ("", "12", "x", "\udcff", "E"):
        hostile = translate({"Event": "DTMFEnd", **CALLER, "Digit": odd, "Direction": "Received"})
        assert isinstance(hostile, KeyPressed) and hostile.digit == "?"


def test_leaving_the_queue_is_a_fact():
    left = translate({"Event": "QueueCallerLeave", **CALLER, "Queue": "calltakers"})
    assert isinstance(left, CallLeftQueue) and left.queue == "calltakers"
