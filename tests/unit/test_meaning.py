"""Words to meaning on Indonesian and Javanese sentences (the real data files), and bad data files."""

from __future__ import annotations

import tomllib

import pytest

from callcenter.config import default_categories
from callcenter.speech.meaning import (
    GAZETTEER,
    LEXICON,
    DataFileError,
    Gazetteer,
    Lexicon,
    Place,
    understand,
    words,
)


@pytest.fixture(scope="module")
def lexicon():
    return Lexicon.load(categories=set(default_categories()))


@pytest.fixture(scope="module")
def gazetteer():
    return Gazetteer.load()


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        ("Tolong, rumah tetangga saya kebakaran!", ["fire"]),
        ("ada api besar di pasar", ["fire"]),
        ("gudangnya terbakar, asapnya hitam", ["fire"]),
        ("omahku kobong", ["fire"]),  # jv
        ("ada kecelakaan di perempatan", ["police", "ambulance"]),
        ("tabrakan motor sama truk", ["police", "ambulance"]),
        ("bapak saya pingsan di kamar mandi", ["ambulance"]),
        ("ibu saya sesak napas", ["ambulance"]),
        ("istri saya mau melahirkan, ketuban pecah", ["ambulance"]),
        ("listrik padam sejak sore", ["electricity"]),
        ("kabel putus jatuh ke jalan", ["electricity"]),
        ("korsleting di rumah sebelah", ["electricity"]),
        ("ada pohon tumbang menutup jalan", ["fire"]),  # disasters go to BPBD with fires
        ("banjir sampai lutut", ["fire"]),
        ("longsor di belakang rumah", ["fire"]),
        ("saya dibegal tadi malam", ["police"]),
        ("ada maling masuk rumah", ["police"]),
        ("anak sekolah tawuran", ["police"]),
        ("wong edan ngamuk nang pasar", ["public-order"]),  # jv
        ("mau tanya cara beli token listrik", ["informasi"]),
        ("selamat siang", []),
    ],
)
def test_words_point_to_categories(lexicon, text, categories):
    assert lexicon.categories(text) == categories


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("kebakran", "fire"),  # a caller's or a recogniser's slip
        ("kbakaran", "fire"),
        ("kecelakan", "police"),
        ("pinsan", "ambulance"),
        ("korsletting", "electricity"),
        ("kebakarane", "fire"),  # jv suffix
        ("malingnya", "police"),
        ("TOLOOONG KEBAKARAN", "fire"),
    ],
)
def test_misspellings_and_suffixes_still_match(lexicon, text, category):
    assert category in lexicon.categories(text)


@pytest.mark.parametrize(
    "text",
    [
        "saya tinggal di Malang",  # Malang is not maling
        "tapi tidak apa apa",  # tapi is not api
        "sudah aman sekarang",
    ],
)
def test_similar_everyday_words_do_not_match(lexicon, text):
    assert lexicon.categories(text) == []


def test_the_longer_phrase_claims_its_words(lexicon):
    # "token listrik" is a question about electricity tokens, not a power fault.
    assert lexicon.categories("token listrik habis") == ["informasi"]
    evidence = lexicon.evidence("kabel putus di depan rumah")
    assert [(e.category, e.heard) for e in evidence] == [("electricity", "kabel putus")]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("omahku kebakaran nang Sukun", Place("Sukun", None, "sukun")),
        ("kecelakaan di Jalan Dinoyo", Place("Lowokwaru", "Dinoyo", "dinoyo")),
        ("banjir di sawo jajar", Place("Kedungkandang", "Sawojajar", "sawo jajar")),
        ("kabel putus dekat Tlogo Mas", Place("Lowokwaru", "Tlogomas", "tlogo mas")),
        ("maling nang orooro dowo", Place("Klojen", "Oro-oro Dowo", "orooro dowo")),
        ("rumah roboh di Rampal Celaket", Place("Klojen", "Rampal Celaket", "rampal celaket")),
        ("ada tawuran di kelurahan Sukun", Place("Sukun", "Sukun", "sukun")),
        ("pohon tumbang di Mergosari", Place("Lowokwaru", "Merjosari", "mergosari")),  # slip
        ("kebakaran ning kecamatan Blimbing", Place("Blimbing", None, "blimbing")),
        ("ada pencurian di daerah Bareng", Place("Klojen", "Bareng", "bareng")),
        # The first place named; later ones are usually directions.
        ("di Dinoyo, dekat Sumbersari", Place("Lowokwaru", "Dinoyo", "dinoyo")),
    ],
)
def test_places_in_kota_malang(gazetteer, text, place):
    assert gazetteer.place(text) == place


