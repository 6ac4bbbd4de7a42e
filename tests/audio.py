"""Audio checks for tests: is there sound, and is it this prompt?"""

from __future__ import annotations

import audioop  # deprecated in 3.13; fine on the project's 3.11, and it is what pyVoIP itself uses
import wave
from pathlib import Path

FRAME = 160  # 20 ms at 8 kHz


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
