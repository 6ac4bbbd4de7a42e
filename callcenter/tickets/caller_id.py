"""Caller IDs are untrusted: whatever the network sends must become safe text without losing it."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

MAX_NUMBER = 64
MAX_NAME = 128
MAX_RAW = 2048
UNKNOWN = ("unknown", "<unknown>")


@dataclass(frozen=True)
class CallerId:
    number: str
    name: str
    # What arrived, escaped and bounded, when it had to be changed to be stored; None when clean.
    raw: str | None = None


def _as_text(value: str | bytes) -> tuple[str, bool]:
    """Decode to text; invalid UTF-8 bytes stay visible as \\xNN. Returns (text, had_invalid_bytes)."""
    data = value if isinstance(value, bytes) else value.encode("utf-8", errors="surrogateescape")
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="backslashreplace"), True


def _clean(text: str, limit: int) -> str:
    # Control and format characters (newlines, NUL, bidi overrides) would corrupt logs and screens.
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return kept.strip()[:limit]


def sanitise(number: str | bytes | None, name: str | bytes | None) -> CallerId:
    """Turn a caller number and name from the network into safe, bounded text.

    Asterisk reports a missing value as "unknown", "<unknown>" (AMI) or empty; all become "".
    Whenever cleaning changed anything, the original is kept escaped in `raw`, so nothing the
    network sent is lost.
    """
    number_text, bad_number = _as_text(number or "")
    name_text, bad_name = _as_text(name or "")
    if number_text.strip().lower() in UNKNOWN:
        number_text = ""
    if name_text.strip().lower() in UNKNOWN:
        name_text = ""
    clean_number = _clean(number_text, MAX_NUMBER)
    clean_name = _clean(name_text, MAX_NAME)
    changed = (
        bad_number
        or bad_name
        or clean_number != number_text.strip()
        or clean_name != name_text.strip()
    )
    raw = f"number={number_text!r} name={name_text!r}"[:MAX_RAW] if changed else None
    return CallerId(number=clean_number, name=clean_name, raw=raw)


def completed(known: CallerId, later: CallerId) -> CallerId | None:
    """The caller ID a ticket that has `known` takes when a later source (an AMI event, the
    channel list of a resync, a call record) reports `later`, both sanitised; None when it keeps
    what it has.

    A ticket may open before its number is known (a Local channel's Newchannel says <unknown>):
    the first later source with a number or a name completes it. A known number or name is never
    replaced, not by an empty one (a source that lacks it) nor by another one (the caller is who
    the call arrived as)."""
    number = known.number or later.number
    name = known.name or later.name
    if (number, name) == (known.number, known.name):
        return None
    return CallerId(number=number, name=name, raw=later.raw)
