"""Outages: which parts of the centre are down now, and since when.

A part that goes down or comes back is logged (ERROR when down) and announced on the live feed
(`OutageChanged`), so the board and every console show a banner while 112 is impaired, not only
/healthz. Fed by whoever notices first: the Asterisk keeper when Asterisk exits, the AMI client
when its connection drops or logs in, and the periodic health check (app.py) for the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from ..live.facts import utc_now
from ..live.messages import OutageChanged

log = logging.getLogger(__name__)


class Part(StrEnum):
    ASTERISK = "asterisk"
    AMI = "ami"
    DATABASE = "database"
    SPEECH = "speech"


# What each part's outage is and means for the centre, as the banner says it to operators.
_WORDS = {
    Part.ASTERISK: ("Asterisk mati", "panggilan 112 tidak masuk"),
    Part.AMI: (
        "Sambungan ke Asterisk (AMI) putus",
        "papan dan tombol meja tidak berfungsi; panggilan tetap masuk antrean",
    ),
    Part.DATABASE: ("Basis data tidak dapat dihubungi", "tiket tidak tersimpan"),
    Part.SPEECH: ("Pengenalan suara mati", "tanpa transkrip ucapan penelepon"),
}


@dataclass(frozen=True)
class Down:
    part: Part
    since: datetime
    reason: str  # in the controller's words (English), for the log and the curious

    def text(self, zone: tzinfo) -> str:
        """The banner's line, e.g. "GANGGUAN: Asterisk mati sejak 09:31 — panggilan 112 tidak
        masuk" (the time in the centre's zone)."""
        what, meaning = _WORDS[self.part]
        return f"GANGGUAN: {what} sejak {self.since.astimezone(zone):%H:%M} — {meaning}"


class Outages:
    """The parts down now. Each change is logged and published, once: a part reported down
    again stays down since the first time."""

    def __init__(self, publish: Callable[[OutageChanged], None], zone: tzinfo):
        self._publish = publish
        self._zone = zone
        self._down: dict[Part, Down] = {}

    def down(self, part: Part, reason: str, at: datetime | None = None) -> None:
        if part in self._down:
            return
        self._down[part] = Down(part, at or utc_now(), reason[:200])
        log.error("OUTAGE: %s is down: %s", part, reason)
        self._publish(self.now())

    def up(self, part: Part, at: datetime | None = None) -> None:
        was = self._down.pop(part, None)
        if was is None:
            return
        lasted = (at or utc_now()) - was.since
        log.warning(
            "outage over: %s is back after %.0f s (%s)", part, lasted.total_seconds(), was.reason
        )
        self._publish(self.now())

    def report(self, part: Part, status: str) -> None:
        """A health check's word for a part: "ok", or why it is down."""
        if status == "ok":
            self.up(part)
        else:
            self.down(part, status)

    @property
    def parts_down(self) -> tuple[Down, ...]:
        # In the order of Part: the cause (Asterisk) before what follows from it (AMI).
        order = list(Part)
        return tuple(sorted(self._down.values(), key=lambda d: order.index(d.part)))

    def now(self) -> OutageChanged:
        """Every part down now, as the live feed sends it (also to a console that just
        connected: a page opened during an outage shows it)."""
        return OutageChanged(
            tuple(
                {
                    "part": d.part.value,
                    "since": d.since.isoformat(),
                    "reason": d.reason,
                    "text": d.text(self._zone),
                }
                for d in self.parts_down
            )
        )
