"""Whom the FastAGI server serves (issue 15, finding 4): this instance's Asterisk, for a channel it
has. The check on its own (Asterisk's answer scripted), then the server over a loopback socket."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from callcenter.config.model import AsteriskConfig
from callcenter.telephony.agi import AgiTrust, FastAgiServer, asterisk_has_channel
from callcenter.telephony.channel import Channel

KEY = AsteriskConfig(ami_secret="rahasia-ami-uji-1234").agi_key
CHANNEL = "PJSIP/9001-0000002a"
UNIQUE_ID = "1732261234.12"


class Asterisk:
    """Asterisk's answer to "do you have this channel?", and each time it was asked."""

    def __init__(self, has: bool | Exception = True):
        self.has = has
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, channel: str, unique_id: str) -> bool:
        self.asked.append((channel, unique_id))
        if isinstance(self.has, Exception):
            raise self.has
        return self.has


def request(key: str | None = KEY, **headers: str) -> dict[str, str]:
    fields = {
        "agi_network_script": "overflow",
        "agi_channel": CHANNEL,
        "agi_uniqueid": UNIQUE_ID,
        "agi_callerid": "0341123456",
        **headers,
    }
    if key is not None:
        fields["agi_arg_1"] = key
    return fields


async def test_asterisk_with_the_key_for_a_channel_it_has_is_served():
    asterisk = Asterisk()
    assert await AgiTrust(KEY, asterisk).refusal(request()) is None
    assert asterisk.asked == [(CHANNEL, UNIQUE_ID)]


@pytest.mark.parametrize(
    "key",
    [
        None,
        "",
        KEY[:-1],
        KEY + "0",
        KEY.upper(),
        " " + KEY,
        "x" * len(KEY),
        KEY[:-1] + "\udcff",  # a non-UTF-8 byte, as the headers are decoded
        "ü" * len(KEY),
    ],
    ids=range(9),
)
async def test_without_the_exact_key_nothing_is_asked_and_nothing_served(key):
    asterisk = Asterisk()
    refusal = await AgiTrust(KEY, asterisk).refusal(request(key))
    assert refusal == "no key or a wrong key"
    assert asterisk.asked == []


@pytest.mark.parametrize(
    "headers",
    [
        {"agi_uniqueid": ""},
        {"agi_uniqueid": "1" * 65},
        {"agi_uniqueid": "1.2 3"},
        {"agi_uniqueid": "../../etc/passwd"},
        {"agi_channel": ""},
        {"agi_channel": "PJSIP/9001 x"},
        {"agi_channel": "PJSIP/9001\rAction: Originate"},
        {"agi_channel": "P" * 257},
    ],
    ids=range(8),
)
async def test_with_the_key_a_malformed_channel_is_refused_before_asterisk_is_asked(headers):
    asterisk = Asterisk()
    refusal = await AgiTrust(KEY, asterisk).refusal(request(**headers))
    assert refusal == "not a channel name and unique id"
    assert asterisk.asked == []


async def test_with_the_key_a_channel_asterisk_does_not_have_is_refused():
    refusal = await AgiTrust(KEY, Asterisk(has=False)).refusal(request())
    assert refusal == "a channel Asterisk does not have"


async def test_when_asterisk_cannot_be_asked_the_request_is_refused():
    refusal = await AgiTrust(KEY, Asterisk(has=ConnectionError("AMI down"))).refusal(request())
    assert refusal is not None and "could not ask Asterisk" in refusal


def test_there_is_no_trust_without_a_key():
    with pytest.raises(ValueError):
        AgiTrust("", Asterisk())


def test_the_key_is_the_instances_own_and_gives_nothing_of_the_ami_secret():
    one = AsteriskConfig(ami_secret="rahasia-ami-uji-1234").agi_key
    assert one == KEY and len(one) == 64 and int(one, 16) >= 0
    assert AsteriskConfig(ami_secret="rahasia-ami-uji-1235").agi_key != one
    assert "rahasia" not in one


class Ami:
    """The AMI client as asterisk_has_channel uses it: one Getvar, Asterisk's reply scripted."""

    def __init__(self, reply: Any):
        self.reply = reply
        self.sent: list[dict[str, str]] = []

    async def send(self, action: dict[str, str], *, single: bool = False) -> Any:
        assert single
        self.sent.append(action)
        return self.reply


class Reply(dict[str, str]):
    def __init__(self, success: bool, **fields: str):
        super().__init__(fields)
        self.success = success


@pytest.mark.parametrize(
    "reply,has",
    [
        (Reply(True, Value=UNIQUE_ID), True),
        (Reply(True, Value="1732261234.13"), False),  # that name is another call's channel
        (Reply(True, Value=""), False),
        (Reply(False, Message="No such channel"), False),
    ],
    ids=range(4),
)
async def test_asterisk_is_asked_for_the_unique_id_of_the_channel_named(reply, has):
    ami = Ami(reply)
    assert await asterisk_has_channel(ami)(CHANNEL, UNIQUE_ID) is has  # type: ignore[arg-type]
    assert ami.sent == [{"Action": "Getvar", "Channel": CHANNEL, "Variable": "UNIQUEID"}]


# ---- the server: the check runs before any route, in one place ---------------------------------


async def _serve_one(asterisk: Asterisk, headers: dict[str, str]) -> tuple[list[str], bytes]:
    """Run the FastAGI server on loopback, send it one request; the routes that ran, and every
    byte the server sent back before it closed the connection."""
    ran: list[str] = []

    async def overflow(channel: Channel) -> None:
        ran.append(channel.unique_id)

    server = FastAgiServer({"overflow": overflow}, AgiTrust(KEY, asterisk))
    await server.start("127.0.0.1", 0)
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write("".join(f"{k}: {v}\n" for k, v in headers.items()).encode() + b"\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    finally:
        await server.stop()
    return ran, answer


async def test_the_server_runs_the_route_for_asterisk():
    ran, answer = await _serve_one(Asterisk(), request())
    assert ran == [UNIQUE_ID]
    assert answer == b""


@pytest.mark.parametrize(
    "asterisk,key",
    [(Asterisk(), None), (Asterisk(), "x" * 64), (Asterisk(has=False), KEY)],
    ids=["no key", "wrong key", "unknown channel"],
)
async def test_the_server_refuses_a_stranger_says_nothing_and_logs_who(asterisk, key, caplog):
    with caplog.at_level(logging.WARNING, logger="callcenter.telephony.agi"):
        ran, answer = await _serve_one(asterisk, request(key))
    assert ran == []
    assert answer == b""  # closed without a command: no HANGUP for a real call's channel
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and refused[0].levelno == logging.WARNING
    assert "127.0.0.1" in refused[0].getMessage() and UNIQUE_ID in refused[0].getMessage()
