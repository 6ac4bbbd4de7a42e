"""The prompt catalogue: ivr-prompts/<lang>/prompts.txt holds `name|text` lines; `build` turns each into
an 8 kHz mono 16-bit WAV, the format Asterisk plays to phones without transcoding. Recorded human
voice files with the same names can replace them."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from pydub import AudioSegment
from pydub.generators import Sine

PROMPT_RATE = 8000

# The prompts the flow plays (names in ivr-prompts/<lang>/prompts.txt, language prefix included).
WELCOME = "id/welcome"
MENU = "id/menu"
INVALID = "id/invalid"
DESCRIBE = "id/describe"
SILENT_OFFER = "id/silent-offer"
SILENT_CONFIRMED = "id/silent-confirmed"
INFORMASI_STAY = "id/informasi-stay"
CONNECTING_CALLTAKER = "id/connecting-calltaker"


def read_catalogue(path: Path) -> dict[str, str]:
    prompts: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, text = line.partition("|")
        name = name.strip()
        if not sep or not text.strip() or not all(c.isalnum() or c in "-_/" for c in name):
            raise ValueError(f"{path}:{n}: expected 'name|text' with a plain name")
        if ".." in name or name.startswith("/"):
            raise ValueError(f"{path}:{n}: prompt name must stay inside the prompts directory")
        prompts[name] = text.strip()
    return prompts


def build(lang_dir: Path, voice: str, only_missing: bool = False) -> list[Path]:
    """Synthesise every prompt with espeak-ng and convert it for Asterisk; returns the files written."""
    written = []
    for name, text in read_catalogue(lang_dir / "prompts.txt").items():
        target = lang_dir / f"{name}.wav"
        if only_missing and target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(suffix=".wav") as raw:
            # Text goes as an argument after "--", never through a shell.
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", "150", "-w", raw.name, "--", text],
                check=True,
                capture_output=True,
            )
            audio = AudioSegment.from_wav(raw.name)
        audio.set_frame_rate(PROMPT_RATE).set_channels(1).set_sample_width(2).export(
            target, format="wav"
        )
        written.append(target)
    beep = lang_dir / "beep.wav"
    if not (only_missing and beep.exists()):
        # RECORD FILE plays "beep" in the channel's language: the tone before the caller speaks.
        tone = Sine(1000).to_audio_segment(duration=300, volume=-8.0).fade_out(20)
        tone.set_frame_rate(PROMPT_RATE).set_channels(1).set_sample_width(2).export(
            beep, format="wav"
        )
        written.append(beep)
    return written
