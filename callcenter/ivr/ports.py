"""What the IVR flow needs from other packages, as it sees it; the wiring (app.py) plugs them in."""

from __future__ import annotations

from typing import Protocol

from .channel import Channel


class Describer(Protocol):
    """Hears the caller describe the emergency. With a speech model the words reach the ticket as
    they are recognised (speech/live.py); without one the description is recorded
    (speech/activity.py)."""

    async def describe(self, channel: Channel, seconds: int, silence: int) -> float:
        """After a beep, hear the caller until `silence` s of quiet (after some speech) or
        `seconds` in all. Returns how many seconds of it were speech, so the flow can tell a
        caller who talks from one who cannot."""
        ...
