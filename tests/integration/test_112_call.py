"""A 112 call through the real Asterisk: the caller hears the welcome and a ticket appears."""

from __future__ import annotations

from tests.audio import best_match, envelope_u8, envelope_wav
from tests.centre import REPO, Api, listen

WELCOME = REPO / "ivr-prompts/id/welcome.wav"


def test_caller_hears_welcome_and_ticket_appears(asterisk, admin_api, caller):
    call = caller.dial("112")
    heard = envelope_u8(listen(call, 6.0))
    call.hangup()

    # Loud enough to be speech (pyVoIP pads missing audio with silence, RMS 0)…
    assert max(heard[:150]) > 5, f"no sound in the first 3 s: {heard[:150]}"
    # …and shaped like the welcome prompt, not any other sound. The welcome is under 3 s and the
    # phone may start listening over a second into it: 1.2 s of it are compared.
    assert best_match(heard, envelope_wav(WELCOME), window=60, max_offset=80) > 0.7

    # The caller hung up during the welcome or right after it: the ticket was opened from
    # Asterisk's Newchannel as the call arrived, and it waits on the callback list.
    ticket = admin_api.wait_for_ticket(
        lambda t: t["caller_number"] == "9001" and t["status"] == "abandoned"
    )
    assert ticket["source"] == "asterisk"
    assert ticket["caller_name"] == "Penelepon Uji"
    assert ticket["calls"][0]["channel"].startswith("PJSIP/9001-")


def test_tickets_need_a_login(asterisk, running_controller):
    anonymous = Api(asterisk.base_url, None)
    status, body = anonymous.request("GET", "/api/tickets")
    assert status == 401
    assert "tickets" not in body
    status, _ = Api(asterisk.base_url, "forged-token").request("GET", "/api/tickets/1")
    assert status == 401
