"""Abuse: issue 15's findings replayed, then random API bodies and FastAGI/AMI garbage.

A private centre (its own Asterisk, the controller as `callcenter run`, SQLite in a temp dir);
loopback only, every flood bounded. While it runs, a background task polls /healthz every 100 ms.

First each finding is replayed as the traffic that showed it, and its outcome checked:
 1 FastAGI `520-` then EOF; 2 a SIP phone vanishing without BYE (a real pyVoIP phone that stops
 sending RTP; Asterisk must hang it up); 3 kill -9 of Asterisk (noticed on /healthz, a desk action
 answers; Asterisk is started again); 4 forged FastAGI sessions (must open no ticket);
 5 `PUT /api/protocols/police` with "\\ud800" or {}; 6 200 wrong passwords and 40 concurrent
 logins (/healthz must stay quick); 7 CSRF: a cookie-authenticated PATCH/POST from
 `Origin: http://evil.example` as text/plain; 8 60 idle unauthenticated AMI connections (the
 controller's user must still log in), AMI Originate Application=System with the controller's
 user; 9 5,000-digit JSON numbers, lone surrogates in login/users, `role: []`, `?from=9999-12-31`.
Then --requests random API requests (routes from the web app's own table, random methods, path
parameters, queries, JSON of random shapes and sizes, with and without logins, cookies and a
foreign Origin), --agi FastAGI connections of garbage (random lines, half headers, 520- then EOF,
huge lines, random bytes) and --ami AMI connections of garbage.

Prints requests sent, 5xx seen (each listed; must be 0), the worst and p99 /healthz latency,
whether the controller is still healthy and still takes a real call over FastAGI (an overflow),
and each finding's outcome. Exit 1 if any 5xx or failed finding. Deterministic with --seed.
Run: `.venv/bin/python bench/abuse.py [--requests 2000] [--agi 200] [--ami 100] [--seed 15]`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import secrets
import signal
import socket
import sys
import tempfile
import time
import types
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bench.common import (  # noqa: E402
    ami_login,
    bench_config,
    controller_running,
    count_tickets,
    create_user,
    login,
    originate_caller,
    percentile,
    run_bounded,
    timed_healthz,
)
from callcenter import config as config_mod  # noqa: E402
from callcenter.config import Config  # noqa: E402
from callcenter.telephony.asterisk import LocalAsterisk  # noqa: E402
from callcenter.web import api, live, pages, reports, supervision  # noqa: E402
from tests.integration.test_hostile_input import agi_headers, fake_asterisk_session  # noqa: E402

EVIL = "http://evil.example"
SIP_CALLER = "9201"
SURROGATE = b"\\ud800"  # as JSON writes it: valid JSON, not valid text
FIELDS = (
    *("username", "password", "role", "state", "reason", "what", "where", "who", "category"),
    *("ask", "tell", "agency", "outcome", "flags", "note", "kecamatan", "number", "id", "target"),
)
BENCH_DIALPLAN = """
[bench-abuse]
exten => s,1,Answer()
 same => n,Wait(5)
 same => n,Hangup()
