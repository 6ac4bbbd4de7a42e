"""Without a speech model the centre still takes every call: the IVR runs on keys alone and
/healthz says speech is degraded (and still answers 200: calls are not at risk)."""

from __future__ import annotations

import dataclasses
import json
import urllib.request

from tests.centre import VOSK_MODEL, Api, Controller, hear_the_welcome, press


def test_a_missing_model_degrades_speech_and_the_ivr_runs_on_keys(
    asterisk, controller, caller, tmp_path
):
    text = asterisk.config_path.read_text()
    assert f'model_path = "{VOSK_MODEL}"' in text
    no_model = tmp_path / "callcenter.toml"
    no_model.write_text(text.replace(f'model_path = "{VOSK_MODEL}"', 'model_path = ""'))
    controller.stop()  # the session's controller; the next test's fixture starts it again
    degraded = Controller(
        dataclasses.replace(asterisk, config_path=no_model), tmp_path / "controller.log"
    )
    degraded.start()
    try:
        with urllib.request.urlopen(asterisk.base_url + "/healthz", timeout=5) as r:
            status, health = r.status, json.load(r)
        assert status == 200 and health["status"] == "ok"
        assert health["parts"]["speech"].startswith("degraded")
        assert "speech.model_path" in health["parts"]["speech"]  # says what to set
        log = (tmp_path / "controller.log").read_text()
        assert log.count("speech recognition unavailable") == 1  # one clear line, not a flood

        api = Api.login(asterisk.base_url, "admin", asterisk.admin_password)
        before = {t["id"] for t in api.tickets(limit="500")}
        call = caller.dial("112")
        try:
            hear_the_welcome(call)
            press(call, "1")
            ticket = api.wait_for_ticket(
                lambda t: (
                    t["id"] not in before
                    and t["caller_number"] == "9001"
                    and any(e["kind"] == "key-pressed" for e in t["events"])
                ),
                timeout=40,
            )
        finally:
            call.hangup()
        assert ticket["category"] == "police", ticket["events"]
        # Keys work without a model; only nothing is recognised live.
        assert not any(e["kind"] == "speech-heard" for e in ticket["events"])
    finally:
        degraded.stop()
