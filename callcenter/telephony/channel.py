"""What a FastAGI route may do with the call the dialplan hands it: read and write channel
variables. telephony/agi.py implements it; unit tests fake it."""

from __future__ import annotations

from typing import Protocol


class CallerHungUp(Exception):
    """The call is gone; the route stops, the ticket stays."""


class Channel(Protocol):
    unique_id: str
    channel_name: str
    linked_id: str
    # Exactly as Asterisk sent them: untrusted, possibly not even UTF-8.
    caller_number: str | bytes
    caller_name: str | bytes

    async def get_variable(self, name: str) -> str:
        """A channel variable ("" when unset)."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...
