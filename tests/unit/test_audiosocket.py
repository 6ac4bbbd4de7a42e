"""The AudioSocket server over a real loopback socket, with hostile and honest clients."""

from __future__ import annotations

import asyncio
import struct
import uuid

import pytest

from callcenter.telephony.audiosocket import HANGUP, KIND_SLIN, KIND_UUID, AudioSocketServer


class Heard:
    def __init__(self, enough_after: int = 1000):
        self.frames: list[bytes] = []
        self.finished = False
        self.enough_after = enough_after

    async def audio(self, pcm: bytes) -> bool:
        self.frames.append(pcm)
        return len(self.frames) < self.enough_after

    async def ended(self) -> None:
        self.finished = True


def frame(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


@pytest.fixture
async def server():
    known = uuid.uuid4()
    listener = Heard(enough_after=3)
    srv = AudioSocketServer(lambda stream: listener if stream == known else None)
    await srv.start("127.0.0.1", 0)
    assert srv._server is not None
    port = srv._server.sockets[0].getsockname()[1]
    yield port, known, listener
    await srv.stop()


async def exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(100), 5)
    writer.close()
    return reply


async def test_a_stream_is_heard_until_the_listener_has_enough(server):
    port, known, listener = server
    audio = frame(KIND_SLIN, b"\x01\x00" * 160)
    reply = await exchange(port, frame(KIND_UUID, known.bytes) + audio * 5)
    assert reply == HANGUP  # enough: Asterisk's AudioSocket() returns, the IVR goes on
    assert len(listener.frames) == 3 and listener.finished


@pytest.mark.parametrize(
    "garbage",
    [
        frame(KIND_SLIN, b"\x00\x00" * 160),  # audio before the stream says who it is
        frame(KIND_UUID, b"short"),
        # A stream nobody registered (a fixed id: every test process must collect the same tests).
        frame(KIND_UUID, uuid.UUID(int=0x5EED).bytes),
        b"GET / HTTP/1.1\r\n\r\n",
        b"\x01\xff\xff" + b"\x00" * 10,  # a length far longer than what follows
    ],
)
async def test_hostile_streams_are_hung_up_and_the_server_lives_on(server, garbage):
    port, known, listener = server
    reply = await exchange(port, garbage)
    assert reply in (HANGUP, b"")
    assert listener.frames == []
    # The server still serves a proper stream afterwards; odd-length audio is dropped, not fatal.
    odd = frame(KIND_SLIN, b"\x00" * 3)
    good = frame(KIND_SLIN, b"\x01\x00" * 160)
    assert await exchange(port, frame(KIND_UUID, known.bytes) + odd + good * 3) == HANGUP
    assert len(listener.frames) == 3
