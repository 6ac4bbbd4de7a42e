"""How much of a recording is speech: tells a caller who talks from one who cannot."""

from __future__ import annotations

from pathlib import Path

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError
from pydub.silence import detect_nonsilent

# Telephone line noise sits well below this; speech well above it.
SILENCE_DBFS = -35.0
MIN_PAUSE_MS = 300


def speech_seconds(path: Path) -> float:
    """Seconds of non-silent audio in the file; ValueError/OSError when it is not readable audio."""
    try:
        audio = AudioSegment.from_file(path)
    except (CouldntDecodeError, IndexError, EOFError) as e:  # truncated or not audio
        raise ValueError(f"{path.name}: not readable audio ({type(e).__name__})") from None
    spans = detect_nonsilent(audio, min_silence_len=MIN_PAUSE_MS, silence_thresh=SILENCE_DBFS)
    return float(sum(end - start for start, end in spans)) / 1000
