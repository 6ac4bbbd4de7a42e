"""Fakes for unit tests of pure logic: a scripted caller on a fake channel and a fake telephony
port (the repositories are real: tests/records.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from callcenter.config import Agency, Config, load
from callcenter.routing.dispatch import Ringing


class FakeChannel:
    """The call an AGI route is handed: its identity and its channel variables."""

    def __init__(self, unique_id: str = "test-1.1", variables: dict[str, str] | None = None):
        self.unique_id = unique_id
        self.channel_name = "PJSIP/9001-00000001"
        self.linked_id = unique_id
        self.caller_number: str | bytes = "081234567890"
        self.caller_name: str | bytes = "Penelepon"
        self.variables: dict[str, str] = dict(variables or {})

    async def get_variable(self, name: str) -> str:
        return self.variables.get(name, "")

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value


@dataclass
class FakeTelephony:
    """Agency targets answer or not as scripted; records what the dispatcher asked for."""

    answers: dict[str, Ringing] = field(default_factory=dict)
    joined: list[tuple[str, str, str]] = field(default_factory=list)
    rung: list[tuple[str, str, str]] = field(default_factory=list)

    async def join_conference(
        self, caller_channel: str, calltaker_channel: str, conference: str
    ) -> None:
        self.joined.append((caller_channel, calltaker_channel, conference))

    async def ring_into_conference(
        self, target: str, conference: str, leg_id: str, timeout: int, caller_id: str
    ) -> Ringing:
        self.rung.append((target, conference, leg_id))
        return self.answers.get(target, Ringing(False, "no-answer", "reason 3"))


CONFIG_TOML = """
[ivr]
default_agency = "polresta"

[[agencies]]
id = "polresta"
name = "Polresta Malang Kota"
categories = ["police", "public-order"]
primary = "PJSIP/7001"
backup = "PJSIP/7002"
ring_timeout = 5

[[agencies]]
id = "pmi"
name = "PMI Kota Malang"
categories = ["ambulance"]
primary = "PJSIP/7003"

[[agencies]]
id = "pln"
name = "PLN UP3 Malang"
categories = ["electricity"]
primary = "PJSIP/0341123@telkom"

[[agencies]]
id = "bpbd"
name = "BPBD Kota Malang"
categories = ["fire"]
primary = "PJSIP/7005"
"""


def routing_config(tmp_path: Path) -> Config:
    path = tmp_path / "routing.toml"
    path.write_text(CONFIG_TOML)
    return load(path, env={})


def agency(config: Config, agency_id: str) -> Agency:
    found = config.agency(agency_id)
    assert found is not None
    return found