"""


@dataclass
class Finding:
    number: int
    what: str
    outcome: str = ""
    ok: bool = False


@dataclass
class Traffic:
    """Every HTTP request the bench sent and what came back."""

    sent: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    five_xx: list[str] = field(default_factory=list)
    excused: list[str] = field(default_factory=list)  # 5xx while the bench had killed Asterisk
    excuse: bool = False


class Health:
    """/healthz every 100 ms in the background: latency and status, by phase."""

    def __init__(self, base: str):
        self.base = base
        self.phase = "start"
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)
        self.bad: collections.Counter[str] = collections.Counter()

    async def poll(self) -> None:
        async with aiohttp.ClientSession() as http:
            while True:
                status, seconds = await timed_healthz(http, self.base)
                self.latencies[self.phase].append(seconds)
                if status != 200:
                    self.bad[f"{self.phase}: {status}"] += 1
                await asyncio.sleep(0.1)

    def worst(self, phase: str) -> float:
        return max(self.latencies.get(phase) or [0.0])


class Abuse:
    def __init__(
        self,
        config: Config,
        local: LocalAsterisk,
        http: aiohttp.ClientSession,
        tokens: dict[str, str],
        passwords: dict[str, str],
        health: Health,
    ):
        self.config = config
        self.local = local
        self.http = http
        self.tokens = tokens
        self.passwords = passwords
        self.health = health
        self.base = health.base
        self.traffic = Traffic()
        self.agi_port = config.controller.agi_port
        self.ami_port = config.asterisk.ami_port

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """One HTTP request, counted; its status (0: no answer in 15 s) and a bit of its body."""
        self.traffic.sent += 1
        try:
            async with self.http.request(
                method,
                self.base + path,
                data=body,
                headers=headers or {},
                timeout=aiohttp.ClientTimeout(total=15),
                allow_redirects=False,
            ) as r:
                status, text = r.status, (await r.read())[:200].decode(errors="replace")
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            status, text = 0, type(e).__name__
        self.traffic.statuses[status] += 1
        if status >= 500 or status == 0:
            line = f"{method} {path[:80]} → {status} {text[:120]!r}"
            (self.traffic.excused if self.traffic.excuse else self.traffic.five_xx).append(line)
        return status, text

    async def api(self, method: str, path: str, who: str | None, body: Any = None) -> int:
        headers = {"Content-Type": "application/json"}
        if who:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        raw = (
            body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
        )
        return (await self.request(method, path, raw, headers))[0]

    # ---- the findings ------------------------------------------------------------------------

    async def finding_1(self, f: Finding) -> None:
        def usage_error_then_eof() -> None:
            with socket.create_connection(("127.0.0.1", self.agi_port), timeout=10) as s:
                s.sendall(agi_headers(f"abuse-520.{time.monotonic_ns()}", b"0899000001"))
                s.makefile("rb").readline()
                s.sendall(b"520-Invalid command syntax.  Proper usage follows:\n")

        try:
            await asyncio.to_thread(usage_error_then_eof)
        except OSError as e:
            f.outcome = f"{type(e).__name__}; "
        status, seconds = await timed_healthz(self.http, self.base)
        f.ok = status == 200 and seconds < 2
        f.outcome += f"/healthz {status} in {seconds * 1000:.0f} ms after it"

    async def finding_2(self, f: Finding) -> None:
        from pyVoIP.VoIP import CallState

        from tests.centre import SipPhone

        phone = next(p for p in self.config.test_callers if p.extension == SIP_CALLER)
        centre = types.SimpleNamespace(config=self.config)
        sip = SipPhone(centre, phone.extension, phone.secret)  # type: ignore[arg-type]
        await asyncio.to_thread(sip.register)
        try:
            call = await asyncio.to_thread(sip.dial, "112")
            for rtp in call.RTPClients:
                rtp.stop()  # the phone vanishes: no more media, and no BYE
            gone_at = time.monotonic()
            limit = self.config.asterisk.rtp_timeout + 20
            while time.monotonic() - gone_at < limit:
                if not await self._channels_of(SIP_CALLER):
                    f.ok = True
                    f.outcome = f"Asterisk hung it up {time.monotonic() - gone_at:.0f} s after"
                    break
                await asyncio.sleep(1)
            else:
                f.outcome = f"still on the line {limit} s after it vanished"
            if call.state == CallState.ANSWERED:
                call.state = CallState.ENDED  # so stopping the phone sends no late BYE
        finally:
            await asyncio.to_thread(sip.stop)

    async def _channels_of(self, number: str) -> list[str]:
        a = self.config.asterisk
        manager = await ami_login(self.config, a.ami_user, a.ami_secret)
        try:
            reply = await manager.send_action({"Action": "CoreShowChannels"}, as_list=True)
        finally:
            manager.close()
        return [
            m.get("Channel", "")
            for m in reply
            if m.get("Event") == "CoreShowChannel" and m.get("CallerIDNum") == number
        ]

    async def finding_3(self, f: Finding) -> None:
        assert self.local.process is not None
        self.traffic.excuse = True
        try:
            os.kill(self.local.process.pid, signal.SIGKILL)
            killed = time.monotonic()
            noticed = None
            while time.monotonic() - killed < 20:
                async with self.http.get(self.base + "/healthz") as r:
                    if (await r.json())["parts"]["ami"] != "ok":
                        noticed = time.monotonic() - killed
                        break
                await asyncio.sleep(0.1)
            started = time.monotonic()
            status = await self.api(
                "POST", "/api/agents/2001/state", "petugas", {"state": "available", "reason": ""}
            )
            answered = time.monotonic() - started
            await self.local.process.wait()
            await self.local.start()
            back = None
            while time.monotonic() - killed < 120:
                async with self.http.get(self.base + "/healthz") as r:
                    if (await r.json())["parts"]["ami"] == "ok":
                        back = time.monotonic() - killed
                        break
                await asyncio.sleep(0.2)
        finally:
            self.traffic.excuse = False
        f.ok = noticed is not None and status != 0 and answered < 10 and back is not None
        f.outcome = (
            f"noticed after {noticed if noticed is None else round(noticed, 1)} s; desk action "
            f"→ {status} in {answered:.1f} s; AMI back {back if back is None else round(back)} s "
            "after the kill (Asterisk restarted by the bench)"
        )

    async def finding_4(self, f: Finding) -> None:
        number = "0899000004"
        for n in range(5):
            headers = agi_headers(f"forged-{n}.{time.monotonic_ns()}", number.encode())
            try:
                await asyncio.to_thread(fake_asterisk_session, self.agi_port, headers)
            except OSError:
                pass
        count = await count_tickets(self.config, collections.Counter({number: 0}))
        f.ok = count.tickets == 0
        f.outcome = f"5 forged sessions opened {count.tickets} tickets"

    async def finding_5(self, f: Finding) -> None:
        before = await self._get_json("/api/protocols", "penyelia")
        statuses = [
            await self.api("PUT", "/api/protocols/police", "penyelia", {}),
            await self.api(
                "PUT", "/api/protocols/police", "penyelia", b'{"ask": ["' + SURROGATE + b'"]}'
            ),
            await self.api(
                "PUT",
                "/api/protocols/police",
                "penyelia",
                b'{"ask": ["' + SURROGATE + b'"], "tell": []}',
            ),
        ]
        same = before == await self._get_json("/api/protocols", "penyelia")
        f.ok = all(s == 400 for s in statuses) and same
        f.outcome = f"statuses {statuses}, cards unchanged: {same}"

    async def _get_json(self, path: str, who: str) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        async with self.http.get(self.base + path, headers=headers) as r:
            return await r.json()

    async def finding_6(self, f: Finding) -> None:
        wrong = {"username": "admin", "password": "salah-salah-salah"}
        right = {"username": "penyelia", "password": self.passwords["penyelia"]}
        gate = asyncio.Semaphore(20)

        async def attempt(body: dict[str, str]) -> int:
            async with gate:
                return await self.api("POST", "/api/login", None, body)

        wrong_statuses = collections.Counter(
            await asyncio.gather(*(attempt(wrong) for _ in range(200)))
        )
        gate = asyncio.Semaphore(40)
        right_statuses = collections.Counter(
            await asyncio.gather(*(attempt(right) for _ in range(40)))
        )
        worst = self.health.worst("finding 6")
        f.ok = set(wrong_statuses) <= {401, 429} and worst < 1.0 and 0 not in right_statuses
        f.outcome = (
            f"200 wrong → {dict(wrong_statuses)}; 40 concurrent right → {dict(right_statuses)}; "
            f"worst /healthz meanwhile {worst * 1000:.0f} ms (bound 1000)"
        )

    async def finding_7(self, f: Finding) -> None:
        tickets = (await self._get_json("/api/tickets?limit=1", "admin"))["tickets"]
        ticket = tickets[0]["id"] if tickets else 1
        cookie = {
            "Cookie": f"ngalam112_session={self.tokens['admin']}",
            "Origin": EVIL,
            "Content-Type": "text/plain",
        }
        patch = await self.request("PATCH", f"/api/tickets/{ticket}", b'{"what": "csrf"}', cookie)
        body = b'{"username": "csrf1", "password": "kata-sandi-panjang", "role": "admin"}'
        post = await self.request("POST", "/api/users", body, cookie)
        detail = await self._get_json(f"/api/tickets/{ticket}", "admin")
        users = (await self._get_json("/api/users", "admin"))["users"]
        created = any(u["username"] == "csrf1" for u in users)
        changed = detail.get("what") == "csrf"
        f.ok = 400 <= patch[0] < 500 and 400 <= post[0] < 500 and not created and not changed
        f.outcome = (
            f"PATCH → {patch[0]}, POST /api/users → {post[0]}; ticket changed: {changed}, "
            f"user created: {created}"
        )

    async def finding_8(self, f: Finding) -> None:
        idle = [await asyncio.open_connection("127.0.0.1", self.ami_port) for _ in range(60)]
        try:
            a = self.config.asterisk
            try:
                manager = await asyncio.wait_for(
                    ami_login(self.config, a.ami_user, a.ami_secret), 10
                )
                manager.close()
                logged_in = True
            except (RuntimeError, OSError, TimeoutError):
                logged_in = False
            status, _ = await timed_healthz(self.http, self.base)
        finally:
            for _reader, writer in idle:
                writer.close()
        probe = self.local.paths.host / "abuse-system-probe"
        probe.unlink(missing_ok=True)
        seen = self.config.asterisk.seen_by_asterisk(probe)
        manager = await ami_login(self.config, a.ami_user, a.ami_secret)
        try:
            reply = await manager.send_action(
                {
                    "Action": "Originate",
                    "Channel": "Local/s@bench-abuse",
                    "Application": "System",
                    "Data": f"touch {seen}",
                    "Async": "false",
                    "Timeout": "5000",
                },
                as_list=False,
            )
        finally:
            manager.close()
        deadline = time.monotonic() + 5
        while not probe.exists() and time.monotonic() < deadline:  # noqa: ASYNC110 - bounded
            await asyncio.sleep(0.2)
        ran = probe.exists()
        f.ok = logged_in and status == 200 and not ran
        f.outcome = (
            f"with 60 idle AMI connections the controller's user logged in: {logged_in}, "
            f"/healthz {status}; Originate System → {reply.get('Response')} "
            f"{reply.get('Message', '')!r}, command ran: {ran}"
        )

    async def finding_9(self, f: Finding) -> None:
        checks = [
            (
                "POST",
                "/api/login",
                None,
                b'{"username": ' + b"9" * 5000 + b', "password": "x"}',
                {400},
            ),
            ("POST", "/api/login", None, b"[" * 20_000, {400}),
            (
                "POST",
                "/api/login",
                None,
                b'{"username": "' + SURROGATE + b'", "password": "kata-sandi-uji"}',
                {400, 401},
            ),
            (
                "POST",
                "/api/users",
                "admin",
                {"username": "tamu1", "password": "kata-sandi-panjang", "role": []},
                {400},
            ),
            (
                "POST",
                "/api/users",
                "admin",
                b'{"username": "tamu2", "password": "' + SURROGATE * 12 + b'", "role": "admin"}',
                {400},
            ),
            ("GET", "/api/reports/summary?from=9999-12-31", "penyelia", None, {400}),
            ("GET", "/api/reports/summary?from=2026-01-01&to=9999-12-31", "penyelia", None, {400}),
        ]
        seen = []
        for method, path, who, body, expected in checks:
            status = await self.api(method, path, who, body)
            seen.append(status)
            f.ok = (f.ok or len(seen) == 1) and status in expected
        f.outcome = f"statuses {seen} (400, or 401 for a login)"

    # ---- random traffic ------------------------------------------------------------------------

    async def random_requests(self, rng: random.Random, count: int) -> None:
        routes = route_table()
        # Made before any is sent, so the same seed sends the same requests.
        requests = [random_request(rng, routes, self.tokens) for _ in range(count)]
        gate = asyncio.Semaphore(8)

        async def one(method: str, path: str, headers: dict[str, str], body: bytes | None) -> None:
            async with gate:
                await self.request(method, path, body, headers)

        await asyncio.gather(*(one(*r) for r in requests))

    async def agi_garbage(self, rng: random.Random, count: int) -> collections.Counter[str]:
        outcomes: collections.Counter[str] = collections.Counter()
        payloads = [agi_payload(rng, n) for n in range(count)]
        gate = asyncio.Semaphore(8)

        async def one(payload: bytes) -> None:
            async with gate:
                outcomes[await asyncio.to_thread(send_and_close, self.agi_port, payload)] += 1

        await asyncio.gather(*(one(p) for p in payloads))
        return outcomes

    async def ami_garbage(self, rng: random.Random, count: int) -> collections.Counter[str]:
        outcomes: collections.Counter[str] = collections.Counter()
        payloads = [ami_payload(rng) for _ in range(count)]
        gate = asyncio.Semaphore(8)

        async def one(payload: bytes) -> None:
            async with gate:
                outcomes[await asyncio.to_thread(send_and_close, self.ami_port, payload)] += 1

        await asyncio.gather(*(one(p) for p in payloads))
        return outcomes

    async def real_call_overflows(self, number: str) -> bool:
        """A real 112 call (nobody at a desk) overflows, which takes the controller's FastAGI
        route: its ticket gets the overflow flag within 40 s."""
        a = self.config.asterisk
        manager = await ami_login(self.config, a.ami_user, a.ami_secret)
        try:
            reply = await originate_caller(
                manager, number, {"Application": "Wait", "Data": "12"}, timeout_ms=10000
            )
        finally:
            manager.close()
        if reply.get("Response") != "Success":
            return False
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            count = await count_tickets(self.config, collections.Counter({number: 1}))
            if count.overflowed:
                return True
            await asyncio.sleep(0.5)
        return False


def route_table() -> list[tuple[str, str]]:
    """(method, path template) of every route the web app serves (its own route table)."""
    app = web.Application()
    for module in (api, live, pages, reports, supervision):
        module.add_routes(app)
    routes = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path")
        if path and route.method != "HEAD":
            routes.append((route.method, path))
    return routes


def random_text(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 0:
        return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(1, 40)))
    if kind == 1:
        return "\ud800" + "x" * rng.randrange(5)  # a lone surrogate (json.dumps escapes it)
    if kind == 2:
        return rng.choice(["../../etc/passwd", "<script>x</script>", "' OR 1=1 --", "%00", "\r\n"])
    if kind == 3:
        return "A" * rng.choice([300, 5000, 60_000])
    if kind == 4:
        return rng.choice(["available", "paused", "logged-out", "admin", "police", "9999-12-31"])
    return "".join(rng.choice("abcdefghij0123456789-_ ") for _ in range(rng.randrange(0, 20)))


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.choice([0, -1, 1, 2**63, -(2**64), 10 ** rng.randrange(1, 400)])
    if kind == 1:
        return rng.choice([1.5, -0.0, 1e308, 1e-308])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind in (3, 4, 5):
        return random_text(rng)
    if kind in (6, 7):
        keys = [rng.choice(FIELDS) if rng.random() < 0.8 else random_text(rng) for _ in range(6)]
        return {k: random_json(rng, depth + 1) for k in keys[: rng.randrange(0, 7)]}
    return [random_json(rng, depth + 1) for _ in range(rng.randrange(0, 8))]


def random_path(rng: random.Random, template: str) -> str:
    def value() -> str:
        fixed = [str(rng.randrange(0, 50)), "-1", "9" * 5000, "2001", "police", "admin", "x.y"]
        return rng.choice([*fixed, random_text(rng)[:200]])

    parts = []
    for piece in template.split("/"):
        if piece.startswith("{") and piece.endswith("}"):
            piece = urllib.parse.quote(value(), safe="", errors="surrogatepass")
        parts.append(piece)
    path = "/".join(parts)
    if rng.random() < 0.4:
        keys = ["from", "to", "limit", "status", "category", "q", "offset", "agency", "x"]
        query = {rng.choice(keys): random_text(rng)[:100] for _ in range(rng.randrange(1, 4))}
        path += "?" + urllib.parse.urlencode(query, errors="surrogatepass")
    return path


def random_request(
    rng: random.Random, routes: list[tuple[str, str]], tokens: dict[str, str]
) -> tuple[str, str, dict[str, str], bytes | None]:
    method, template = rng.choice(routes)
    if rng.random() < 0.2:
        method = rng.choice(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    headers: dict[str, str] = {}
    who = rng.choice([None, "garbage", *tokens])
    # Logging out would end the bench's own sessions: only a made-up token logs out.
    if "logout" in template and who in tokens:
        who = "garbage"
    token = tokens.get(who or "", secrets.token_urlsafe(rng.randrange(1, 40)))
    if who and rng.random() < 0.5:
        headers["Cookie"] = f"ngalam112_session={token}"
        headers["Origin"] = rng.choice([EVIL, "null", "http://127.0.0.1"])
    elif who:
        headers["Authorization"] = rng.choice(["Bearer ", "Basic ", ""]) + token
    headers["Content-Type"] = rng.choice(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", "a/b"]
    )
    roll = rng.random()
    body: bytes | None = None
    if roll < 0.7:
        body = json.dumps(random_json(rng)).encode()
    elif roll < 0.85:
        body = rng.randbytes(rng.randrange(1, 4096))
    return method, random_path(rng, template), headers, body


def agi_payload(rng: random.Random, n: int) -> bytes:
    kind = n % 6
    if kind == 0:
        return b"\n".join(rng.randbytes(rng.randrange(1, 80)) for _ in range(rng.randrange(1, 20)))
    if kind == 1:
        return agi_headers(f"garbage-{n}.1", b"0899000100")[: rng.randrange(1, 120)]
    if kind == 2:
        return agi_headers(f"garbage-{n}.2", b"0899000101") + b"520-Invalid command syntax.\n"
    if kind == 3:
        return b"agi_network_script: " + b"A" * rng.choice([70_000, 200_000]) + b"\n\n"
    if kind == 4:
        return rng.randbytes(rng.randrange(1, 4096))
    return b"agi_network_script: " + random_text(rng).encode(errors="surrogatepass") + b"\n\n"


def ami_payload(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return b"Action: Login\r\nUsername: callcenter\r\nSecret: x\r\n\r\n"
    if kind == 1:
        return b"Action: Originate\r\nChannel: Local/112@public\r\n\r\n"  # before any login
    if kind == 2:
        return b"X" * 100_000 + b"\r\n\r\n"
    if kind == 3:
        return rng.randbytes(rng.randrange(1, 4096))
    return b"\r\n".join(random_text(rng).encode(errors="surrogatepass") for _ in range(5))


def send_and_close(port: int, payload: bytes) -> str:
    """Connect, send, stop sending, read what comes back (at most 64 kB or 5 s); the outcome."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            got = 0
            while got < 65536:
                chunk = s.recv(65536)
                if not chunk:
                    return "closed"
                got += len(chunk)
            return "closed"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "left open 5 s"
    except OSError as e:
        return type(e).__name__


