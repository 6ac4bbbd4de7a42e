"""Outbound webhooks (routing/webhooks.py) against real HTTP receivers on 127.0.0.1: signed
payloads arrive, in order per agency, through a receiver that is down, failing or hanging, and a
bad receiver for one agency delays nothing for another. No Asterisk needed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from callcenter.routing.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSender,
    retry_delay,
    sign,
    verify,
)
from tests.waiting import until_async

SECRET = "rahasia-polresta"
# Retries within the test's patience: 20 ms, 40 ms, … capped at 100 ms.
QUICK = {"backoff_base": 0.02, "backoff_cap": 0.1, "timeout": 30.0}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> object:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An agency's HTTP endpoint. `answer` decides the status of each request (None: hang until
    released); every request is kept, answered or not, in arrival order."""

    answer: Callable[[Received], int | None] = lambda r: 200
    requests: list[Received] = field(default_factory=list)
    answered: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.Response:
        received = Received(dict(request.headers), await request.read())
        self.requests.append(received)
        status = self.answer(received)
        if status is None:
            await self.release.wait()
            status = 200
        if status == 200:
            self.answered.append(received)
        return web.Response(status=status)

    async def start(self, port: int | None = None) -> str:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.server = TestServer(app, host="127.0.0.1", port=port)
        await self.server.start_server()
        return str(self.server.make_url("/hook"))

    def delivered(self) -> list[object]:
        return [r.payload for r in self.answered]

    async def close(self) -> None:
        self.release.set()
        if self.server is not None:
            await self.server.close()


