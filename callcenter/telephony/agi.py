"""FastAGI server: Asterisk's `AGI(agi://…/route)` connects here and we drive the call.

Written on asyncio streams rather than panoramisk's fast_agi.Application, whose header loop spins
forever on a connection closed before the blank line and which cannot take non-UTF-8 headers
(hostile caller IDs). Headers are decoded with surrogateescape so the bytes survive to the ticket.

The port is open to every local process: before any route runs, `AgiTrust` checks that the request
comes from this instance's Asterisk and names a channel it has; the routes themselves trust it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from panoramisk.utils import parse_agi_result

from .channel import CallerHungUp, Channel
from .tcp import ConnectionServer

if TYPE_CHECKING:
    from .ami import AmiClient

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024
MAX_LINE_BYTES = 8 * 1024
HEADER_TIMEOUT = 10.0
# A prompt may be long; a command that gets no answer for this long means Asterisk is gone.
COMMAND_TIMEOUT = 300.0

Route = Callable[[Channel], Awaitable[None]]
# Whether Asterisk has a channel of this name and unique id, right now.
ChannelCheck = Callable[[str, str], Awaitable[bool]]

# Where the dialplan puts the instance's key (dialplan.AGI_KEY): the first argument of AGI().
KEY_HEADER = "agi_arg_1"
# Every unique id Asterisk gives our channels (its own, and the ChannelIds the controller sets).
_UNIQUE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# A channel name: printable ASCII, no spaces (PJSIP/9001-0000002a, Local/112@public-0000;2).
_CHANNEL = re.compile(r"[!-~]{1,256}")
# How long Asterisk may take to say whether it has a channel before the request is refused.
CHECK_TIMEOUT = 5.0


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


class AgiChannel:
    """One call as the FastAGI connection sees it; implements telephony.channel.Channel."""

    def __init__(
        self,
        headers: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ):
        self.headers = headers
        self._reader = reader
        self._writer = writer
        self.hung_up = False
        self.unique_id = headers.get("agi_uniqueid", "")
        self.channel_name = headers.get("agi_channel", "")
        self.linked_id = headers.get("agi_linkedid", self.unique_id) or self.unique_id
        self.caller_number: str | bytes = headers.get("agi_callerid", "")
        self.caller_name: str | bytes = headers.get("agi_calleridname", "")

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

    async def get_variable(self, name: str) -> str:
        result = await self.command("GET VARIABLE", name)
        if str(result.get("result", ("0", ""))[0]) != "1":
            return ""
        return str(result["result"][1])

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, _quote(value))


class AgiTrust:
    """Who the FastAGI server serves: this instance's Asterisk, for a call it has.

    Any local process can connect to the FastAGI port and name any call. A request is served
    only if it carries the instance's key (the dialplan passes it, telephony/dialplan.AGI_KEY)
    and names a channel Asterisk has, asked over AMI (the connection that proves it is Asterisk):
    so no ticket is opened, and no ticket of a real call changed, on a stranger's word."""

    def __init__(self, key: str, asterisk_has: ChannelCheck):
        if not key:
            raise ValueError("no FastAGI key")
        self._key = key.encode()
        self._asterisk_has = asterisk_has

    async def refusal(self, headers: dict[str, str]) -> str | None:
        """Why this request must not be served; None if it may be."""
        offered = headers.get(KEY_HEADER, "").encode("utf-8", errors="surrogateescape")
        if not hmac.compare_digest(offered, self._key):
            return "no key or a wrong key"
        unique_id = headers.get("agi_uniqueid", "")
        channel = headers.get("agi_channel", "")
        if not _UNIQUE_ID.fullmatch(unique_id) or not _CHANNEL.fullmatch(channel):
            return "not a channel name and unique id"
        try:
            has = await asyncio.wait_for(self._asterisk_has(channel, unique_id), CHECK_TIMEOUT)
        except Exception as e:
            return f"could not ask Asterisk about the channel ({type(e).__name__}: {e})"
        return None if has else "a channel Asterisk does not have"


def asterisk_has_channel(ami: AmiClient) -> ChannelCheck:
    """The AMI question behind AgiTrust: does Asterisk have a channel of this name whose unique id
    is this one?"""

    async def has(channel: str, unique_id: str) -> bool:
        reply = await ami.send(
            {"Action": "Getvar", "Channel": channel, "Variable": "UNIQUEID"}, single=True
        )
        return bool(getattr(reply, "success", False)) and reply.get("Value") == unique_id

    return has


class FastAgiServer(ConnectionServer):
    name = "FastAGI"
    line_limit = MAX_LINE_BYTES

    def __init__(self, routes: dict[str, Route], trust: AgiTrust):
        super().__init__()
        self._routes = routes
        self._trust = trust

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        unique_id = "?"
        try:
            headers = await asyncio.wait_for(read_headers(reader), HEADER_TIMEOUT)
            unique_id = headers.get("agi_uniqueid", "?")
            name = headers.get("agi_network_script", "").strip("/").split("?")[0]
            refusal = await self._trust.refusal(headers)
            if refusal is not None:
                # Closed without a command: a real Asterisk (say, with a stale key) goes on in the
                # dialplan, which queues the call; a stranger learns nothing.
                log.warning(
                    "FastAGI request from %s refused: %s (call %r, route %r)",
                    peer,
                    refusal,
                    unique_id[:64],
                    name[:40],
                )
                return
            route = self._routes.get(name)
            if route is None:
                # No hang-up: closing makes the dialplan continue to the queue.
                log.error("call %s: no FastAGI route %r (from %s)", unique_id, name, peer)
                return
            await route(AgiChannel(headers, reader, writer))
        except CallerHungUp:
            log.info("call %s: caller hung up during an AGI route", unique_id)
        except TimeoutError:
            log.warning("FastAGI request from %s: no complete request in time", peer)
        except AgiProtocolError as e:
            log.warning("call %s: bad FastAGI request from %s: %s", unique_id, peer, e)
        except Exception:
            log.exception("call %s: FastAGI route failed; the dialplan queues the call", unique_id)
        finally:
            writer.close()
