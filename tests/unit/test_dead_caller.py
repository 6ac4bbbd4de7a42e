"""A caller whose phone vanishes without hanging up: every endpoint gets an RTP timeout from the
configuration, Asterisk's hang-up for it reads as lost media, and the ticket says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callcenter.config import ConfigError, load
from callcenter.live.facts import MEDIA_LOST, AgencyLegEnded, CallEnded, CallRef
from callcenter.telephony.ami import translate
from callcenter.telephony.asterisk import render_templates
from callcenter.tickets.lifecycle import (
    MEDIA_LOST_FLAG,
    Status,
    flags_after_step,
    step_of,
)

REPO = Path(__file__).resolve().parents[2]

CALLER = {
    "Channel": "PJSIP/9001-00000001",
    "Uniqueid": "dev-1795338680.0",
    "Linkedid": "dev-1795338680.0",
    "CallerIDNum": "9001",
    "Context": "public",
    "Exten": "112",
}
# What Asterisk 22 sends when res_pjsip_sdp_rtp hangs a channel up for lack of RTP.
RTP_TIMEOUT_HANGUP = {
    "Event": "Hangup",
    **CALLER,
    "Cause": "44",
    "Cause-txt": "Requested channel not available",
}


def test_asterisks_hangup_for_lack_of_audio_ends_the_call_as_media_lost():
    ended = translate(RTP_TIMEOUT_HANGUP)
    assert isinstance(ended, CallEnded) and ended.cause == MEDIA_LOST
    normal = translate({**RTP_TIMEOUT_HANGUP, "Cause": "16", "Cause-txt": "Normal Clearing"})
    assert isinstance(normal, CallEnded) and normal.cause == "Normal Clearing"


def test_cause_44_without_rtp_is_not_lost_media():
    # A Local channel (a caller Asterisk plays itself) carries no RTP to time out.
    local = {**RTP_TIMEOUT_HANGUP, "Channel": "Local/112@public-00000003;2"}
    ended = translate(local)
    assert isinstance(ended, CallEnded) and ended.cause == "Requested channel not available"
    # On an agency leg Asterisk dialled out, 44 can be a refusal: its dispatch keeps the words.
    leg = translate({**RTP_TIMEOUT_HANGUP, "Uniqueid": "dispatch-17", "Channel": "PJSIP/7001-2"})
    assert isinstance(leg, AgencyLegEnded) and leg.cause == "Requested channel not available"


@pytest.mark.parametrize("cause", ["", "44", "Normal Clearing", "media lost", MEDIA_LOST + " "])
def test_only_lost_media_flags_the_ticket(cause):
    step = step_of(CallEnded(CallRef("u.1"), cause=cause))
    assert flags_after_step(step, ["silent"]) == ["silent"]


def test_lost_media_flags_the_ticket_once_and_a_waiting_caller_is_called_back():
    step = step_of(CallEnded(CallRef("u.1"), cause=MEDIA_LOST))
    flags = flags_after_step(step, ["silent"])
    assert flags == ["silent", MEDIA_LOST_FLAG]
    assert flags_after_step(step, flags) == flags
    # Cut off while waiting or in the menu: abandoned, so on the callback list; cut off while a
    # call-taker had them: ended, with the call-taker who heard it happen.
    assert step.rule(Status.QUEUED) == Status.ABANDONED
    assert step.rule(Status.NEW) == Status.ABANDONED
    assert step.rule(Status.ANSWERED) == Status.ENDED


@pytest.fixture
def example(tmp_path) -> Path:
    path = tmp_path / "callcenter.toml"
    caller = '\n[[test_callers]]\nextension = "9001"\nname = "Penelepon uji"\n'
    path.write_text((REPO / "callcenter.example.toml").read_text() + caller)
    return path


def test_every_endpoint_times_out_on_silence_with_the_configured_seconds(example):
    text = example.read_text()
    for default, chosen in (
        ("rtp_timeout = 30\n", "rtp_timeout = 12\n"),
        ("rtp_timeout_hold = 300\n", "rtp_timeout_hold = 240\n"),
        ("session_expires = 1800\n", "session_expires = 900\n"),
    ):
        assert text.count(default) == 1, default  # the example documents every key
        text = text.replace(default, chosen)
    example.write_text(text)
    config = load(example, env={})
    pjsip = render_templates(config, example.parent / "etc")["pjsip.conf"]
    template = pjsip.split("[endpoint-media](!)\n", 1)[1].split("\n\n", 1)[0]
    assert "rtp_timeout = 12\n" in template + "\n"
    assert "rtp_timeout_hold = 240\n" in template
    assert "timers_sess_expires = 900" in template
    endpoints = set(re.findall(r"^\[([0-9]+)\]\(endpoint-media\)$", pjsip, re.MULTILINE))
    # Callers, call-takers, agencies and supervisors: any phone that vanishes leaves a stuck leg.
    assert endpoints == {p.extension for p in config.all_phones()}
    assert "9001" in endpoints


def test_the_defaults_suit_production(example):
    a = load(example, env={}).asterisk
    assert (a.rtp_timeout, a.rtp_timeout_hold, a.session_expires) == (30, 300, 1800)


@pytest.mark.parametrize(
    ("keys", "key"),
    [
        ("rtp_timeout = 0", "asterisk.rtp_timeout"),
        ("rtp_timeout = 1", "asterisk.rtp_timeout"),
        ("rtp_timeout = -30", "asterisk.rtp_timeout"),
        ("rtp_timeout = 99999", "asterisk.rtp_timeout"),
        ("rtp_timeout = '30'", "asterisk.rtp_timeout"),
        ("rtp_timeout = 30.5", "asterisk.rtp_timeout"),
        ("rtp_timeout = true", "asterisk.rtp_timeout"),
        ("rtp_timeout = '30\\n[evil]'", "asterisk.rtp_timeout"),
        ("rtp_timeout = 60\nrtp_timeout_hold = 30", "asterisk.rtp_timeout_hold"),
        ("rtp_timeout_hold = 100000", "asterisk.rtp_timeout_hold"),
        ("rtp_timeout_hold = [300]", "asterisk.rtp_timeout_hold"),
        ("session_expires = 30", "asterisk.session_expires"),
        ("session_expires = 0", "asterisk.session_expires"),
        ("session_expires = 1e9", "asterisk.session_expires"),
    ],
)
def test_a_bad_timeout_names_its_key(tmp_path, keys, key):
    path = tmp_path / "callcenter.toml"
    path.write_text(f"[asterisk]\n{keys}\n")
    with pytest.raises(ConfigError) as e:
        load(path, env={})
    assert e.value.key == key
    assert str(path) in str(e.value)
    assert "unknown key" not in str(e.value)


def test_the_console_says_lost_media_in_indonesian():
    # The console matches the cause word for word to show it in the call-taker's language.
    console = (REPO / "callcenter/web/static/console.js").read_text()
    assert f'const MEDIA_LOST = "{MEDIA_LOST}";' in console