@pytest.fixture
async def receivers() -> AsyncIterator[Callable[..., Awaitable[tuple[Receiver, str]]]]:
    started: list[Receiver] = []

    async def start(answer=lambda r: 200, port=None):
        receiver = Receiver(answer)
        started.append(receiver)
        return receiver, await receiver.start(port)

    yield start
    for receiver in started:
        await receiver.close()


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    sender = WebhookSender(**QUICK)
    yield sender
    await sender.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def holds(condition: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    async def check() -> object:
        return condition()

    return check


def signed_by(received: Received, secret: str) -> bool:
    return verify(
        secret,
        received.headers[TIMESTAMP_HEADER],
        received.body,
        received.headers[SIGNATURE_HEADER],
    )


async def test_a_live_receiver_gets_each_payload_signed(sender, receivers):
    receiver, url = await receivers()
    payloads = [
        {"ticket": 7, "status": "assigned"},
        {"ticket": 7, "status": "acknowledged", "note": '"<&>\'" ß 🚑'},
        {"ticket": 8, "status": "assigned"},
    ]
    ids = [sender.send("polresta", url, SECRET, p) for p in payloads]

    await until_async(holds(lambda: len(receiver.answered) == 3), message="3 payloads expected")
    assert receiver.delivered() == payloads
    for received, event_id in zip(receiver.answered, ids, strict=True):
        assert received.headers[EVENT_ID_HEADER] == event_id
        assert received.headers["Content-Type"].startswith("application/json")
        assert signed_by(received, SECRET)
        assert not signed_by(received, "rahasia-lain")
        # The signature is what the README tells receivers: HMAC-SHA256 of "<timestamp>.<body>".
        signed = received.headers[TIMESTAMP_HEADER].encode() + b"." + received.body
        digest = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert received.headers[SIGNATURE_HEADER] == f"sha256={digest}"
    assert len(set(ids)) == 3
    assert sender.stats("polresta").delivered == 3


async def test_a_receiver_that_is_down_gets_the_payload_once_it_comes_up(sender, receivers):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    event_id = sender.send("pmi", url, SECRET, {"ticket": 9, "status": "assigned"})
    # Connections are refused for a while: the sender keeps trying.
    await until_async(holds(lambda: sender.stats("pmi").attempts >= 2), message="no retries")
    assert sender.stats("pmi").delivered == 0

    receiver, _ = await receivers(port=port)
    await until_async(holds(lambda: receiver.answered), message="never delivered after start")
    (received,) = receiver.answered
    assert received.payload == {"ticket": 9, "status": "assigned"}
    assert received.headers[EVENT_ID_HEADER] == event_id
    assert signed_by(received, SECRET)


async def test_a_hanging_receiver_delays_no_other_agency(sender, receivers):
    hanging, hanging_url = await receivers(answer=lambda r: None)
    live, live_url = await receivers()
    sender.send("pln", hanging_url, SECRET, {"ticket": 1})
    sender.send("pln", hanging_url, SECRET, {"ticket": 2})
    await until_async(holds(lambda: hanging.requests), message="the hanging receiver got nothing")

    for n in range(3):
        sender.send("polresta", live_url, SECRET, {"ticket": 10 + n})
    await until_async(holds(lambda: len(live.answered) == 3), message="blocked by the other agency")
    # …while PLN's first request still hangs, and its second still waits behind it.
    assert len(hanging.requests) == 1 and not hanging.answered
    assert sender.stats("pln").queued == 1

    hanging.release.set()
    await until_async(holds(lambda: len(hanging.answered) == 2), message="PLN never caught up")
    assert hanging.delivered() == [{"ticket": 1}, {"ticket": 2}]


async def test_a_failing_receiver_is_retried_with_the_same_event(sender, receivers):
    failures = 2

    def answer(received: Received) -> int:
        return 500 if len(receiver.requests) <= failures else 200

    receiver, url = await receivers(answer=answer)
    event_id = sender.send("satpolpp", url, SECRET, {"ticket": 3, "status": "en-route"})

    await until_async(holds(lambda: receiver.answered), message="never delivered")
    assert len(receiver.requests) == failures + 1
    assert {r.headers[EVENT_ID_HEADER] for r in receiver.requests} == {event_id}
    assert all(signed_by(r, SECRET) for r in receiver.requests)
    stats = sender.stats("satpolpp")
    assert (stats.attempts, stats.delivered, stats.failed) == (3, 1, 0)


async def test_order_per_agency_is_kept_through_retries(sender, receivers):
    """Each receiver fails every other request: every payload is retried, none overtakes another."""

    def flaky(received: Received) -> int:
        return 503 if len(receivers_by_url[received.headers["Host"]].requests) % 2 else 200

    police, police_url = await receivers(answer=flaky)
    fire, fire_url = await receivers(answer=flaky)
    receivers_by_url = {police_url.split("/")[2]: police, fire_url.split("/")[2]: fire}
    for n in range(6):
        sender.send("polresta", police_url, SECRET, {"seq": n})
        sender.send("damkar", fire_url, SECRET, {"seq": n})

    await until_async(
        holds(lambda: len(police.answered) == 6 and len(fire.answered) == 6),
        message="not everything arrived",
    )
    assert police.delivered() == [{"seq": n} for n in range(6)]
    assert fire.delivered() == [{"seq": n} for n in range(6)]


async def test_a_receiver_that_never_recovers_is_given_up_and_the_next_payload_goes(receivers):
    sender = WebhookSender(max_attempts=3, **QUICK)
    try:
        receiver, url = await receivers(answer=lambda r: 500 if r.payload == {"n": 1} else 200)
        sender.send("bpbd", url, SECRET, {"n": 1})
        sender.send("bpbd", url, SECRET, {"n": 2})
        await until_async(holds(lambda: receiver.answered), message="the next payload never went")
        assert [r.payload for r in receiver.requests] == [{"n": 1}] * 3 + [{"n": 2}]
        stats = sender.stats("bpbd")
        assert (stats.attempts, stats.delivered, stats.failed) == (4, 1, 1)
    finally:
        await sender.stop()


async def test_a_receiver_that_refuses_is_not_retried(sender, receivers):
    receiver, url = await receivers(answer=lambda r: 404 if r.payload == {"n": 1} else 200)
    sender.send("pmi", url, SECRET, {"n": 1})
    sender.send("pmi", url, SECRET, {"n": 2})
    await until_async(holds(lambda: receiver.answered), message="the next payload never went")
    assert [r.payload for r in receiver.requests] == [{"n": 1}, {"n": 2}]
    assert sender.stats("pmi").failed == 1


async def test_a_full_queue_drops_the_oldest_and_says_so(receivers, caplog):
    sender = WebhookSender(queue_size=2, **QUICK)
    try:
        receiver, url = await receivers(
            answer=lambda r: None if r.payload == {"n": 0} else 200,
        )
        sender.send("pln", url, SECRET, {"n": 0})
        await until_async(holds(lambda: receiver.requests), message="the first never went")
        with caplog.at_level(logging.WARNING, logger="callcenter.routing.webhooks"):
            dropped = sender.send("pln", url, SECRET, {"n": 1})
            for n in (2, 3):
                sender.send("pln", url, SECRET, {"n": n})
        assert sender.stats("pln").dropped == 1
        assert any(dropped in r.getMessage() and "full" in r.getMessage() for r in caplog.records)

        receiver.release.set()
        await until_async(holds(lambda: len(receiver.answered) == 3), message="the rest never went")
        assert receiver.delivered() == [{"n": 0}, {"n": 2}, {"n": 3}]
    finally:
        await sender.stop()


async def test_stop_ends_a_hanging_delivery_and_refuses_new_ones(receivers):
    sender = WebhookSender(**QUICK)
    receiver, url = await receivers(answer=lambda r: None)
    sender.send("polresta", url, SECRET, {"n": 1})
    await until_async(holds(lambda: receiver.requests), message="nothing in flight")
    await sender.stop()  # returns although the receiver never answers
    with pytest.raises(RuntimeError, match="stopped"):
        sender.send("polresta", url, SECRET, {"n": 2})


async def test_a_payload_that_is_not_json_is_refused_at_once(sender):
    for payload in ({"n": float("nan")}, {"n": object()}, {"text": "\ud800"}):
        with pytest.raises((ValueError, TypeError)):
            sender.send("polresta", "http://127.0.0.1:9/hook", SECRET, payload)
    with pytest.raises(ValueError, match="http"):
        sender.send("polresta", "file:///etc/passwd", SECRET, {"n": 1})
    assert sender.stats("polresta").queued == 0


def test_verify_refuses_hostile_and_stale_headers():
    body = b'{"ticket": 7}'
    timestamp = "1740816000"
    good = sign(SECRET, timestamp, body)
    now = 1740816000.0
    assert verify(SECRET, timestamp, body, good, now=now)
    assert verify(SECRET.encode(), timestamp, body, good, now=now + 299)
    refused = [
        (SECRET, timestamp, body + b" ", good),  # body changed
        ("salah", timestamp, body, good),  # another secret
        (SECRET, "1740816001", body, good),  # timestamp changed
        (SECRET, timestamp, body, good.upper()),
        (SECRET, timestamp, body, good[len("sha256=") :]),  # no scheme
        (SECRET, timestamp, body, "sha1=" + good[len("sha256=") :]),
        (SECRET, timestamp, body, ""),
        (SECRET, timestamp, body, "sha256=" + "zz" * 32),
        (SECRET, timestamp, body, "sha256=ß" + good[8:]),
        (SECRET, timestamp, body, "sha256=" + "a" * 10_000),
        (SECRET, "", body, good),
        (SECRET, "-1740816000", body, good),
        (SECRET, "١٧٤٠٨١٦٠٠٠", body, good),  # Arabic-Indic digits: isdigit, not ASCII
        (SECRET, "9" * 10_000, body, good),
        (SECRET, "1740816000.5", body, good),
    ]
    for case in refused:
        assert not verify(*case, now=now), case
    # A genuine request replayed after the tolerance is refused too.
    assert not verify(SECRET, timestamp, body, good, now=now + 301)
    assert not verify(SECRET, timestamp, body, good, now=now - 301)


def test_retry_delays_double_up_to_the_cap_with_jitter():
    assert [retry_delay(n, 5, 300, 1.0) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert retry_delay(3, 5, 300, 0.0) == 10  # jitter keeps at least half the delay
    assert retry_delay(10_000, 5, 300, 0.5) == 225
    # The default schedule (8 attempts, 5 s doubling to 300 s) waits about ten minutes in all.
    total = sum(retry_delay(n, 5, 300, 1.0) for n in range(1, 8))
    assert 400 < total <= 615
