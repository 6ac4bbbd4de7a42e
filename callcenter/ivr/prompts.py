"""The prompt catalogue: ivr-prompts/<lang>/prompts.txt holds `name|text` lines, optionally
`name|text|speed=190`; `build` turns each into an 8 kHz mono 16-bit WAV, the format Asterisk plays to
phones without transcoding. Recorded human voice files with the same names can replace them."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydub import AudioSegment
from pydub.generators import Sine

from ..telephony import dialplan

PROMPT_RATE = 8000
# espeak-ng words per minute. Prompts written for the caller's wait set their own (`speed=`), so the
# others keep the audio they were committed with.
DEFAULT_SPEED = 150
# Faster than this, espeak's Indonesian voice stops being understood over a phone line.
SPEED_RANGE = range(80, 221)

# The prompts the centre plays itself (names in ivr-prompts/<lang>/prompts.txt, language prefix
# included); the dialplan plays the welcome, all-busy and connecting-agency by name.
WELCOME = "id/welcome"
SILENT_CONFIRMED = "id/silent-confirmed"
INFORMASI = "id/informasi"
# Whispered to a waiting caller whose key was taken: short, so the wait is not talked over.
KEY_HEARD = "id/key-heard"

# The menu while the caller waits in the queue: a music-on-hold class (asterisk-conf/musiconhold.conf.j2)
# that plays every file of MENU_DIR in name order, in a loop. Its pieces are prompts like any other.
MENU_CLASS = dialplan.WAITING_MUSIC
MENU_DIR = "id/moh-menu"


@dataclass(frozen=True)
class Prompt:
    text: str
    speed: int = DEFAULT_SPEED


def read_prompts(path: Path) -> dict[str, Prompt]:
    prompts: dict[str, Prompt] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, rest = line.partition("|")
        text, _, options = rest.partition("|")
        name = name.strip()
        if not sep or not text.strip() or not all(c.isalnum() or c in "-_/" for c in name):
            raise ValueError(f"{path}:{n}: expected 'name|text' with a plain name")
        if ".." in name or name.startswith("/"):
            raise ValueError(f"{path}:{n}: prompt name must stay inside the prompts directory")
        prompts[name] = Prompt(text.strip(), **_options(options, f"{path}:{n}"))
    return prompts


def _options(text: str, where: str) -> dict[str, int]:
    options: dict[str, int] = {}
    for item in text.split():
        key, _, value = item.partition("=")
        if key != "speed" or not value.isascii() or not value.isdigit():
            raise ValueError(f"{where}: unknown option {item!r} (known: speed=<words per minute>)")
        if int(value) not in SPEED_RANGE:
            raise ValueError(f"{where}: speed must be {SPEED_RANGE.start}-{SPEED_RANGE.stop - 1}")
        options[key] = int(value)
    return options


def read_catalogue(path: Path) -> dict[str, str]:
    """Prompt name → its text."""
    return {name: prompt.text for name, prompt in read_prompts(path).items()}


def build(lang_dir: Path, voice: str, only_missing: bool = False) -> list[Path]:
    """Synthesise every prompt with espeak-ng and convert it for Asterisk; returns the files written."""
    written = []
    for name, prompt in read_prompts(lang_dir / "prompts.txt").items():
        target = lang_dir / f"{name}.wav"
        if only_missing and target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(suffix=".wav") as raw:
            # Text goes as an argument after "--", never through a shell.
            espeak = ["espeak-ng", "-v", voice, "-s", str(prompt.speed), "-w", raw.name]
            subprocess.run([*espeak, "--", prompt.text], check=True, capture_output=True)
            audio = AudioSegment.from_wav(raw.name)
        audio.set_frame_rate(PROMPT_RATE).set_channels(1).set_sample_width(2).export(
            target, format="wav"
        )
        written.append(target)
    beep = lang_dir / "beep.wav"
    if not (only_missing and beep.exists()):
        # The reminder a call-taker hears while their caller is on hold (dispatch,held).
        tone = Sine(1000).to_audio_segment(duration=300, volume=-8.0).fade_out(20)
        tone.set_frame_rate(PROMPT_RATE).set_channels(1).set_sample_width(2).export(
            beep, format="wav"
        )
        written.append(beep)
    return written


def available(root: Path) -> frozenset[str]:
    """The prompts that exist under `root` (the prompts directory), by name as the dialplan plays
    them: "id/digits/1" for root/id/digits/1.wav."""
    return frozenset(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.wav"))
