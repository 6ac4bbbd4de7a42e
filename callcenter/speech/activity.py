"""How much of the caller's audio is speech: tells a caller who talks from one who cannot.

One measure for both ways the IVR hears a description (streamed live to the recogniser, or
recorded to a file when there is no model), so "the caller talked for 2 s" means the same on both.
The audio is cut into 20 ms frames; a frame is speech when its RMS level is at least
`SPEECH_DBFS`. Levels are in dB relative to full scale as pydub reckons it: 0 dBFS is an RMS of
32768 (a full-scale square wave), so a full-scale sine is -3 dBFS.
"""

from __future__ import annotations

import asyncio
import audioop  # stdlib up to 3.12; from 3.13 the audioop-lts package (setup.cfg) provides it
import logging
import math
from pathlib import Path

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError

from ..ivr.channel import Channel

log = logging.getLogger(__name__)

# Telephone line noise sits well below this; a voice at the handset well above it.
SPEECH_DBFS = -36.0
FRAME_SECONDS = 0.02
SAMPLE_WIDTH = 2  # 16-bit signed linear, native byte order: Asterisk's slin and WAV alike
FULL_SCALE = 32768
# The threshold as an RMS sample value (about 519): compared per frame without a logarithm.
_SPEECH_RMS = FULL_SCALE * 10 ** (SPEECH_DBFS / 20)


def level_dbfs(pcm: bytes) -> float:
    """The RMS level of 16-bit mono audio in dBFS; -inf for digital silence or no audio."""
    pcm = pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH]
    rms = audioop.rms(pcm, SAMPLE_WIDTH) if pcm else 0
    return 20 * math.log10(rms / FULL_SCALE) if rms else -math.inf


def speech_seconds(pcm: bytes, rate: int) -> float:
    """Seconds of speech in 16-bit mono audio at `rate` Hz: the total length of its 20 ms frames
    (the last one may be shorter) whose level is at least SPEECH_DBFS. A trailing odd byte (half
    a sample) is not audio and is ignored."""
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, got {rate}")
    frame = max(1, round(rate * FRAME_SECONDS)) * SAMPLE_WIDTH
    usable = len(pcm) - len(pcm) % SAMPLE_WIDTH
    speech_bytes = 0
    for start in range(0, usable, frame):
        chunk = pcm[start : min(start + frame, usable)]
        if audioop.rms(chunk, SAMPLE_WIDTH) >= _SPEECH_RMS:
            speech_bytes += len(chunk)
    return speech_bytes / SAMPLE_WIDTH / rate


def file_speech_seconds(path: Path) -> float:
    """Seconds of speech in an audio file; ValueError/OSError when it is not readable audio."""
    try:
        audio = AudioSegment.from_file(path)
    except (CouldntDecodeError, IndexError, EOFError) as e:  # truncated or not audio
        raise ValueError(f"{path.name}: not readable audio ({type(e).__name__})") from None
    mono = audio.set_channels(1).set_sample_width(SAMPLE_WIDTH)
    return speech_seconds(bytes(mono.raw_data), mono.frame_rate)


class RecordedDescriber:
    """The IVR's Describer without a speech model: the description is recorded to a file, then
    measured for speech."""

    async def describe(self, channel: Channel, seconds: int, silence: int) -> float:
        path = await channel.record("describe", seconds, silence)
        if path is None:
            return 0.0
        try:
            return await asyncio.to_thread(file_speech_seconds, path)
        except (OSError, ValueError) as e:
            log.warning("call %s: description recording unreadable: %s", channel.unique_id, e)
            return 0.0
