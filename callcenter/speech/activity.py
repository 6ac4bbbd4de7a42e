"""How much of the caller's audio is speech: the one measure of it, used on the audio streamed live
to the recogniser (speech/live.py). The audio is cut into 20 ms frames; a frame is speech when
its RMS level is at least `SPEECH_DBFS`. Levels are in dB relative to full scale as pydub
reckons it: 0 dBFS is an RMS of 32768 (a full-scale square wave), so a full-scale sine is -3
dBFS.
"""

from __future__ import annotations

import audioop  # stdlib up to 3.12; from 3.13 the audioop-lts package (setup.cfg) provides it
import logging
import math

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