@pytest.mark.parametrize(
    "text",
    [
        "kita berangkat bareng bareng",  # bareng = together, not the kelurahan
        "saya makan sukun goreng",  # sukun = breadfruit
        "saya di Surabaya",
        "",
    ],
)
def test_no_place_without_one(gazetteer, text):
    assert gazetteer.place(text) is None


def test_the_issue_example_understood(lexicon, gazetteer):
    meaning = understand("omahku kebakaran nang Sukun", lexicon, gazetteer)
    assert meaning.categories == ["fire"]
    assert meaning.place == Place("Sukun", None, "sukun")
    assert [e.heard for e in meaning.evidence] == ["kebakaran"]


def test_the_gazetteer_is_kota_malang():
    data = tomllib.loads(GAZETTEER.read_text())
    kelurahan = [k for d in data["kecamatan"].values() for k in d["kelurahan"]]
    assert sorted(data["kecamatan"]) == [
        "Blimbing",
        "Kedungkandang",
        "Klojen",
        "Lowokwaru",
        "Sukun",
    ]
    assert len(kelurahan) == 57 and len(set(kelurahan)) == 57


def test_the_lexicon_only_names_configured_categories():
    # Loading with the default categories raises on an unknown one.
    Lexicon.load(LEXICON, categories=set(default_categories()))


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02 kebakaran \u202e\u200b",
        "🔥🔥🔥 kebakaran 🔥",
        "k" * 100_000,
        "kebakaran " * 50_000,
        "ẞ ǅ ﬁ ① ⅷ",
    ],
)
def test_hostile_text_gives_an_answer(lexicon, gazetteer, text):
    meaning = understand(text, lexicon, gazetteer)
    assert isinstance(meaning.categories, list)
    assert len(words(text)) <= 5000


def _lexicon(path):
    return Lexicon.load(path, categories=set(default_categories()))


@pytest.mark.parametrize(
    ("load", "content", "key"),
    [
        (_lexicon, "not [valid toml", "not valid TOML"),
        (_lexicon, "", "entry"),
        (_lexicon, "[[entry]]\nphrases = ['api']\n", "entry[0].categories"),
        (_lexicon, "[[entry]]\ncategories = ['fire']\nphrases = 'api'\n", "entry[0].phrases"),
        (
            _lexicon,
            "[[entry]]\ncategories = ['banjir']\nphrases = ['air']\n",
            "unknown category 'banjir'",
        ),
        (_lexicon, "[[entry]]\ncategories = ['fire']\nphrases = ['!!!']\n", "has no words"),
        (Gazetteer.load, "", "kecamatan"),
        (Gazetteer.load, "[kecamatan.Sukun]\n", "kecamatan.Sukun.kelurahan"),
        (
            Gazetteer.load,
            "needs_cue = 'Sukun'\n[kecamatan.Sukun]\nkelurahan = ['Sukun']\n",
            "needs_cue",
        ),
        (Gazetteer.load, "[kecamatan.Sukun]\nkelurahan = ['---']\n", "has no letters"),
    ],
)
def test_a_bad_data_file_names_file_and_key(tmp_path, load, content, key):
    path = tmp_path / "data.toml"
    path.write_text(content)
    with pytest.raises(DataFileError) as e:
        load(path)
    assert str(path) in str(e.value) and key in str(e.value)


def test_a_missing_data_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataFileError, match="cannot be read"):
        Gazetteer.load(tmp_path / "nope.toml")
