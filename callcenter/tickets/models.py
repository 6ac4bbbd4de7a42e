"""The database schema: calls, tickets, their events, and the people who may read them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned as aware UTC, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    category: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    agency: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="new")
    # How the ticket was opened: by the IVR, or reconciled from AMI/CDR when the IVR could not run.
    source: Mapped[str] = mapped_column(String(16), default="ivr")
    what: Mapped[str] = mapped_column(Text, default="")
    where: Mapped[str] = mapped_column(Text, default="")
    who: Mapped[str] = mapped_column(Text, default="")
    kecamatan: Mapped[str | None] = mapped_column(String(64))
    kelurahan: Mapped[str | None] = mapped_column(String(64))
    # Street address and a landmark the responders can find ("depan Alun-alun Tugu").
    address: Mapped[str] = mapped_column(Text, default="")
    landmark: Mapped[str] = mapped_column(Text, default="")
    # Protocol-card items the call-taker ticked: item id → the item's text when it was ticked.
    checklist: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # How the call-taker classified the call when closing the ticket (the national 112 types:
    # darurat, informasi, prank, ghost, tidak-tercatat); None while the ticket is open.
    outcome: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    transcript: Mapped[str] = mapped_column(Text, default="")
    transcript_partial: Mapped[str] = mapped_column(Text, default="")
    recording_path: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    arrived_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    ivr_done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)

    calls: Mapped[list[Call]] = relationship(back_populates="ticket", order_by="Call.id")
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id"
    )
    transcriptions: Mapped[list[Transcription]] = relationship(
        back_populates="ticket", order_by="Transcription.id"
    )
    dispatches: Mapped[list[Dispatch]] = relationship(
        back_populates="ticket", order_by="Dispatch.id"
    )

    __table_args__ = (
        Index("ix_tickets_arrived_at", "arrived_at"),
        Index("ix_tickets_status", "status"),
        Index("ix_tickets_caller_number", "caller_number"),
        Index("ix_tickets_outcome", "outcome"),
    )


class Call(Base):
    """One Asterisk call leg of a caller; a ticket can gather several (repeat calls, callbacks)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Asterisk's UNIQUEID of the caller's channel: the key every AMI event and CDR line carries.
    unique_id: Mapped[str] = mapped_column(String(64), unique=True)
    linked_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(256))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    recording_path: Mapped[str | None] = mapped_column(Text)
    # Who answered from the queue (member name) and their phone's channel, so the call-taker's leg
    # can be moved into a conference when they dispatch an agency.
    calltaker: Mapped[str | None] = mapped_column(String(64))
    calltaker_channel: Mapped[str | None] = mapped_column(String(256))
    # The ConfBridge the call is in once an agency was brought in (or it came back from hold).
    conference: Mapped[str | None] = mapped_column(String(64))
    # The call-taker put the caller on hold (music) and waits to take the call back.
    held: Mapped[bool] = mapped_column(Boolean, default=False)

    ticket: Mapped[Ticket] = relationship(back_populates="calls")


class Transcription(Base):
    """A recording to transcribe after the call. The table is the queue: a row exists before any
    work starts, so a crash, a full queue or a failure loses nothing; failures are retried."""

    __tablename__ = "transcriptions"
    __table_args__ = (Index("ix_transcriptions_due", "status", "next_try_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    unique_id: Mapped[str] = mapped_column(String(64), unique=True)
    recording_path: Mapped[str] = mapped_column(Text)
    # pending → done, or pending (retried) → failed after the last attempt.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    error: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    seconds: Mapped[float | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    ticket: Mapped[Ticket] = relationship(back_populates="transcriptions")


class Dispatch(Base):
    """One attempt to bring an agency into a call: which target rang, whether it answered, how long."""

    __tablename__ = "dispatches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    # The caller's call (Asterisk unique id) the agency was brought into.
    unique_id: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128))
    # "conference": a call-taker brought the agency in; "overflow": no call-taker could.
    mode: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(64))
    # The unique id of the agency's channel, to match its hangup.
    leg_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # ringing → answered → ended, or ringing → no-answer / busy / failed.
    outcome: Mapped[str] = mapped_column(String(16), default="ringing")
    reason: Mapped[str | None] = mapped_column(String(64))
    rung_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    ticket: Mapped[Ticket] = relationship(back_populates="dispatches")

    @property
    def duration(self) -> float | None:
        """Seconds the agency was on the call."""
        if self.answered_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.answered_at).total_seconds()


