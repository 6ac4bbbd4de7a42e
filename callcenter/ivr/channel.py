"""What the IVR flow may do with a call. The FastAGI adapter implements it; unit tests fake it."""

from __future__ import annotations

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

    async def record_description(self, seconds: int, silence: int) -> float:
        """Record the caller after a tone until `silence` s of quiet or `seconds` in all (or #).

        Returns how many seconds of it were speech (not silence), so the flow can tell a caller who
        talks from one who cannot.
        """
        ...

    async def get_variable(self, name: str) -> str:
        """A channel variable ("" when unset)."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...
