"""Who may read an instance's recordings and call records: the owner alone by default; with
`asterisk.shared_group` (Asterisk and the controller as two users, deploy/systemd) that group too."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from callcenter.config import ConfigError, load
from callcenter.telephony.asterisk import _close_to_others
from tests.centre import REPO


def config_with(tmp_path: Path, group: str):
    text = (REPO / "callcenter.example.toml").read_text()
    assert 'shared_group = ""\n' in text
    text = text.replace('shared_group = ""\n', f'shared_group = "{group}"\n', 1)
    path = tmp_path / "callcenter.toml"
    path.write_text(text)
    return load(path, env={})


def directories(tmp_path: Path) -> tuple[Path, ...]:
    made = tuple(tmp_path / name for name in ("instance", "recordings", "log"))
    for directory in made:
        directory.mkdir(mode=0o777)
    return made


def test_without_a_shared_group_only_the_owner_reads(tmp_path: Path) -> None:
    config = config_with(tmp_path, "")
    made = directories(tmp_path)
    _close_to_others(config, made)
    assert {stat.S_IMODE(d.stat().st_mode) for d in made} == {0o700}


def test_a_shared_group_reads_and_new_files_inherit_it(tmp_path: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    config = config_with(tmp_path, group)
    made = directories(tmp_path)
    _close_to_others(config, made)
    for directory in made:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o2750
        assert directory.stat().st_gid == os.getgid()


@pytest.mark.parametrize("group", ["wheel; rm -rf /", "../etc", "a" * 41, "grup ngalam"])
def test_a_group_that_is_no_name_stops_start_up(tmp_path: Path, group: str) -> None:
    with pytest.raises(ConfigError, match=r"asterisk\.shared_group"):
        config_with(tmp_path, group)