class _AuditEntry:
    """What every audit trail records: when, who ("system", "ivr", "asterisk", or the username
    of the person), what kind of thing happened, and its details."""

    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TicketEvent(_AuditEntry, Base):
    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class DeskEvent(Base):
    """A call-taker's session at the queue: logged in, paused (why), resumed, logged out; who did
    it (themselves or a supervisor) and when."""

    __tablename__ = "desk_events"
    __table_args__ = (Index("ix_desk_events_extension_at", "extension", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    extension: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # login, logout, pause, unpause
    reason: Mapped[str | None] = mapped_column(String(64))


class ProtocolCard(Base):
    """A supervisor's version of a category's protocol card (what to ask, what to tell); without
    one, the card shipped in calltakers/data/protocols-id.toml is shown."""

    __tablename__ = "protocol_cards"

    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    ask: Mapped[list[str]] = mapped_column(JSON, default=list)
    tell: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Restriction(Base):
    """A number restricted for prank calls: the caller still reaches a call-taker (an emergency
    number never refuses a call), after a warning and at the lowest priority, until `until`
    (None: until a supervisor lifts it)."""

    __tablename__ = "restrictions"
    __table_args__ = (Index("ix_restrictions_number", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)  # 1 for a first restriction of this number, …
    reason: Mapped[str] = mapped_column(Text)
    # Ticket ids that are the evidence (the prank calls).
    evidence: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lift_reason: Mapped[str | None] = mapped_column(Text)

    events: Mapped[list[RestrictionEvent]] = relationship(
        back_populates="restriction", order_by="RestrictionEvent.id"
    )

    def active(self, at: datetime) -> bool:
        return self.lifted_at is None and (self.until is None or self.until > at)


class RestrictionEvent(_AuditEntry, Base):
    """The audit trail of a restriction (kinds: created, lifted, applied to a call)."""

    __tablename__ = "restriction_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restriction_id: Mapped[int] = mapped_column(ForeignKey("restrictions.id"), index=True)

    restriction: Mapped[Restriction] = relationship(back_populates="events")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    # For the agency role: which agency's tickets this user may see.
    agency: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Session(Base):
    """A login: the token's hash (never the token) and when it stops being valid."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)

    user: Mapped[User] = relationship()


class CdrProgress(Base):
    """How far the controller has read Asterisk's call-record file, saved after the calls it
    read were handled: a restart resumes there instead of replaying every call ever made."""

    __tablename__ = "cdr_progress"

    path: Mapped[str] = mapped_column(String(500), primary_key=True)
    inode: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)


# The assignments still followed (not cleared, not declined): at most one per ticket and agency.
OPEN_ASSIGNMENT = "status NOT IN ('cleared', 'declined')"


class Assignment(Base):
    """A ticket dispatched to an agency, followed until the agency clears or declines it (the
    agency loop: routing/agency_loop.py). Its next deadline lives here, not in a timer, so a
    restart of the controller loses none."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_ticket_agency", "ticket_id", "agency"),
        Index("ix_assignments_agency_status", "agency", "status"),
        Index("ix_assignments_deadline_at", "deadline_at"),
        # One open assignment per ticket and agency, whoever assigns at the same moment (two
        # targets of one dispatch, a call-taker and an overflow). The closed statuses are
        # routing/agency_loop.py's CLOSED; migration 0008 creates it.
        Index(
            "ux_assignments_open",
            "ticket_id",
            "agency",
            unique=True,
            sqlite_where=text(OPEN_ASSIGNMENT),
            postgresql_where=text(OPEN_ASSIGNMENT),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    agency: Mapped[str] = mapped_column(String(64))
    # assigned → acknowledged → en-route → on-scene → cleared, or declined.
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    # Each stamp only for a status actually reached (a skipped step keeps none).
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    en_route_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    on_scene_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    declined_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    moved_by: Mapped[str] = mapped_column(String(64))
    moved_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    disposition: Mapped[str | None] = mapped_column(Text)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    # The next deadline (acknowledge, on-scene, cleared) and the escalation step it will take
    # (1: re-alert the agency, 2: the board); None when nothing is left to chase.
    deadline: Mapped[str | None] = mapped_column(String(16))
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    deadline_step: Mapped[int | None] = mapped_column(Integer)
    # The last escalation step taken: for which deadline, which step, when.
    escalated_deadline: Mapped[str | None] = mapped_column(String(16))
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    ticket: Mapped[Ticket] = relationship()
