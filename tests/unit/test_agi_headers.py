import asyncio

import pytest

from callcenter.telephony.agi import AgiProtocolError, _quote, read_headers


def reader_with(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=8192)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_headers_are_read_up_to_the_blank_line():
    headers = await read_headers(reader_with(b"agi_uniqueid: 1.2\nagi_callerid: \xff1\n\nSTREAM"))
    assert headers["agi_uniqueid"] == "1.2"
    assert headers["agi_callerid"].encode("utf-8", "surrogateescape") == b"\xff1"


@pytest.mark.parametrize(
    "data,problem",
    [
        (b"", "closed before"),
        (b"agi_uniqueid: 1", "closed before"),
        (b"\n", "empty"),
        (b"GET / HTTP/1.1\n\n", "not an AGI header"),
        (b"agi_x: " + b"a" * 10000 + b"\n\n", "longer than"),
        (b"agi_x: y\n" * 10000 + b"\n", "larger than"),
    ],
)
async def test_malformed_headers_are_refused_clearly(data, problem):
    with pytest.raises(AgiProtocolError, match=problem):
        await read_headers(reader_with(data))


def test_arguments_cannot_inject_commands():
    assert _quote('say "hi"') == '"say \\"hi\\""'
    with pytest.raises(ValueError):
        _quote("x\nHANGUP")
