"""Whole recordings to text with word timings: after a call, and for `callcenter transcribe`.

Audio is untrusted (a recording can be cut off, empty or not audio at all): every way it can be
wrong becomes an AudioError whose message says what is wrong, for the ticket and the operator.
Telephone audio (8 kHz) is converted once, here, to the model's rate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError
from pydub.utils import mediainfo

from .model import SpeechModel

# Half a second of 16-bit mono at 16 kHz per AcceptWaveform call.
CHUNK_SECONDS = 0.5


class AudioError(Exception):
    """This audio cannot be transcribed; the message says why."""


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds from the start of the recording
    end: float
    confidence: float


@dataclass
class Transcript:
    text: str = ""
    words: list[Word] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "seconds": round(self.seconds, 2),
            "words": [
                {"word": w.word, "start": w.start, "end": w.end, "confidence": w.confidence}
                for w in self.words
            ],
        }


def read_audio(path: Path, rate: int, max_seconds: int) -> bytes:
    """The file as 16-bit mono PCM at `rate`, or an AudioError saying why not."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise AudioError(f"{path}: cannot be read: {e.strerror}") from None
    if size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes)")
    # ffprobe reads the header only: refuse a too-long recording before decoding it into memory.
    duration = _probe_seconds(path)
    if duration is not None and duration > max_seconds:
        raise AudioError(
            f"{path}: {duration:.0f} s of audio, more than the {max_seconds} s allowed"
        )
    try:
        audio = AudioSegment.from_file(path)
    except (CouldntDecodeError, IndexError, ValueError, EOFError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AudioError(f"{path}: not readable audio ({first[:200]})") from None
    if len(audio) == 0:
        raise AudioError(f"{path}: no audio in the file (0 s)")
    if len(audio) > max_seconds * 1000:
        raise AudioError(f"{path}: {len(audio) / 1000:.0f} s of audio, more than {max_seconds} s")
    converted = audio.set_channels(1).set_sample_width(2).set_frame_rate(rate)
    return bytes(converted.raw_data)


def _probe_seconds(path: Path) -> float | None:
    try:
        info = mediainfo(str(path))
        return float(info["duration"])
    except (KeyError, ValueError, OSError):
        return None  # decoding will tell what is wrong


def transcribe_pcm(
    model: SpeechModel, pcm: bytes, progress: Callable[[float], None] | None = None
) -> Transcript:
    recognizer: Any = model.recognizer(words=True)
    step = int(model.sample_rate * CHUNK_SECONDS) * 2
    transcript = Transcript(seconds=len(pcm) / 2 / model.sample_rate)
    texts: list[str] = []

    def take(result_json: str) -> None:
        result = json.loads(result_json)
        if result.get("text"):
            texts.append(result["text"])
        for w in result.get("result", []):
            transcript.words.append(
                Word(str(w["word"]), float(w["start"]), float(w["end"]), float(w.get("conf", 0)))
            )

    for offset in range(0, len(pcm), step):
        if recognizer.AcceptWaveform(pcm[offset : offset + step]):
            take(recognizer.Result())
        if progress is not None:
            progress(min(step, len(pcm) - offset) / 2 / model.sample_rate)
    take(recognizer.FinalResult())
    transcript.text = " ".join(texts)
    return transcript


def transcribe_file(
    model: SpeechModel,
    path: Path,
    max_seconds: int,
    progress: Callable[[float], None] | None = None,
) -> Transcript:
    return transcribe_pcm(model, read_audio(path, model.sample_rate, max_seconds), progress)
