"""AudioSocket server: Asterisk streams a caller's audio (signed linear, 8 kHz) to the controller.

Thin: frames in, plain method calls out. The first frame names the stream (a UUID the IVR
registered before it ran AudioSocket()); an unknown UUID, a malformed frame or a silent socket ends
the stream, never the call (the AGI continues when the stream ends).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from collections.abc import Callable
from typing import Protocol

from .tcp import ConnectionServer

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_SLIN = 0x10
KIND_ERROR = 0xFF
HANGUP = bytes([KIND_HANGUP, 0, 0])
# Asterisk sends a frame every 20 ms; this long without one means the other side is gone.
FRAME_TIMEOUT = 10.0


class Listener(Protocol):
    async def audio(self, pcm: bytes) -> bool:
        """Take 8 kHz signed-linear audio; False when enough was heard (the stream then ends)."""
        ...

    async def ended(self) -> None: ...


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    kind, length = struct.unpack(">BH", await reader.readexactly(3))
    return kind, await reader.readexactly(length)


class AudioSocketServer(ConnectionServer):
    name = "AudioSocket"

    def __init__(self, listener_for: Callable[[uuid.UUID], Listener | None]):
        super().__init__()
        self._listener_for = listener_for

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        listener: Listener | None = None
        try:
            # The header first: a first frame that is not a 16-byte UUID is refused before its
            # (possibly huge, possibly never sent) payload is waited for.
            kind, length = struct.unpack(
                ">BH", await asyncio.wait_for(reader.readexactly(3), FRAME_TIMEOUT)
            )
            if kind != KIND_UUID or length != 16:
                log.warning("AudioSocket from %s: first frame is not a UUID (kind %#x)", peer, kind)
                return
            stream = uuid.UUID(bytes=await asyncio.wait_for(reader.readexactly(16), FRAME_TIMEOUT))
            listener = self._listener_for(stream)
            if listener is None:
                log.warning("AudioSocket from %s: unknown stream %s", peer, stream)
                return
            while True:
                kind, payload = await asyncio.wait_for(read_frame(reader), FRAME_TIMEOUT)
                if kind == KIND_HANGUP:
                    break
                if kind == KIND_ERROR:
                    log.warning("AudioSocket %s: Asterisk reports error %s", stream, payload.hex())
                    break
                if kind == KIND_SLIN and len(payload) % 2 == 0:
                    if not await listener.audio(payload):
                        break
                # DTMF and unknown kinds: not ours to act on; odd-length audio: dropped.
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the call or Asterisk went away: the stream simply ends
        except TimeoutError:
            log.warning("AudioSocket from %s: no frame for %.0f s", peer, FRAME_TIMEOUT)
        finally:
            if listener is not None:
                await listener.ended()
            try:
                writer.write(HANGUP)  # AudioSocket() returns and the IVR goes on
                await writer.drain()
            except ConnectionError:
                pass
            writer.close()
