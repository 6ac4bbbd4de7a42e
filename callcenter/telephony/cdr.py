"""Call records (cdr_custom CSV): how the controller learns of 112 calls that began and ended while
it was down, so their tickets are opened late rather than never."""

from __future__ import annotations

import asyncio
import csv
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..live.facts import CallEnded, CallEvent, CallRef
from .ami import is_caller_channel
from .dialplan import EMERGENCY_EXTEN, PUBLIC_CONTEXT

log = logging.getLogger(__name__)

# Columns as written by asterisk-conf/cdr_custom.conf.j2.
COLUMNS = (
    "uniqueid",
    "linkedid",
    "channel",
    "src",
    "clid",
    "dcontext",
    "dst",
    "start",
    "end",
    "disposition",
)


def _epoch(text: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _name_from_clid(clid: str) -> str:
    # clid looks like: "Name" <number>
    if clid.startswith('"') and '" <' in clid:
        return clid[1 : clid.rindex('" <')]
    return ""


def parse_lines(lines: list[str]) -> list[CallEvent]:
    events: list[CallEvent] = []
    for n, row in enumerate(csv.reader(lines), 1):
        if len(row) != len(COLUMNS):
            log.warning("CDR line %d: %d fields instead of %d, skipped", n, len(row), len(COLUMNS))
            continue
        rec = dict(zip(COLUMNS, row, strict=True))
        if (
            rec["dcontext"] != PUBLIC_CONTEXT
            or rec["dst"] != EMERGENCY_EXTEN
            or not rec["uniqueid"]
            or not is_caller_channel(rec["channel"])
        ):
            continue
        started, ended = _epoch(rec["start"]), _epoch(rec["end"])
        if ended is None:
            log.warning("CDR line %d: unreadable end time %r, skipped", n, rec["end"])
            continue
        call = CallRef(
            unique_id=rec["uniqueid"],
            channel=rec["channel"],
            linked_id=rec["linkedid"],
            caller_number=rec["src"],
            caller_name=_name_from_clid(rec["clid"]),
        )
        events.append(
            CallEnded(call, cause=f"cdr:{rec['disposition']}", at=ended, started_at=started)
        )
    return events


@dataclass(frozen=True)
class Position:
    """Where reading stopped: the file (by inode, which rotation changes) and the byte offset."""

    inode: int = 0
    offset: int = 0


@dataclass(frozen=True)
class Chunk:
    """The calls named by the whole lines read, where the next read starts, and whether a full
    chunk was read (there may be more)."""

    events: list[CallEvent]
    end: Position
    more: bool


class CdrReader:
    """Reads the CSV's whole lines from a position, at most a chunk at a time. A file with
    another inode than the position's, or shorter than it, was rotated: read from its start."""

    def __init__(self, path: Path, chunk: int = 4 << 20):
        self.path = path
        self._chunk = chunk

    def read_from(self, start: Position) -> Chunk:
        try:
            with self.path.open("rb") as f:
                stat = os.fstat(f.fileno())
                offset = start.offset
                if stat.st_ino != start.inode or stat.st_size < offset:
                    offset = 0
                f.seek(offset)
                data = f.read(self._chunk)
        except FileNotFoundError:
            return Chunk([], start, more=False)
        more = len(data) == self._chunk
        # Only whole lines: Asterisk may be half-way through writing the last one.
        end = data.rfind(b"\n") + 1
        if end == 0 and more:
            # No line end in a whole chunk: not a call record. Skipped, or reading would stall.
            log.warning("CDR: %d bytes without a line end at offset %d, skipped", len(data), offset)
            end = len(data)
        text = data[:end].decode("utf-8", errors="backslashreplace")
        return Chunk(parse_lines(text.splitlines()), Position(stat.st_ino, offset + end), more)


# 4 MiB chunks: one catch-up reads at most 4 GiB of call records; the rest waits for the next.
CHUNKS_PER_CATCH_UP = 1000


class CallRecords:
    """Follows the call records: hands the calls they name to `handle`, and saves how far they
    were handled, so a restart resumes there and not at the first call ever recorded (a year of
    records would hold up the live events for minutes).

    After a reconnect, everything since the saved position, a chunk at a time. At a sweep, only
    what the previous sweep read: by then the live events of those calls have been handled, so
    a record does not win the race with its own call's hangup.
    """

    def __init__(
        self,
        reader: CdrReader,
        handle: Callable[[CallEvent], Awaitable[None]],
        load: Callable[[], Awaitable[tuple[int, int] | None]],
        save: Callable[[int, int], Awaitable[None]],
    ):
        self._reader = reader
        self._handle = handle
        self._load = load
        self._save = save
        self._handled: Position | None = None  # None: not yet loaded
        self._read_ahead: Chunk | None = None

    async def catch_up(self, reconnected: bool) -> int:
        """Handle what is due; how many calls that was."""
        if self._handled is None:
            saved = await self._load()
            self._handled = Position(*saved) if saved else Position()
        if not reconnected:
            handled = 0
            if self._read_ahead is not None:
                handled = await self._handle_chunk(self._read_ahead)
            self._read_ahead = await asyncio.to_thread(self._reader.read_from, self._handled)
            return handled
        self._read_ahead = None
        handled = 0
        for _ in range(CHUNKS_PER_CATCH_UP):
            chunk = await asyncio.to_thread(self._reader.read_from, self._handled)
            handled += await self._handle_chunk(chunk)
            if not chunk.more:
                break
        return handled

    async def _handle_chunk(self, chunk: Chunk) -> int:
        for event in chunk.events:
            await self._handle(event)
        await self._save(chunk.end.inode, chunk.end.offset)
        self._handled = chunk.end
        return len(chunk.events)
