"""Words to meaning: which categories a caller's words point to, and where in Kota Malang they are.

Plain text in, plain answers out, so it runs on a live partial transcript as well as on a final
one. The words live in data files (speech/data/*.toml) that supervisors can edit; this module only
knows how to match them: whole words, in order, ignoring case and punctuation, tolerating small
misspellings (a recogniser's or a caller's) and the suffixes Indonesian and Javanese glue on
("kebakarane", "omahku"). Suggestions, not decisions: the call-taker confirms.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, TypeGuard

DATA = Path(__file__).parent / "data"
LEXICON = DATA / "lexicon-id.toml"
GAZETTEER = DATA / "gazetteer-malang.toml"

# Suffixes glued to a word: -nya (id), -ne/-e/-ku/-mu (jv, "omahku" = my house).
SUFFIXES = ("nya", "ne", "ku", "mu", "e")
# Words shorter than this must match exactly: "api" is not "apa", "maling" is not "malang".
FUZZY_MIN_LENGTH = 6
FUZZY_RATIO = 0.85
# About half an hour of speech.
MAX_WORDS = 5000
# Words that announce a place: "di Dinoyo", "nang Sukun" (jv), "daerah Sawojajar".
PLACE_CUES = frozenset(
    "di ke dari nang ning ing neng daerah kelurahan kel desa kampung jalan jl jln dekat sekitar "
    "wilayah kecamatan kec perumahan perum gang".split()
)
KELURAHAN_CUES = frozenset({"kelurahan", "kel", "desa"})


class DataFileError(Exception):
    """A lexicon or gazetteer file is unreadable; the message names the file and the key."""


def words(text: str) -> list[str]:
    """Lower-case words without accents or punctuation; runs of 3+ equal letters shortened
    ("tolooong" → "tolong" as far as matching goes). At most MAX_WORDS: transcripts are untrusted
    and a call's meaning is in its first minutes."""
    text = unicodedata.normalize("NFKD", text[: MAX_WORDS * 40])
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"(.)\1{2,}", r"\1", text)
    return re.findall(r"[a-z0-9]+", text)[:MAX_WORDS]


class _Vocabulary:
    """Known words, found for a heard word by exact form, without a suffix, or as a small
    misspelling of a word of about the same length (only those are compared, hence the index)."""

    def __init__(self, known: set[str]):
        self.known = frozenset(known)
        # One matcher per known word: SequenceMatcher analyses its second string once.
        self.by_length: dict[int, list[tuple[str, SequenceMatcher[str]]]] = {}
        for w in known:
            if len(w) >= FUZZY_MIN_LENGTH:
                self.by_length.setdefault(len(w), []).append((w, SequenceMatcher(None, "", w)))

    def matches(self, heard: str) -> set[str]:
        found = {heard} & self.known
        for suffix in SUFFIXES:
            stem = heard[: -len(suffix)]
            if heard.endswith(suffix) and len(stem) >= 3 and stem in self.known:
                found.add(stem)
        for length in range(len(heard) - 2, len(heard) + 3):
            for known, matcher in self.by_length.get(length, ()):
                if _close(heard, known, matcher):
                    found.add(known)
        return found


def _close(heard: str, known: str, matcher: SequenceMatcher[str]) -> bool:
    """A small misspelling of a long word. A caller's or recogniser's slip keeps the word's first
    or last letter; that test is cheap and spares most comparisons."""
    if heard[0] != known[0] and heard[-1] != known[-1]:
        return False
    matcher.set_seq1(heard)
    return (
        matcher.real_quick_ratio() >= FUZZY_RATIO
        and matcher.quick_ratio() >= FUZZY_RATIO
        and matcher.ratio() >= FUZZY_RATIO
    )


@dataclass(frozen=True)
class Evidence:
    category: str
    phrase: str  # as in the lexicon
    heard: str  # the caller's words that matched it


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]
    text: str
    categories: tuple[str, ...]


class Lexicon:
    def __init__(self, phrases: list[Phrase]):
        # Longest first: "token listrik" (informasi) claims its words before "listrik" can.
        self.phrases = sorted(phrases, key=lambda p: -len(p.words))
        self.vocabulary = _Vocabulary({w for p in phrases for w in p.words})

    @classmethod
    def load(cls, path: Path = LEXICON, categories: set[str] | None = None) -> Lexicon:
        data = _load_toml(path)
        entries = data.get("entry")
        if not isinstance(entries, list) or not entries:
            raise DataFileError(f"{path}: entry: at least one [[entry]] is required")
        phrases = []
        for i, entry in enumerate(entries):
            key = f"entry[{i}]"
            cats = entry.get("categories") if isinstance(entry, dict) else None
            texts = entry.get("phrases") if isinstance(entry, dict) else None
            if not _strings(cats):
                raise DataFileError(f"{path}: {key}.categories: must be a list of category ids")
            if not _strings(texts):
                raise DataFileError(f"{path}: {key}.phrases: must be a list of words or phrases")
            unknown = [c for c in cats if categories is not None and c not in categories]
            if unknown:
                raise DataFileError(f"{path}: {key}.categories: unknown category {unknown[0]!r}")
            for text in texts:
                tokens = tuple(words(text))
                if not tokens:
                    raise DataFileError(f"{path}: {key}.phrases: {text!r} has no words")
                phrases.append(Phrase(tokens, text, tuple(cats)))
        return cls(phrases)

    def evidence(self, text: str) -> list[Evidence]:
        heard = words(text)
        # Each distinct word the caller said, against each distinct lexicon word, once.
        means = {h: self.vocabulary.matches(h) for h in set(heard)}
        starts: dict[str, list[int]] = {}
        for i, h in enumerate(heard):
            for w in means[h]:
                starts.setdefault(w, []).append(i)
        used = [False] * len(heard)
        found: list[Evidence] = []
        for phrase in self.phrases:
            n = len(phrase.words)
            for start in starts.get(phrase.words[0], ()):
                span = range(start, start + n)
                if start + n > len(heard) or any(used[i] for i in span):
                    continue
                if all(w in means[heard[i]] for i, w in zip(span, phrase.words, strict=True)):
                    for i in span:
                        used[i] = True
                    said = " ".join(heard[start : start + n])
                    found.extend(Evidence(c, phrase.text, said) for c in phrase.categories)
        return found

    def categories(self, text: str) -> list[str]:
        """Categories the words point to, strongest first (ties: the order the caller said them)."""
        evidence = self.evidence(text)
        order = {e.category: i for i, e in reversed(list(enumerate(evidence)))}
        counts: dict[str, int] = {}
        for e in evidence:
            counts[e.category] = counts.get(e.category, 0) + 1
        return sorted(counts, key=lambda c: (-counts[c], order[c]))


