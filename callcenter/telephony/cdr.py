"""Call records (cdr_custom CSV): how the controller learns of 112 calls that began and ended while
it was down, so their tickets are opened late rather than never."""

from __future__ import annotations

import csv
import logging
from datetime import UTC, datetime
from pathlib import Path

from ..live.events import CallEnded, CallEvent, CallRef
from .ami import EMERGENCY_EXTEN, PUBLIC_CONTEXT, is_caller_channel

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


class CdrReader:
    """Reads new lines of the CSV since the last read; the first read takes the whole file."""

    def __init__(self, path: Path):
        self.path = path
        self._offset = 0

    def read_new(self) -> list[CallEvent]:
        try:
            with self.path.open("rb") as f:
                size = f.seek(0, 2)
                if size < self._offset:
                    self._offset = 0  # rotated
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        # Only whole lines: Asterisk may be half-way through writing the last one.
        end = data.rfind(b"\n") + 1
        self._offset += end
        text = data[:end].decode("utf-8", errors="backslashreplace")
        return parse_lines(text.splitlines())
