import pytest

from callcenter.config import (
    ConfigError,
    load,
    normalise_database_url,
    require_routing,
    require_secrets,
)
from callcenter.routing.agencies import agency_for
from tests.unit.fakes import CONFIG_TOML, routing_config


def write(tmp_path, text: str | bytes):
    path = tmp_path / "callcenter.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def error_of(path, env=None) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load(path, env=env or {})
    return e.value


@pytest.mark.parametrize(
    "text,key",
    [
        ("[asterisk]\nami_port = 'x'\n", "asterisk.ami_port"),
        ("[asterisk]\nami_port = 70000\n", "asterisk.ami_port"),
        ("[asterisk]\nbind = 'not an ip'\n", "asterisk.bind"),
        ("[asterisk]\nnope = 1\n", "asterisk.nope"),
        ("surprise = 1\n", "surprise"),
        ("asterisk = 3\n", "asterisk"),
        ("[asterisk]\ninstance = '../etc'\n", "asterisk.instance"),
        ("[[calltakers]]\nextension = '112'\nname = 'x'\n", "calltakers[0].extension"),
        ("[[calltakers]]\nextension = '2001'\n", "calltakers[0].name"),
        ("[[calltakers]]\nextension = '2001'\nname = \"a\\nb\"\n", "calltakers[0].name"),
        (
            "[[calltakers]]\nextension = '2001'\nname = 'a'\n"
            "[[test_callers]]\nextension = '2001'\nname = 'b'\n",
            "test_callers extension 2001",
        ),
        ("[asterisk]\nami_secret = 'abc\\n[evil]'\n", "asterisk.ami_secret"),
        ("[speech]\nmodel_path = 3\n", "speech.model_path"),
        ("[speech]\nmax_seconds = 0\n", "speech.max_seconds"),
        ("[speech]\nmodle_path = '/m'\n", "speech.modle_path"),
        # A trailing newline would end a line of Asterisk's config early.
        ('[queue]\nname = "calltakers\\n"\n', "queue.name"),
        ("[[calltakers]]\nextension = \"2001\\n\"\nname = 'a'\n", "calltakers[0].extension"),
        (
            "[[calltakers]]\nextension = '2001'\nname = 'a'\nusername = 'x y'\n",
            "calltakers[0].username",
        ),
        (
            "[[calltakers]]\nextension = '2001'\nname = 'a'\nusername = 'p'\n"
            "[[calltakers]]\nextension = '2002'\nname = 'b'\nusername = 'p'\n",
            "calltakers[1].username",
        ),
        (
            "[[test_callers]]\nextension = '9001'\nname = 'a'\nusername = 'p'\n",
            "test_callers[0].username",
        ),
        ("[queue]\npause_reasons = []\n", "queue.pause_reasons"),
        ("[queue]\npause_reasons = ['tidur siang']\n", "queue.pause_reasons"),
        ("[queue]\nwrapup_time = 9000\n", "queue.wrapup_time"),
        ("timezone = 'Mars/Olympus'\n", "timezone"),
        ("timezone = '../../etc/passwd'\n", "timezone"),
        ("timezone = 7\n", "timezone"),
        ("[prank_policy]\nlevels = []\n", "prank_policy.levels"),
        ("[prank_policy]\nlevels = [3, -1]\n", "prank_policy.levels"),
        ("[prank_policy]\nlevels = [true]\n", "prank_policy.levels"),
        ("[prank_policy]\nwarning_prompt = '../x'\n", "prank_policy.warning_prompt"),
        ("[callbacks]\ndial = 'PJSIP/0341'\n", "callbacks.dial"),
        ("[callbacks]\ndial = 'PJSIP/{number},60,tT'\n", "callbacks.dial"),
        ("[callbacks]\ndial = 'System(rm -rf /){number}'\n", "callbacks.dial"),
    ],
)
def test_bad_config_names_the_key_and_file(tmp_path, text, key):
    path = write(tmp_path, text)
    err = error_of(path)
    assert err.key == key
    assert str(path) in str(err)


def test_not_toml_and_not_utf8(tmp_path):
    assert "not valid TOML" in str(error_of(write(tmp_path, "[asterisk\n")))
    assert "not UTF-8" in str(error_of(write(tmp_path, b"\xff\xfe = 1")))
    assert "file not found" in str(error_of(tmp_path / "missing.toml"))


def test_secrets_come_from_the_environment_and_are_required(tmp_path):
    path = write(tmp_path, "[[calltakers]]\nextension = '2001'\nname = 'Petugas'\n")
    config = load(path, env={})
    with pytest.raises(ConfigError, match="NGALAM_AMI_SECRET"):
        require_secrets(config)
    config = load(path, env={"NGALAM_AMI_SECRET": "s" * 16})
    with pytest.raises(ConfigError, match="NGALAM_SIP_SECRET_2001"):
        require_secrets(config)
    config = load(path, env={"NGALAM_AMI_SECRET": "s" * 16, "NGALAM_SIP_SECRET_2001": "p" * 16})
    require_secrets(config)
    assert config.calltakers[0].secret == "p" * 16


