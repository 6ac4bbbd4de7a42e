"""What the IVR flow may do with a call. The FastAGI adapter implements it; unit tests fake it."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class CallerHungUp(Exception):
    """The caller is gone; the flow stops, the ticket stays."""


class Channel(Protocol):
    unique_id: str
    channel_name: str
    linked_id: str
    # Exactly as Asterisk sent them: untrusted, possibly not even UTF-8.
    caller_number: str | bytes
    caller_name: str | bytes
    # The key pressed during the welcome when Asterisk played it before the IVR started ("" for
    # none); None when the IVR plays the welcome itself.
    welcome_key: str | None

    async def answer(self) -> None: ...

    async def play(self, prompt: str, digits: str = "") -> str | None:
        """Play a prompt; return the key pressed during it (barge-in) when `digits` allows one."""
        ...

    async def read_digits(self, prompt: str, max_digits: int, timeout: float) -> str:
        """Play a prompt (keys interrupt it), then wait up to `timeout` s; "" if nothing pressed."""
        ...

    async def stream_audio(self, stream_id: str, address: str) -> None:
        """Stream the caller's audio (AudioSocket: 16-bit signed linear, 8 kHz) to `address`
        (host:port), announcing the stream as `stream_id` (a UUID); returns when the receiving end
        closes the stream, which decides how long it runs."""
        ...

    async def record(self, part: str, seconds: int, silence: int) -> Path | None:
        """Record the caller after a beep into this call's recording `part` (letters only) until
        `silence` s of quiet or `seconds` in all (or #). Returns the file as the controller reads
        it, or None when nothing could be recorded."""
        ...

    async def get_variable(self, name: str) -> str:
        """A channel variable ("" when unset)."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...