@dataclass(frozen=True)
class Place:
    kecamatan: str
    kelurahan: str | None
    heard: str


@dataclass(frozen=True)
class _Name:
    name: str
    compact: str  # lower case, no spaces or hyphens: "orooro dowo" and "Oro-oro Dowo" meet here
    size: int  # words in the name
    kecamatan: str
    is_kelurahan: bool
    needs_cue: bool


class Gazetteer:
    def __init__(self, names: list[_Name]):
        self.names = names
        self.longest = max(n.size for n in names)
        self.index = _Vocabulary({n.compact for n in names})
        self.by_compact: dict[str, list[_Name]] = {}
        for n in names:
            self.by_compact.setdefault(n.compact, []).append(n)

    @classmethod
    def load(cls, path: Path = GAZETTEER) -> Gazetteer:
        data = _load_toml(path)
        kecamatan = data.get("kecamatan")
        if not isinstance(kecamatan, dict) or not kecamatan:
            raise DataFileError(f"{path}: kecamatan: at least one [kecamatan.<name>] is required")
        needs_cue = data.get("needs_cue", [])
        if not isinstance(needs_cue, list) or not all(isinstance(n, str) for n in needs_cue):
            raise DataFileError(f"{path}: needs_cue: must be a list of place names")
        cue = {"".join(words(n)) for n in needs_cue}
        names = []
        for district, table in kecamatan.items():
            kelurahan = table.get("kelurahan") if isinstance(table, dict) else None
            if not _strings(kelurahan):
                raise DataFileError(f"{path}: kecamatan.{district}.kelurahan: must list names")
            for name, is_kelurahan in [(district, False), *((k, True) for k in kelurahan)]:
                tokens = words(name)
                if not tokens:
                    raise DataFileError(f"{path}: kecamatan.{district}: {name!r} has no letters")
                compact = "".join(tokens)
                names.append(
                    _Name(name, compact, len(tokens), district, is_kelurahan, compact in cue)
                )
        return cls(names)

    def districts(self) -> dict[str, list[str]]:
        """Each kecamatan with its kelurahan, as the data file spells them."""
        found: dict[str, list[str]] = {}
        for n in self.names:
            kelurahan = found.setdefault(n.kecamatan, [])
            if n.is_kelurahan:
                kelurahan.append(n.name)
        return found

    def place(self, text: str) -> Place | None:
        """Where the caller is, from the first place they name (a kelurahan names its kecamatan;
        a name that is both, like Sukun, is the kecamatan unless they said "kelurahan")."""
        heard = words(text)
        best: tuple[int, int, Place] | None = None  # (position, kelurahan first, place)
        names_of: dict[str, list[_Name]] = {}  # each distinct run of words, compared once
        for start in range(len(heard)):
            cue = heard[start - 1] if start else ""
            # Callers split and join compound names: "tlogo mas", "rampalcelaket".
            for size in range(1, min(self.longest + 1, len(heard) - start) + 1):
                said = heard[start : start + size]
                if said[0] in PLACE_CUES:
                    break  # "di dinoyo" is a cue and a name, not a name
                compact = "".join(said)
                if compact not in names_of:
                    names_of[compact] = [
                        n
                        for known in self.index.matches(compact)
                        for n in self.by_compact[known]
                        if abs(n.size - size) <= 1
                    ]
                for name in names_of[compact]:
                    if name.needs_cue and cue not in PLACE_CUES:
                        continue
                    place = self._as_place(name, " ".join(said), cue)
                    rank = (start, 0 if place.kelurahan else 1)
                    if best is None or rank < best[:2]:
                        best = (*rank, place)
            if best is not None:
                return best[2]  # the first place named; later ones are usually directions
        return None

    def _as_place(self, name: _Name, said: str, cue: str) -> Place:
        if not name.is_kelurahan:
            return Place(name.kecamatan, None, said)
        is_district_too = any(not n.is_kelurahan and n.compact == name.compact for n in self.names)
        if is_district_too and cue not in KELURAHAN_CUES:
            return Place(name.kecamatan, None, said)
        return Place(name.kecamatan, name.name, said)


@dataclass(frozen=True)
class Meaning:
    categories: list[str]
    evidence: list[Evidence]
    place: Place | None


def understand(text: str, lexicon: Lexicon, gazetteer: Gazetteer) -> Meaning:
    return Meaning(lexicon.categories(text), lexicon.evidence(text), gazetteer.place(text))


def _strings(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise DataFileError(f"{path}: cannot be read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise DataFileError(f"{path}: not valid TOML: {e}") from None
