import pytest

from callcenter.config import ConfigError, load, normalise_database_url, require_secrets


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
