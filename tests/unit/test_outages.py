"""The outage state (supervision/outages.py), the Asterisk keeper's restart delays and the words
for an exit (telephony/asterisk.py), and who on the live feed is told of an outage."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.live.messages import OutageChanged
from callcenter.supervision.outages import Outages, Part
from callcenter.telephony.asterisk import RestartDelays, how_it_ended
from callcenter.web import live
from callcenter.web.access import Role
from callcenter.web.auth import login
from callcenter.web.live import LiveFeed, Viewer, message_of
from tests.integration.test_live_feed import feed_app, feed_of
from tests.unit.fakes import routing_config

WIB = ZoneInfo("Asia/Jakarta")
# 09:31 in Malang.
AT = datetime(2025, 3, 4, 2, 31, 12, tzinfo=UTC)


def outages() -> tuple[Outages, list[OutageChanged]]:
    published: list[OutageChanged] = []
    return Outages(published.append, WIB), published


def parts(message: OutageChanged) -> list[str]:
    return [d["part"] for d in message.down]


def test_a_part_going_down_is_published_once_with_since_when(caplog):
    state, published = outages()
    with caplog.at_level(logging.ERROR, "callcenter.supervision.outages"):
        state.down(Part.ASTERISK, "Asterisk killed by SIGKILL", at=AT)
    assert len(published) == 1
    (down,) = published[0].down
    assert down == {
        "part": "asterisk",
        "since": AT.isoformat(),
        "reason": "Asterisk killed by SIGKILL",
        "text": "GANGGUAN: Asterisk mati sejak 09:31 — panggilan 112 tidak masuk",
    }
    assert "OUTAGE: asterisk is down: Asterisk killed by SIGKILL" in caplog.text

    # Reported again (the health check sees it too): the same outage, since the first time.
    state.down(Part.ASTERISK, "down: killed by SIGKILL", at=AT + timedelta(seconds=5))
    state.report(Part.ASTERISK, "down: killed by SIGKILL")
    assert len(published) == 1
    assert state.now().down == published[0].down


def test_every_part_down_is_in_each_message_until_all_are_back(caplog):
    state, published = outages()
    state.down(Part.ASTERISK, "killed", at=AT)
    state.down(Part.AMI, "AMI connection lost", at=AT + timedelta(seconds=1))
    assert parts(published[-1]) == ["asterisk", "ami"]
    assert published[-1].down[1]["text"].startswith("GANGGUAN: Sambungan ke Asterisk (AMI) putus")

    with caplog.at_level(logging.WARNING, "callcenter.supervision.outages"):
        state.up(Part.ASTERISK, at=AT + timedelta(seconds=9))
    assert parts(published[-1]) == ["ami"]
    assert "outage over: asterisk is back after 9 s" in caplog.text
    state.report(Part.AMI, "ok")
    assert published[-1].down == ()
    assert len(published) == 4

    # A part that was not down coming "back" is no news.
    state.up(Part.DATABASE)
    state.report(Part.SPEECH, "ok")
    assert len(published) == 4


@pytest.mark.parametrize(
    ("part", "words"),
    [
        (Part.DATABASE, "GANGGUAN: Basis data tidak dapat dihubungi sejak 09:31 — tiket"),
        (Part.SPEECH, "GANGGUAN: Pengenalan suara mati sejak 09:31 — tanpa transkrip"),
    ],
)
def test_each_part_has_its_banner_words(part, words):
    state, published = outages()
    state.down(part, "error: OperationalError", at=AT)
    assert published[-1].down[0]["text"].startswith(words)


def test_a_long_reason_is_cut():
    state, published = outages()
    state.down(Part.DATABASE, "x" * 5000)
    assert len(published[-1].down[0]["reason"]) == 200


def test_restart_delays_double_while_asterisk_keeps_dying_and_reset_after_a_long_run():
    delays = RestartDelays(low=1.0, high=8.0, stable=120.0)
    # Dies within seconds of every start: 1, 2, 4, 8, then no longer than 8.
    assert [delays.after(ran=3.0) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    # Ran a good while before this exit: at once-ish again.
    assert delays.after(ran=600.0) == 1.0
    assert delays.after(ran=0.0) == 2.0  # the restart did not even boot: keep backing off


def test_how_asterisk_ended_is_said_plainly():
    assert how_it_ended(-9) == "killed by SIGKILL"
    assert how_it_ended(-11) == "killed by SIGSEGV"
    assert how_it_ended(1) == "exited with status 1"
    assert how_it_ended(0) == "exited with status 0"
    assert how_it_ended(-200) == "killed by signal 200"


@pytest.mark.parametrize(
    ("role", "told"),
    [(Role.CALLTAKER, True), (Role.SUPERVISOR, True), (Role.ADMIN, True), (Role.AGENCY, False)],
)
def test_the_desk_and_the_board_are_told_of_an_outage_agencies_are_not(tmp_path, role, told):
    state, published = outages()
    state.down(Part.ASTERISK, "killed", at=AT)
    feed = LiveFeed(Viewer("someone", role, "polresta"), routing_config(tmp_path))
    assert feed.sees(published[-1]) is told
    message = message_of(published[-1])
    assert message is not None
    assert message["type"] == "outage"
    assert message["down"][0]["part"] == "asterisk"


async def test_a_console_opened_during_an_outage_is_told_of_it_first(tmp_path):
    app, bus, records = await feed_app(tmp_path, queue_size=10)
    state = Outages(bus.publish, WIB)
    state.down(Part.ASTERISK, "Asterisk killed by SIGKILL", at=AT)
    app[live.OUTAGES] = state.now
    _user, token = await login(records.accounts, "petugas", "kata-sandi-uji")
    async with TestClient(TestServer(app)) as client:
        socket = await feed_of(client, token)
        first = await socket.receive_json(timeout=5)
        assert (first["seq"], first["type"]) == (1, "outage")
        assert [d["part"] for d in first["down"]] == ["asterisk"]
        assert first["down"][0]["text"].startswith("GANGGUAN: Asterisk mati sejak 09:31")
        # Asterisk is back: the banner's end comes the same way.
        state.up(Part.ASTERISK)
        second = await socket.receive_json(timeout=5)
        assert (second["seq"], second["type"], second["down"]) == (2, "outage", [])
        await socket.close()
    await records.engine.dispose()