def test_database_url_from_environment(tmp_path):
    config = load(None, env={"DATABASE_URL": "postgresql://u:p@db/ngalam"})
    assert config.database.url == "postgresql+asyncpg://u:p@db/ngalam"
    assert normalise_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"


AGENCY = "[[agencies]]\nid = 'polresta'\nname = 'Polresta'\ncategories = ['police']\n"


@pytest.mark.parametrize(
    "text,key,words",
    [
        ("[ivr.menu]\npolisi = '1'\n", "ivr.menu.polisi", "unknown category"),
        ("[ivr.menu]\npolice = '1'\nfire = '1'\n", "ivr.menu.fire", "already ivr.menu.police"),
        ("[ivr.menu]\npolice = '12'\n", "ivr.menu.police", "one key"),
        ("[ivr.menu]\npolice = 1\n", "ivr.menu.police", "must be str"),
        (AGENCY, "agencies[0].primary", "dial target is required"),
        (AGENCY + "primary = ''\n", "agencies[0].primary", "dial target is required"),
        (AGENCY + "primary = 'PJSIP/7001,30,tTL(1)'\n", "agencies[0].primary", "not a dial"),
        (AGENCY + "primary = 'PJSIP/7001'\nbackup = 'x&y'\n", "agencies[0].backup", "not a dial"),
        (
            "[[agencies]]\nid = 'a'\nname = 'A'\ncategories = ['tsunami']\nprimary = 'PJSIP/1'\n",
            "agencies[0].categories",
            "unknown category",
        ),
        (
            AGENCY + "primary = 'PJSIP/7001'\nring_timeout = 0\n",
            "agencies[0].ring_timeout",
            "3-120",
        ),
        (
            AGENCY + "primary = 'PJSIP/1'\n" + AGENCY + "primary = 'PJSIP/2'\n",
            "agencies[1].id",
            "dup",
        ),
        ("[ivr]\nsilent_key = '5a'\n", "ivr.silent_key", "digits"),
        ("[ivr]\nsilent_key = '5²'\n", "ivr.silent_key", "digits"),
        ("[ivr]\nsilent_priority = 101\n", "ivr.silent_priority", "0-100"),
        ("[ivr]\ninformation_prompts = ['../../etc/passwd']\n", "ivr.information_prompts", "not"),
        ("[categories.calltaker]\nname = 'x'\n", "categories.calltaker", "reserved"),
        ("[categories.police]\npriority = 1000\n", "categories.police.priority", "0-100"),
    ],
)
def test_bad_routing_config_names_the_key_and_file(tmp_path, text, key, words):
    path = write(tmp_path, text)
    err = error_of(path)
    assert err.key == key
    assert str(path) in str(err)
    assert words in str(err)


def test_duplicate_digit_as_toml_keys_is_refused_with_the_file_named(tmp_path):
    # Written the other way round (digit = category) TOML itself refuses the second key.
    path = write(tmp_path, "[ivr.menu]\npolice = '1'\n'police' = '2'\n")
    err = error_of(path)
    assert str(path) in str(err) and "not valid TOML" in str(err)


def test_every_emergency_category_needs_an_agency(tmp_path):
    path = write(tmp_path, AGENCY + "primary = 'PJSIP/7001'\n[ivr]\ndefault_agency = 'polresta'\n")
    with pytest.raises(ConfigError) as e:
        require_routing(load(path, env={}))
    assert e.value.key == "categories.ambulance"
    assert "no agency serves it" in str(e.value)


def test_default_agency_must_exist(tmp_path):
    config = routing_config(tmp_path)
    config.ivr.default_agency = "damkar"
    with pytest.raises(ConfigError) as e:
        require_routing(config)
    assert e.value.key == "ivr.default_agency"


def test_an_agency_is_a_config_change_only(tmp_path):
    satpol = """
[[agencies]]
id = "satpolpp"
name = "Satpol PP Kota Malang"
categories = ["public-order"]
primary = "PJSIP/7004"
"""
    config = load(write(tmp_path, CONFIG_TOML + satpol), env={})
    require_routing(config)
    assert [a.id for a in config.agencies if "public-order" in a.categories] == [
        "polresta",
        "satpolpp",
    ]


def test_the_example_config_is_complete_and_valid(repo):
    config = load(repo / "callcenter.example.toml", env={})
    require_routing(config)
    assert {a.id for a in config.agencies} >= {"polresta", "pmi", "pln", "satpolpp", "bpbd"}
    assert agency_for(config, "fire").id == "bpbd"
    assert agency_for(config, None).id == config.ivr.default_agency


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # Every caller joins at 1: an emergency at 1 would not move up when its key is pressed.
        (
            "[ivr.menu]\npolice = '1'\n[categories.police]\nname = 'Polisi'\npriority = 1\n",
            "categories.police.priority",
        ),
        ("[ivr]\nsilent_priority = 3\n", "ivr.silent_priority"),  # ties with ambulance and fire
    ],
)
def test_priorities_must_let_a_key_move_the_caller_up(tmp_path, text, key):
    assert error_of(write(tmp_path, text)).key == key
