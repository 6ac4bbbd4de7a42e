"""The committed prompts: every catalogue entry has its WAV in the format Asterisk plays without
transcoding, none is silent, the ones a caller hears on the way to a call-taker stay short, and the
waiting menu says the keys the controller acts on. Also: the music-on-hold class that plays the menu
points at a directory the local Asterisk gets."""

from __future__ import annotations

import array
import math
import re
import wave
from pathlib import Path

import pytest

from callcenter.config import load
from callcenter.config.model import CALLTAKER, IvrConfig
from callcenter.ivr import prompts
from callcenter.telephony.asterisk import (
    PROMPTS_DIR,
    _copy_prompts,
    instance_paths,
    render_templates,
)

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = PROMPTS_DIR / "id" / "prompts.txt"
ENTRIES = prompts.read_prompts(CATALOGUE)
# `build` writes the beep itself; it has no text.
WAVS = [*(f"id/{name}" for name in ENTRIES), "id/beep"]

# Seconds of audio, at most: every second here is a second before, or instead of, a human.
LIMITS = {
    prompts.WELCOME: 3.0,
    prompts.KEY_HEARD: 3.0,
    prompts.SILENT_CONFIRMED: 4.0,
    prompts.INFORMASI: 10.0,
    # Before an agency's phone rings on overflow: every second is a second before help.
    "id/connecting-agency": 3.0,
}
MENU_LIMIT = 12.0

DIGITS = {
    w: str(d)
    for d, w in enumerate("nol satu dua tiga empat lima enam tujuh delapan sembilan".split())
}
# The word the menu says for each choice; "bicara" introduces the silent key.
SPOKEN = {
    "polisi": "police",
    "ambulans": "ambulance",
    "listrik": "electricity",
    "ketertiban": "public-order",
    "kebakaran": "fire",
    "informasi": "informasi",
    "bicara": "silent",
}


def _wav(name: str) -> Path:
    return PROMPTS_DIR / f"{name}.wav"


def _seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def _menu_pieces() -> list[Path]:
    return sorted((PROMPTS_DIR / prompts.MENU_DIR).iterdir())


def _keys_said(text: str) -> dict[str, str]:
    """Choice → the key the text gives it: the digit words after the choice's word ("lima dua
    kali" is 55)."""
    words = re.findall(r"[a-z]+", text.lower())
    said: dict[str, str] = {}
    choice = None
    for i, word in enumerate(words):
        if word in SPOKEN:
            choice = SPOKEN[word]
        elif word in DIGITS and choice is not None:
            key = DIGITS[word]
            if words[i + 1 : i + 3] == ["dua", "kali"]:
                key *= 2
            said.setdefault(choice, key)
            choice = None
    return said


@pytest.mark.parametrize("name", WAVS)
def test_every_prompt_is_an_8khz_mono_16bit_wav_with_sound(name):
    path = _wav(name)
    assert path.is_file(), f"{path} missing: run `callcenter prompts build`"
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        samples = array.array("h", w.readframes(w.getnframes()))
    # 20 ms frames louder than -40 dBFS: a broken synthesis or an empty recording has none.
    frame = 160
    loud = sum(
        math.sqrt(sum(s * s for s in samples[i : i + frame]) / frame) > 328
        for i in range(0, len(samples) - frame + 1, frame)
    )
    assert max(map(abs, samples)) > 4000, f"{name} is too quiet"
    assert loud * frame / 8000 >= 0.25, f"{name} has under 0.25 s of sound"


@pytest.mark.parametrize(("name", "limit"), LIMITS.items())
def test_prompts_on_the_way_to_a_human_stay_short(name, limit):
    assert _seconds(_wav(name)) <= limit


def test_the_menu_loop_is_short_and_each_piece_is_in_the_catalogue():
    pieces = _menu_pieces()
    assert [p.suffix for p in pieces] == [".wav"] * len(pieces) and len(pieces) >= 2
    # Asterisk plays every file in the directory: a stray file would be heard too.
    assert {f"id/{p.relative_to(PROMPTS_DIR / 'id').with_suffix('')}" for p in pieces} == {
        f"id/{name}" for name in ENTRIES if f"id/{name}".startswith(prompts.MENU_DIR + "/")
    }
    assert sum(_seconds(p) for p in pieces) <= MENU_LIMIT


def test_the_menu_says_the_keys_the_controller_acts_on():
    text = " ".join(ENTRIES[f"{p.parent.name}/{p.stem}"].text for p in _menu_pieces())
    ivr = IvrConfig()
    # 0 ("a call-taker") is not announced: a caller in the queue is already waiting for one.
    expected = {choice: key for choice, key in ivr.menu.items() if choice != CALLTAKER}
    assert set(expected) <= set(SPOKEN.values()), "a new menu choice needs its word in SPOKEN"
    assert _keys_said(text) == {**expected, "silent": ivr.silent_key}


def test_the_key_reader_of_this_test_reads_keys():
    assert _keys_said(
        "Polisi tekan satu, ambulans dua. Tidak bisa bicara? Tekan lima dua kali."
    ) == {
        "police": "1",
        "ambulance": "2",
        "silent": "55",
    }


def _sections(conf: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in conf.splitlines():
        line = line.split(";", 1)[0].strip()
        if m := re.fullmatch(r"\[([^\]]+)\]", line):
            current = sections.setdefault(m[1], {})
        elif "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


def test_the_menu_class_plays_the_menu_pieces_asterisk_is_given(tmp_path):
    path = tmp_path / "callcenter.toml"
    path.write_text((REPO / "callcenter.example.toml").read_text())
    config = load(path, env={})
    config.asterisk.instance_dir = str(tmp_path / "instance")
    conf = _sections(render_templates(config, tmp_path / "etc")["musiconhold.conf"])

    menu = conf[prompts.MENU_CLASS]
    assert (menu["mode"], menu.get("sort")) == ("files", "alpha")
    assert "default" in conf
    sounds = instance_paths(config).prompts
    assert menu["directory"] == f"{config.asterisk.seen_by_asterisk(sounds)}/{prompts.MENU_DIR}"

    _copy_prompts(PROMPTS_DIR, sounds)
    given = sorted(p.name for p in (sounds / prompts.MENU_DIR).iterdir())
    assert given == [p.name for p in _menu_pieces()]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("x|Halo.|speed=fast", "unknown option"),
        ("x|Halo.|pitch=50", "unknown option"),
        ("x|Halo.|speed=400", "speed must be"),
        ("x||speed=190", "expected"),
    ],
)
def test_the_catalogue_refuses_bad_options(tmp_path, line, error):
    (tmp_path / "prompts.txt").write_text(line + "\n")
    with pytest.raises(ValueError, match=error):
        prompts.read_prompts(tmp_path / "prompts.txt")


def test_a_prompt_may_set_its_speed(tmp_path):
    (tmp_path / "prompts.txt").write_text("a|Halo.\nb|Halo lagi.|speed=190\n")
    assert prompts.read_prompts(tmp_path / "prompts.txt") == {
        "a": prompts.Prompt("Halo.", prompts.DEFAULT_SPEED),
        "b": prompts.Prompt("Halo lagi.", 190),
    }
    assert prompts.read_catalogue(tmp_path / "prompts.txt") == {"a": "Halo.", "b": "Halo lagi."}
