"""How tickets look outside the database: in the API, on the live feed and in a screen-pop.

Plain functions over loaded rows; they read columns only, so they are safe right after a commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import Dispatch, Ticket, TicketEvent


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    """A ticket as lists and the live feed show it (no calls, events or transcripts)."""
    return {
        "id": ticket.id,
        "caller_number": ticket.caller_number,
        "caller_name": ticket.caller_name,
        "category": ticket.category,
        "priority": ticket.priority,
        "agency": ticket.agency,
        "status": ticket.status,
        "source": ticket.source,
        "what": ticket.what,
        "where": ticket.where,
        "who": ticket.who,
        "kecamatan": ticket.kecamatan,
        "kelurahan": ticket.kelurahan,
        "address": ticket.address,
        "landmark": ticket.landmark,
        "flags": list(ticket.flags),
        "checklist": dict(ticket.checklist),
        "outcome": ticket.outcome,
        "closed_at": _time(ticket.closed_at),
        "closed_by": ticket.closed_by,
        # Where to fetch it (web/tickets.py checks who may): never the file's path on the server.
        "recording": f"/api/tickets/{ticket.id}/recording" if ticket.recording_path else None,
        "arrived_at": _time(ticket.arrived_at),
        "ivr_done_at": _time(ticket.ivr_done_at),
        "queued_at": _time(ticket.queued_at),
        "answered_at": _time(ticket.answered_at),
        "dispatched_at": _time(ticket.dispatched_at),
        "ended_at": _time(ticket.ended_at),
    }


def ticket_detail(ticket: Ticket) -> dict[str, Any]:
    """A ticket with its calls, events, dispatches and transcripts (loaded with it)."""
    data = ticket_summary(ticket)
    data["transcript"] = ticket.transcript
    data["transcript_partial"] = ticket.transcript_partial
    data["calls"] = [
        {
            "unique_id": c.unique_id,
            "channel": c.channel,
            "started_at": _time(c.started_at),
            "answered_at": _time(c.answered_at),
            "ended_at": _time(c.ended_at),
            "hangup_cause": c.hangup_cause,
            "recorded": c.recording_path is not None,
            "calltaker": c.calltaker,
            "conference": c.conference,
        }
        for c in ticket.calls
    ]
    data["events"] = [event_json(e) for e in ticket.events]
    data["dispatches"] = [dispatch_json(d) for d in ticket.dispatches]
    data["transcriptions"] = [
        {
            "id": t.id,
            "unique_id": t.unique_id,
            "status": t.status,
            "attempts": t.attempts,
            "error": t.error,
            "text": t.text,
            "words": t.words,
            "seconds": t.seconds,
            "finished_at": _time(t.finished_at),
        }
        for t in ticket.transcriptions
    ]
    return data


def dispatch_json(dispatch: Dispatch) -> dict[str, Any]:
    return {
        "id": dispatch.id,
        "agency": dispatch.agency,
        "target": dispatch.target,
        "mode": dispatch.mode,
        "requested_by": dispatch.requested_by,
        "outcome": dispatch.outcome,
        "reason": dispatch.reason,
        "rung_at": _time(dispatch.rung_at),
        "answered_at": _time(dispatch.answered_at),
        "ended_at": _time(dispatch.ended_at),
        "duration": dispatch.duration,
    }


def event_json(event: TicketEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": _time(event.at),
        "actor": event.actor,
        "kind": event.kind,
        "data": event.data,
    }
