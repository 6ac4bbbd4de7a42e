"""A ticket opened before its caller's number was known gets the number from the first later source
that has it, and never loses a known one: the rule, the AMI event that brings the number of a Local
channel, and the tickets in a real database as the facts arrive."""

from __future__ import annotations

from datetime import timedelta

import pytest

from callcenter.live.facts import CallArrived, CallEnded, CallRef, ChannelsAlive, utc_now
from callcenter.telephony.ami import translate
from callcenter.telephony.cdr import parse_lines
from callcenter.tickets.caller_id import CallerId, completed, sanitise
from callcenter.tickets.models import Call, Ticket, TicketEvent
from tests.records import sqlite_records

# A caller Asterisk itself places (Originate of Local/112@public, as benches and tests do): the
# Newchannel of the half that runs the dialplan says <unknown>, the number follows at once in a
# NewCallerid (as Asterisk 22 sent them).
LOCAL_CALLER = {
    "Channel": "Local/112@public-00000000;2",
    "Uniqueid": "chaos-1796033059.1",
    "Linkedid": "chaos-1796033059.0",
    "Context": "public",
    "Exten": "112",
}
NEWCHANNEL = {
    "Event": "Newchannel",
    **LOCAL_CALLER,
    "CallerIDNum": "<unknown>",
    "CallerIDName": "<unknown>",
}
NEWCALLERID = {"Event": "NewCallerid", **LOCAL_CALLER, "CallerIDNum": "9123", "CallerIDName": "X"}


@pytest.mark.parametrize(
    ("known", "later", "expected"),
    [
        (("", ""), ("0812", "Budi"), ("0812", "Budi")),  # opened without: the first source fills
        (("", ""), ("", "Budi"), ("", "Budi")),  # a name alone is kept too
        (("", "Budi"), ("0812", "Ani"), ("0812", "Budi")),  # the number fills, the name stays
        (("0812", ""), ("", "Budi"), ("0812", "Budi")),
        (("0812", "Budi"), ("", ""), None),  # a source that lacks it never empties it
        (("0812", "Budi"), ("112", "112"), None),  # nor does another number replace it
        (("", ""), ("", ""), None),
    ],
)
def test_a_ticket_keeps_a_known_caller_id_and_takes_a_missing_one(known, later, expected):
    caller = completed(CallerId(*known), CallerId(*later))
    assert (caller and (caller.number, caller.name)) == expected


def test_what_was_cleaned_to_learn_a_number_stays_recorded():
    caller = completed(CallerId("", ""), sanitise("08\x0012", ""))
    assert caller is not None and caller.number == "0812" and caller.raw is not None


def test_the_number_of_a_local_caller_comes_in_newcallerid():
    arrived = translate(NEWCHANNEL)
    assert isinstance(arrived, CallArrived) and arrived.call.caller_number == "<unknown>"
    numbered = translate(NEWCALLERID)
    assert isinstance(numbered, CallArrived)
    assert numbered.call == CallRef(
        "chaos-1796033059.1",
        "Local/112@public-00000000;2",
        "chaos-1796033059.0",
        caller_number="9123",
        caller_name="X",
    )


@pytest.mark.parametrize(
    "event",
    [
        # The originating half of the Local call is not the caller.
        {**NEWCALLERID, "Channel": "Local/112@public-00000000;1"},
        # A desk's or an agency's channel, elsewhere in the dialplan.
        {**NEWCALLERID, "Channel": "PJSIP/2001-00000003", "Context": "calltakers", "Exten": "s"},
        # A caller ID taken away says nothing new.
        {**NEWCALLERID, "CallerIDNum": ""},
        {"Event": "NewCallerid"},
    ],
)
def test_other_caller_id_changes_are_not_a_112_caller(event):
    assert translate(event) is None


async def ticket_of(records, unique_id: str) -> tuple[Ticket, Call, list[TicketEvent]]:
    from sqlalchemy import select

    async with records.db.snapshot() as db:
        call = await db.scalar(select(Call).where(Call.unique_id == unique_id))
        assert call is not None
        ticket = await db.get_one(Ticket, call.ticket_id)
        events = list(
            await db.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))
        )
        return ticket, call, events


async def test_a_caller_dropped_in_the_welcome_keeps_the_number_asterisk_told(tmp_path):
    """Asterisk is killed during the welcome: no Hangup, no call record. All the controller ever
    hears is the Newchannel and the NewCallerid; the channel sweep after Asterisk is back closes
    the call. The ticket has the caller's number (a callback needs it)."""
    records = await sqlite_records(tmp_path)
    try:
        for event in (NEWCHANNEL, NEWCALLERID):
            fact = translate(event)
            assert fact is not None
            await records.facts.deliver(fact)
        later = utc_now() + timedelta(minutes=1)
        await records.facts.deliver(ChannelsAlive(frozenset(), at=later))

        ticket, call, events = await ticket_of(records, "chaos-1796033059.1")
        assert (ticket.caller_number, ticket.caller_name) == ("9123", "X")
        assert call.caller_number == "9123"
        assert ticket.ended_at is not None
        assert [e.data["number"] for e in events if e.kind == "caller-id"] == ["9123"]
    finally:
        await records.engine.dispose()


async def test_a_known_number_is_not_replaced_by_later_sources(tmp_path):
    records = await sqlite_records(tmp_path)
    try:
        call = CallRef("dev-1.5", "PJSIP/trunk-00000005", "dev-1.5", "0341111", "Budi")
        await records.facts.deliver(CallArrived(call))
        # The sweep closes it with the number it has; a call record names another number (the
        # channel's caller ID changed before it ended): the ticket keeps the first.
        await records.facts.deliver(CallEnded(CallRef("dev-1.5", caller_number=""), cause="x"))
        [record] = parse_lines(
            [
                '"dev-1.5","dev-1.5","PJSIP/trunk-00000005","112","""112"" <112>",'
                '"public","112","1796033059","1796033070","ANSWERED"'
            ]
        )
        await records.facts.deliver(record)

        ticket, row, events = await ticket_of(records, "dev-1.5")
        assert (ticket.caller_number, ticket.caller_name, row.caller_number) == (
            "0341111",
            "Budi",
            "0341111",
        )
        assert not [e for e in events if e.kind == "caller-id"]
    finally:
        await records.engine.dispose()


async def test_a_ticket_opened_without_a_number_takes_the_call_records(tmp_path):
    """The controller was down for the NewCallerid: the call record's src is the first source."""
    records = await sqlite_records(tmp_path)
    try:
        fact = translate(NEWCHANNEL)
        assert fact is not None
        await records.facts.deliver(fact)
        [record] = parse_lines(
            [
                '"chaos-1796033059.1","chaos-1796033059.0","Local/112@public-00000000;2","9123",'
                '"""Bench"" <9123>","public","112","1796033059","1796033070","ANSWERED"'
            ]
        )
        await records.facts.deliver(record)
        ticket, row, _ = await ticket_of(records, "chaos-1796033059.1")
        assert (ticket.caller_number, ticket.caller_name, row.caller_number) == (
            "9123",
            "Bench",
            "9123",
        )
    finally:
        await records.engine.dispose()
