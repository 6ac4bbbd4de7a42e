"""Audio checks for tests: is there sound, and is it this prompt?"""

from __future__ import annotations

import audioop  # deprecated in 3.13; fine on the project's 3.11, and it is what pyVoIP itself uses
import math
import wave
from pathlib import Path

FRAME = 160  # 20 ms at 8 kHz
RATE = 8000

# The two frequencies of each key (ITU-T Q.23).
DTMF = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477),
}  # fmt: skip


def _u8(samples: list[float]) -> bytes:
    return bytes(max(0, min(255, round(128 + s))) for s in samples)


def tone(freq: float, seconds: float, amplitude: float = 60.0) -> bytes:
    """A sine tone as pyVoIP's 8-bit unsigned audio."""
    n = int(RATE * seconds)
    return _u8([amplitude * math.sin(2 * math.pi * freq * i / RATE) for i in range(n)])


def dtmf_tone(digit: str, seconds: float = 0.25) -> bytes:
    low, high = DTMF[digit]
    n = int(RATE * seconds)
    return _u8(
        [
            45 * math.sin(2 * math.pi * low * i / RATE)
            + 45 * math.sin(2 * math.pi * high * i / RATE)
            for i in range(n)
        ]
    )


def rms_u8(audio: bytes) -> float:
    return float(audioop.rms(audioop.bias(audio, 1, -128), 1)) if audio else 0.0


def envelope_u8(audio: bytes) -> list[float]:
    """RMS per 20 ms of pyVoIP's 8-bit unsigned audio (128 = silence)."""
    pcm = audioop.bias(audio, 1, -128)
    return [audioop.rms(pcm[i : i + FRAME], 1) for i in range(0, len(pcm) - FRAME + 1, FRAME)]


def envelope_wav(path: Path) -> list[float]:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1
        pcm = audioop.lin2lin(w.readframes(w.getnframes()), w.getsampwidth(), 1)
    return [audioop.rms(pcm[i : i + FRAME], 1) for i in range(0, len(pcm) - FRAME + 1, FRAME)]


def _corr(a: list[float], b: list[float]) -> float:
    n = min(len(a), len(b))
    if n < 10:
        return 0.0
    a, b = a[:n], b[:n]
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    va = sum((x - ma) ** 2 for x in a) ** 0.5
    vb = sum((y - mb) ** 2 for y in b) ** 0.5
    return cov / (va * vb) if va and vb else 0.0


def best_match(
    heard: list[float], prompt: list[float], window: int = 100, max_offset: int = 75
) -> float:
    """How well the first 2 s heard follow the prompt's loudness contour, at the best alignment.

    The phone starts listening a little after the prompt started (up to 1.5 s), and pyVoIP's jitter
    buffer drifts over longer spans, so a short window is compared at every offset into the prompt.
    """
    head = heard[:window]
    return max(_corr(head, prompt[off : off + window]) for off in range(max_offset))
