"""The one speech-activity measure, on synthetic telephone audio (8 kHz, 16-bit)."""

from __future__ import annotations

import math
import random
import struct

import pytest

from callcenter.speech.activity import (
    SPEECH_DBFS,
    level_dbfs,
    speech_seconds,
)

RATE = 8000


def pcm(samples: list[float]) -> bytes:
    return struct.pack(f"<{len(samples)}h", *(round(s) for s in samples))


def tone(seconds: float, dbfs: float, freq: float = 440.0) -> bytes:
    """A sine whose RMS level is `dbfs` (a sine's peak is √2 times its RMS)."""
    peak = 32768 * 10 ** (dbfs / 20) * math.sqrt(2)
    return pcm([peak * math.sin(2 * math.pi * freq * i / RATE) for i in range(int(seconds * RATE))])


def square(seconds: float, dbfs: float) -> bytes:
    """A square wave at `dbfs`: its RMS is its amplitude, so the level is exact in every frame."""
    amplitude = 32768 * 10 ** (dbfs / 20)
    n = int(seconds * RATE)
    return pcm([amplitude if (i // 4) % 2 else -amplitude for i in range(n)])


def noise(seconds: float, dbfs: float) -> bytes:
    rng = random.Random(112)
    sigma = 32768 * 10 ** (dbfs / 20)
    return pcm([max(-32768, min(32767, rng.gauss(0, sigma))) for _ in range(int(seconds * RATE))])


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


def test_levels_are_in_dbfs_as_pydub_reckons_them():
    assert level_dbfs(square(0.1, -6.0)) == pytest.approx(-6.0, abs=0.01)
    assert level_dbfs(tone(0.5, -20.0)) == pytest.approx(-20.0, abs=0.1)
    full_sine = pcm([32767 * math.sin(2 * math.pi * 440 * i / RATE) for i in range(RATE)])
    assert level_dbfs(full_sine) == pytest.approx(-3.01, abs=0.05)
    assert level_dbfs(silence(0.1)) == -math.inf
    assert level_dbfs(b"") == -math.inf


def test_silence_is_no_speech():
    assert speech_seconds(silence(2.0), RATE) == 0.0


def test_a_voice_loud_tone_is_speech_for_its_whole_length():
    assert speech_seconds(tone(1.0, -20.0), RATE) == pytest.approx(1.0)


def test_only_the_loud_part_of_a_recording_counts():
    audio = silence(0.5) + tone(1.2, -20.0) + silence(0.8)
    assert speech_seconds(audio, RATE) == pytest.approx(1.2)


@pytest.mark.parametrize(
    ("margin", "expected"),
    [(-1.0, 0.0), (+1.0, 1.0)],
    ids=["just under the threshold", "just over it"],
)
def test_the_threshold_is_the_speech_level(margin, expected):
    assert speech_seconds(square(1.0, SPEECH_DBFS + margin), RATE) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("margin", "at_least", "at_most"),
    [(-3.0, 0.0, 0.02), (+3.0, 0.98, 1.0)],
    ids=["noise under the threshold", "noise over it"],
)
def test_noise_on_either_side_of_the_threshold(margin, at_least, at_most):
    heard = speech_seconds(noise(1.0, SPEECH_DBFS + margin), RATE)
    assert at_least <= heard <= at_most


def test_no_audio_is_no_speech():
    assert speech_seconds(b"", RATE) == 0.0
    assert speech_seconds(b"\x7f", RATE) == 0.0  # half a sample


def test_an_odd_byte_at_the_end_is_not_audio():
    audio = tone(0.1, -20.0)
    assert speech_seconds(audio + b"\x7f", RATE) == speech_seconds(audio, RATE)


def test_a_frame_shorter_than_20_ms_counts_for_its_own_length():
    # AudioSocket usually sends 20 ms, but a stream may end on a shorter frame.
    assert speech_seconds(tone(0.005, -20.0), RATE) == pytest.approx(0.005)
    assert speech_seconds(tone(0.025, -20.0), RATE) == pytest.approx(0.025)


def test_the_rate_gives_the_seconds():
    at_16k = struct.pack("<16000h", *([4000, -4000] * 8000))  # 1 s at 16 kHz, about -18 dBFS
    assert speech_seconds(at_16k, 16000) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        speech_seconds(at_16k, 0)