async def main(args: argparse.Namespace) -> int:
    directory = Path(tempfile.mkdtemp(prefix="ngalam-abuse-"))
    extra = (
        f'\n[[test_callers]]\nextension = "{SIP_CALLER}"\nname = "Hilang"\n'
        f'secret = "{secrets.token_urlsafe(16)}"\n'
    )
    config_path = bench_config(directory, "abuse", 44000, extra=extra)
    config = config_mod.load(config_path)
    passwords = {
        name: create_user(config_path, name, role)
        for name, role in (
            ("admin", "admin"),
            ("penyelia", "supervisor"),
            ("petugas", "call-taker"),
        )
    }
    local = LocalAsterisk(config)
    await local.start()
    with (local.paths.etc / "extensions.conf").open("a") as f:
        f.write(BENCH_DIALPLAN)
    await local.cli("dialplan reload")
    rng = random.Random(args.seed)
    findings = [
        Finding(1, "FastAGI 520- then EOF"),
        Finding(2, "SIP phone vanishing without BYE"),
        Finding(3, "kill -9 of Asterisk"),
        Finding(4, "forged FastAGI sessions"),
        Finding(5, "PUT /api/protocols/police with \\ud800 or {}"),
        Finding(6, "login brute force, concurrent logins"),
        Finding(7, "CSRF: cookie PATCH/POST from a foreign Origin, text/plain"),
        Finding(8, "60 idle AMI connections; Originate System"),
        Finding(9, "5,000-digit numbers, lone surrogates, role [], from=9999-12-31"),
    ]
    try:
        async with controller_running(config_path, config) as controller:
            health = Health(f"http://127.0.0.1:{config.controller.http_port}")
            poller = asyncio.create_task(health.poll())
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
                tokens = {n: await login(http, health.base, n, p) for n, p in passwords.items()}
                abuse = Abuse(config, local, http, tokens, passwords, health)
                first_call = await abuse.real_call_overflows("0899000000")
                # Finding 2 waits for Asterisk's RTP timeout: it runs beside the others, until 3.
                health.phase = "finding 2"
                vanished = asyncio.create_task(abuse.finding_2(findings[1]))
                # The login brute force (6) comes after the random traffic, so the lock-out it
                # brings does not turn the random requests into 429s; the kill of Asterisk (3)
                # last, once the SIP phone of 2 is gone.
                by_number: dict[int, Callable[[Finding], Awaitable[None]]] = {
                    1: abuse.finding_1,
                    4: abuse.finding_4,
                    5: abuse.finding_5,
                    7: abuse.finding_7,
                    8: abuse.finding_8,
                    9: abuse.finding_9,
                }
                for number, replay in by_number.items():
                    health.phase = f"finding {number}"
                    await replay(findings[number - 1])
                health.phase = "random requests"
                started = time.monotonic()
                await abuse.random_requests(rng, args.requests)
                http_seconds = time.monotonic() - started
                health.phase = "FastAGI garbage"
                agi = await abuse.agi_garbage(rng, args.agi)
                health.phase = "AMI garbage"
                ami = await abuse.ami_garbage(rng, min(args.ami, 300))
                health.phase = "finding 6"
                await abuse.finding_6(findings[5])
                await vanished
                health.phase = "finding 3"
                await abuse.finding_3(findings[2])
                health.phase = "end"
                status, _ = await timed_healthz(http, health.base)
                last_call = await abuse.real_call_overflows("0899000009")
            poller.cancel()
            alive = controller.returncode is None
        log = (directory / "controller.log").read_text(errors="replace")
    finally:
        await local.stop()
    report(abuse.traffic, health, findings, agi, ami, http_seconds)
    print(f"controller still running: {alive}; /healthz at the end: {status}")
    print(f"a real call overflowed over FastAGI: before {first_call}, after {last_call}")
    print(
        f"controller log: {log.count('Traceback')} tracebacks, {log.count(' ERROR ')} errors; "
        f"logs: {directory}"
    )
    healthy = alive and status == 200 and first_call and last_call
    failed = abuse.traffic.five_xx or not healthy or not all(f.ok for f in findings)
    return 1 if failed else 0


