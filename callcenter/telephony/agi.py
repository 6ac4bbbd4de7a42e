"""FastAGI server: Asterisk's `AGI(agi://…/route)` connects here and we drive the call.

Written on asyncio streams rather than panoramisk's fast_agi.Application, whose header loop spins
forever on a connection closed before the blank line and which cannot take non-UTF-8 headers
(hostile caller IDs). Headers are decoded with surrogateescape so the bytes survive to the ticket.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panoramisk.utils import parse_agi_result

from ..ivr.channel import CallerHungUp, Channel
from .asterisk import InstancePaths
from .tcp import ConnectionServer

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024
MAX_LINE_BYTES = 8 * 1024
HEADER_TIMEOUT = 10.0
# A prompt may be long; a command that gets no answer for this long means Asterisk is gone.
COMMAND_TIMEOUT = 300.0

Route = Callable[[Channel], Awaitable[None]]


@dataclass(frozen=True)
class Media:
    """Where the files a call touches are, as the controller and as (a chrooted) Asterisk sees them."""

    paths: InstancePaths
    seen_by_asterisk: Callable[[Path], str]

    @functools.cached_property
    def prompts_dir(self) -> str:
        # Once, not per call: resolving the path costs system calls on every 112 call's first prompt.
        return self.seen_by_asterisk(self.paths.prompts)

    @functools.cached_property
    def recordings_dir(self) -> str:
        return self.seen_by_asterisk(self.paths.recordings)


class AgiProtocolError(Exception):
    pass


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


def _quote(arg: str) -> str:
    """Quote an AGI argument; a newline would end the command and start another, so none pass."""
    if any(c in arg for c in "\r\n\0"):
        raise ValueError("AGI argument contains a line break or NUL")
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    """Read the `agi_*: value` block Asterisk sends first, up to the blank line, with bounds."""
    headers: dict[str, str] = {}
    total = 0
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            raise AgiProtocolError(
                f"connection closed before the end of the AGI headers ({len(e.partial)} bytes left)"
            ) from None
        except asyncio.LimitOverrunError:
            raise AgiProtocolError(f"AGI header line longer than {MAX_LINE_BYTES} bytes") from None
        total += len(line)
        if total > MAX_HEADER_BYTES:
            raise AgiProtocolError(f"AGI headers larger than {MAX_HEADER_BYTES} bytes")
        line = line.rstrip(b"\r\n")
        if not line:
            if not headers:
                raise AgiProtocolError("empty AGI request")
            return headers
        key, sep, value = line.partition(b": ")
        if not sep or not key.startswith(b"agi_"):
            raise AgiProtocolError(f"not an AGI header line: {line[:80]!r}")
        headers[_decode(key)] = _decode(value)


WELCOMED = "welcomed"
KEYS = "0123456789*#"


def welcome_key(headers: dict[str, str]) -> str | None:
    """AGI(…/ivr,welcomed,KEY): the dialplan played the welcome and the caller pressed KEY during it
    (empty: nothing). Untrusted like every AGI variable: one key at most, and only a key."""
    if headers.get("agi_arg_1") != WELCOMED:
        return None
    key = headers.get("agi_arg_2", "")
    return key if len(key) == 1 and key in KEYS else ""


class AgiChannel:
    """One call as the FastAGI connection sees it; implements ivr.channel.Channel."""

    def __init__(
        self,
        headers: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        media: Media,
    ):
        self.headers = headers
        self._media = media
        self._prompts_dir = media.prompts_dir
        self._reader = reader
        self._writer = writer
        self.hung_up = False
        self.unique_id = headers.get("agi_uniqueid", "")
        self.channel_name = headers.get("agi_channel", "")
        self.linked_id = headers.get("agi_linkedid", self.unique_id) or self.unique_id
        self.caller_number: str | bytes = headers.get("agi_callerid", "")
        self.caller_name: str | bytes = headers.get("agi_calleridname", "")
        self.welcome_key = welcome_key(headers)

    async def command(self, *words: str) -> dict[str, Any]:
        if self.hung_up:
            raise CallerHungUp(self.unique_id)
        line = " ".join(words) + "\n"
        self._writer.write(line.encode("utf-8", errors="surrogateescape"))
        await self._writer.drain()
        while True:
            text = await self._reply_line()
            if text == "HANGUP":
                # Asterisk announces the hangup, then still answers the pending command.
                self.hung_up = True
                continue
            try:
                result: dict[str, Any] = parse_agi_result(text)
            except ValueError:
                raise AgiProtocolError(f"unreadable AGI reply {text[:80]!r}") from None
            if result.get("status_code") == 100:
                continue
            if result.get("status_code") == 520:
                if text.startswith("520-"):
                    # The usage text follows, up to the line "520 End of proper usage.": read it
                    # all, or it would be taken for the replies to the next commands.
                    while not (await self._reply_line()).startswith("520 "):
                        pass
                raise AgiProtocolError(f"Asterisk rejected {words[0]!r}: usage error")
            if result.get("error") in ("AGIResultHangup",) or result.get("status_code") == 511:
                self.hung_up = True
                raise CallerHungUp(self.unique_id)
            return result

    async def _reply_line(self) -> str:
        try:
            raw = await asyncio.wait_for(self._reader.readline(), COMMAND_TIMEOUT)
        except ValueError:
            raise AgiProtocolError(f"AGI reply line longer than {MAX_LINE_BYTES} bytes") from None
        if not raw:
            # Asterisk closes the connection when the channel is gone, even mid-reply.
            self.hung_up = True
            raise CallerHungUp(self.unique_id)
        return _decode(raw).rstrip("\r\n")

    async def answer(self) -> None:
        if self.welcome_key is not None:
            return  # the dialplan answered before it played the welcome: save the round trip
        await self.command("ANSWER")

    async def play(self, prompt: str, digits: str = "") -> str | None:
        # Prompt names are ours (ivr-prompts/); Asterisk wants the path without the extension.
        path = f"{self._prompts_dir}/{prompt}"
        result = await self.command("STREAM FILE", _quote(path), _quote(digits))
        if result.get("error") == "AGIAppError":
            log.warning("call %s: prompt %s could not be played", self.unique_id, prompt)
            return None
        code = int(result.get("result", ("0", ""))[0] or 0)
        return chr(code) if code > 0 else None

    async def read_digits(self, prompt: str, max_digits: int, timeout: float) -> str:
        path = f"{self._prompts_dir}/{prompt}"
        result = await self.command(
            "GET DATA", _quote(path), str(int(timeout * 1000)), str(max_digits)
        )
        digits = str(result.get("result", ("", ""))[0])
        # Only keys: a hostile or confused reply cannot smuggle anything else into the flow.
        return "".join(c for c in digits if c in "0123456789*#")[:max_digits]

    async def stream_audio(self, stream_id: str, address: str) -> None:
        # The application's result does not tell how the stream went; the receiving end knows.
        await self.command("EXEC", "AudioSocket", _quote(f"{stream_id},{address}"))

    async def record(self, part: str, seconds: int, silence: int) -> Path | None:
        target = self._media.paths.recording(self.unique_id, part)
        if target is None:
            log.warning(
                "call %s: no recording %r for this call id, nothing recorded", self.unique_id, part
            )
            return None
        # A file left by an earlier attempt must not pass for this one.
        target.unlink(missing_ok=True)
        # The file name goes without extension; Asterisk adds .wav from the format argument.
        seen = self._media.recordings_dir + "/" + target.stem
        await self.command(
            "RECORD FILE",
            _quote(seen),
            "wav",
            _quote("#"),
            str(seconds * 1000),
            "0",
            "BEEP",
            f"s={silence}",
        )
        return target

    async def get_variable(self, name: str) -> str:
        result = await self.command("GET VARIABLE", name)
        if str(result.get("result", ("0", ""))[0]) != "1":
            return ""
        return str(result["result"][1])

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, _quote(value))


class FastAgiServer(ConnectionServer):
    name = "FastAGI"
    line_limit = MAX_LINE_BYTES

    def __init__(self, routes: dict[str, Route], media: Media):
        super().__init__()
        self._routes = routes
        self._media = media

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        unique_id = "?"
        try:
            headers = await asyncio.wait_for(read_headers(reader), HEADER_TIMEOUT)
            unique_id = headers.get("agi_uniqueid", "?")
            name = headers.get("agi_network_script", "").strip("/").split("?")[0]
            route = self._routes.get(name)
            if route is None:
                # No hang-up: closing makes the dialplan continue to the queue.
                log.error("call %s: no FastAGI route %r (from %s)", unique_id, name, peer)
                return
            await route(AgiChannel(headers, reader, writer, self._media))
        except CallerHungUp:
            log.info("call %s: caller hung up during the IVR", unique_id)
        except TimeoutError:
            log.warning("FastAGI request from %s: no complete request in time", peer)
        except AgiProtocolError as e:
            log.warning("call %s: bad FastAGI request from %s: %s", unique_id, peer, e)
        except Exception:
            log.exception("call %s: FastAGI route failed; the dialplan queues the call", unique_id)
        finally:
            writer.close()
