"""What AgiChannel makes of each kind of reply Asterisk gives a FastAGI command.

Asterisk's side is a transcript: the lines it answers with, fed to the channel's reader before the
commands are sent (AGI is strictly one reply per command, in order), and a writer that keeps what
the controller sent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcenter.ivr.channel import CallerHungUp
from callcenter.telephony.agi import AgiChannel, AgiProtocolError, Media
from callcenter.telephony.asterisk import InstancePaths

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
    media = Media(InstancePaths(tmp_path), lambda path: f"/chroot{path}")
    headers = {"agi_uniqueid": UNIQUE_ID, "agi_channel": "PJSIP/9001-00000001"}
    return AgiChannel(headers, reader, sent, media), sent  # type: ignore[arg-type]


async def test_a_normal_reply_is_the_result(tmp_path):
    channel, sent = asterisk_says(tmp_path, "200 result=1 (police)", "200 result=0")
    assert await channel.get_variable("NGALAM_CATEGORY") == "police"
    assert await channel.get_variable("NGALAM_UNSET") == ""
    assert sent.commands == ["GET VARIABLE NGALAM_CATEGORY", "GET VARIABLE NGALAM_UNSET"]
    assert not channel.hung_up


async def test_a_key_pressed_during_a_prompt_is_its_character(tmp_path):
    channel, sent = asterisk_says(tmp_path, "200 result=49 endpos=8000", "200 result=0 endpos=1")
    assert await channel.play("id/menu", digits="123") == "1"
    assert await channel.play("id/menu", digits="123") is None
    prompt = f"/chroot{tmp_path}/data/sounds/id/menu"
    assert sent.commands[0] == f'STREAM FILE "{prompt}" "123"'


async def test_progress_lines_are_skipped(tmp_path):
    channel, _ = asterisk_says(tmp_path, "100 result=0 Trying...", "200 result=1 (x)")
    assert await channel.get_variable("X") == "x"


async def test_hangup_is_noted_and_the_pending_reply_still_read(tmp_path):
    # Asterisk announces the hang-up, then answers the command that was running.
    channel, sent = asterisk_says(tmp_path, "HANGUP", "200 result=0 endpos=2400")
    assert await channel.play("id/describe") is None
    assert channel.hung_up
    with pytest.raises(CallerHungUp):
        await channel.set_variable("NGALAM_IVR_RESULT", "done")
    assert len(sent.commands) == 1  # nothing more is sent to a channel that is gone


async def test_a_result_saying_hangup_ends_the_flow(tmp_path):
    channel, _ = asterisk_says(tmp_path, "200 result=-1 (hangup)")
    with pytest.raises(CallerHungUp):
        await channel.read_digits("id/menu", 1, 5.0)
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
        await asyncio.wait_for(channel.answer(), 2.0)
    assert channel.hung_up


async def test_an_unreadable_reply_is_a_protocol_error(tmp_path):
    channel, _ = asterisk_says(tmp_path, "hello there")
    with pytest.raises(AgiProtocolError, match="unreadable"):
        await channel.answer()


async def test_streaming_the_caller_runs_audiosocket_with_the_stream_and_address(tmp_path):
    channel, sent = asterisk_says(tmp_path, "200 result=0")
    await channel.stream_audio("5d6e0f6c-8a2b-4c39-9a57-0f5c2b1d9e10", "10.0.0.5:9093")
    assert sent.commands == [
        'EXEC AudioSocket "5d6e0f6c-8a2b-4c39-9a57-0f5c2b1d9e10,10.0.0.5:9093"'
    ]


async def test_recording_writes_the_calls_part_and_says_where(tmp_path):
    channel, sent = asterisk_says(tmp_path, "200 result=0 (timeout) endpos=24000")
    stale = tmp_path / "recordings" / f"{UNIQUE_ID}-describe.wav"
    stale.parent.mkdir()
    stale.write_bytes(b"an earlier attempt")
    path = await channel.record("describe", seconds=20, silence=3)
    assert path == stale and not stale.exists()  # Asterisk writes it afresh
    seen = f"/chroot{tmp_path}/recordings/{UNIQUE_ID}-describe"
    assert sent.commands == [f'RECORD FILE "{seen}" wav "#" 20000 0 BEEP s=3']


async def test_recording_refuses_a_part_that_could_leave_the_recordings(tmp_path):
    channel, sent = asterisk_says(tmp_path)
    assert await channel.record("../describe", seconds=20, silence=3) is None
    assert sent.commands == []