def report(
    traffic: Traffic,
    health: Health,
    findings: list[Finding],
    agi: collections.Counter[str],
    ami: collections.Counter[str],
    http_seconds: float,
) -> None:
    print("\nfinding                                                          ok    outcome")
    for f in findings:
        print(f"{f.number} {f.what[:62]:62s} {'ok' if f.ok else 'FAIL':5s} {f.outcome}")
    print(
        f"\nHTTP requests sent: {traffic.sent}  statuses {dict(sorted(traffic.statuses.items()))}"
    )
    print(f"  random part took {http_seconds:.0f} s")
    print(f"5xx or no answer (must be 0): {len(traffic.five_xx)}")
    for line in traffic.five_xx[:40]:
        print(f"  {line}")
    if traffic.excused:
        print(f"  (not counted: {len(traffic.excused)} while the bench had killed Asterisk)")
    print(f"FastAGI garbage connections: {sum(agi.values())} {dict(agi)}")
    print(f"AMI garbage connections: {sum(ami.values())} {dict(ami)}")
    every = [
        s for phase, values in health.latencies.items() for s in values if phase != "finding 3"
    ]
    print(
        f"/healthz polls: {len(every)}; worst {max(every or [0]) * 1000:.0f} ms, "
        f"p99 {percentile(every, 99) * 1000:.0f} ms (finding 3's outage left out)"
    )
    for phase, values in health.latencies.items():
        print(f"  {phase:18s} worst {max(values) * 1000:6.0f} ms  ({len(values)} polls)")
    if health.bad:
        print(f"  /healthz not 200: {dict(health.bad)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="random API requests")
    parser.add_argument("--agi", type=int, default=200, help="FastAGI garbage connections")
    parser.add_argument("--ami", type=int, default=100, help="AMI garbage connections (≤ 300)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds for the run")
    args = parser.parse_args()
    sys.exit(run_bounded("abuse", main(args), args.timeout))
