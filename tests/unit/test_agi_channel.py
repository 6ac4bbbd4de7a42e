"""What AgiChannel makes of each kind of reply Asterisk gives a FastAGI command.

Asterisk's side is a transcript: the lines it answers with, fed to the channel's reader before the
commands are sent (AGI is strictly one reply per command, in order), and a writer that keeps what
the controller sent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcenter.telephony.agi import AgiChannel, AgiProtocolError
from callcenter.telephony.channel import CallerHungUp

UNIQUE_ID = "1732261234.12"
USAGE_BLOCK = [
    "520-Invalid command syntax.  Proper usage follows:",
    "Usage: GET DATA <file to be streamed> [timeout] [maxdigits]",
    "     Stream the given file, and receive DTMF data.",
    "520 End of proper usage.",
]


class Sent:
    """The writer half of the connection: what the controller sent to Asterisk."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        pass

    @property
    def commands(self) -> list[str]:
        return self.data.decode("utf-8", "surrogateescape").splitlines()


def asterisk_says(tmp_path: Path, *lines: str, hangs_up: bool = True) -> tuple[AgiChannel, Sent]:
    """A channel whose Asterisk answers with `lines`, then (`hangs_up`) closes the connection."""
    reader = asyncio.StreamReader(limit=8192)
    reader.feed_data("".join(f"{line}\n" for line in lines).encode())
    if hangs_up:
        reader.feed_eof()
    sent = Sent()
    headers = {"agi_uniqueid": UNIQUE_ID, "agi_channel": "PJSIP/9001-00000001"}
    return AgiChannel(headers, reader, sent), sent  # type: ignore[arg-type]


async def test_a_normal_reply_is_the_result(tmp_path):
    channel, sent = asterisk_says(tmp_path, "200 result=1 (police)", "200 result=0")
    assert await channel.get_variable("NGALAM_CATEGORY") == "police"
    assert await channel.get_variable("NGALAM_UNSET") == ""
    assert sent.commands == ["GET VARIABLE NGALAM_CATEGORY", "GET VARIABLE NGALAM_UNSET"]
    assert not channel.hung_up


async def test_a_variable_is_set_quoted(tmp_path):
    channel, sent = asterisk_says(tmp_path, "200 result=1")
    await channel.set_variable("NGALAM_TARGET_1", 'PJSIP/7001 "x"')
    assert sent.commands == ['SET VARIABLE NGALAM_TARGET_1 "PJSIP/7001 \\"x\\""']


async def test_progress_lines_are_skipped(tmp_path):
    channel, _ = asterisk_says(tmp_path, "100 result=0 Trying...", "200 result=1 (x)")
    assert await channel.get_variable("X") == "x"


async def test_hangup_is_noted_and_the_pending_reply_still_read(tmp_path):
    # Asterisk announces the hang-up, then answers the command that was running.
    channel, sent = asterisk_says(tmp_path, "HANGUP", "200 result=1 (police)")
    assert await channel.get_variable("NGALAM_CATEGORY") == "police"
    assert channel.hung_up
    with pytest.raises(CallerHungUp):
        await channel.set_variable("NGALAM_IVR_RESULT", "done")
    assert len(sent.commands) == 1  # nothing more is sent to a channel that is gone


async def test_a_result_saying_hangup_ends_the_flow(tmp_path):
    channel, _ = asterisk_says(tmp_path, "200 result=-1 (hangup)")
    with pytest.raises(CallerHungUp):
        await channel.command("STREAM FILE", '"id/menu"', '"123"')
    assert channel.hung_up


async def test_a_command_refused_on_a_dead_channel_ends_the_flow(tmp_path):
    channel, sent = asterisk_says(
        tmp_path, "511 Command Not Permitted on a dead channel or intercepted channel"
    )
    with pytest.raises(CallerHungUp):
        await channel.get_variable("NGALAM_CATEGORY")
    assert channel.hung_up
    with pytest.raises(CallerHungUp):
        await channel.get_variable("NGALAM_CATEGORY")
    assert len(sent.commands) == 1


async def test_a_usage_error_is_read_to_its_end_and_the_next_reply_is_the_next_commands(tmp_path):
    channel, _ = asterisk_says(tmp_path, *USAGE_BLOCK, "200 result=1 (ambulance)")
    with pytest.raises(AgiProtocolError, match="GET DATA"):
        await channel.command("GET DATA")
    assert not channel.hung_up
    assert await channel.get_variable("NGALAM_CATEGORY") == "ambulance"


async def test_a_one_line_usage_error_waits_for_nothing_more(tmp_path):
    channel, _ = asterisk_says(
        tmp_path,
        "520 Invalid command syntax.  Proper usage not available.",
        "200 result=1 (fire)",
        hangs_up=False,  # were it waiting for more, the test would time out rather than pass
    )
    with pytest.raises(AgiProtocolError):
        await asyncio.wait_for(channel.command("GET DATA"), 1.0)
    assert await asyncio.wait_for(channel.get_variable("NGALAM_CATEGORY"), 1.0) == "fire"


@pytest.mark.timeout(10)  # a loop that never yields cannot be stopped by wait_for: this can
async def test_the_connection_closing_inside_a_usage_error_is_a_hang_up(tmp_path):
    channel, _ = asterisk_says(tmp_path, *USAGE_BLOCK[:2])
    with pytest.raises(CallerHungUp):
        await asyncio.wait_for(channel.command("GET DATA"), 2.0)
    assert channel.hung_up


async def test_the_connection_closing_before_a_reply_is_a_hang_up(tmp_path):
    channel, _ = asterisk_says(tmp_path)
    with pytest.raises(CallerHungUp):
        await asyncio.wait_for(channel.get_variable("NGALAM_CATEGORY"), 2.0)
    assert channel.hung_up


async def test_an_unreadable_reply_is_a_protocol_error(tmp_path):
    channel, _ = asterisk_says(tmp_path, "hello there")
    with pytest.raises(AgiProtocolError, match="unreadable"):
        await channel.get_variable("NGALAM_CATEGORY")
