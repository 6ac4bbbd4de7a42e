"""Transcribing recordings after the call, in the background, without losing any.

The transcriptions table is the queue: the controller writes a row when a call ends, and this
worker takes due rows, a few at a time, into a bounded number of threads sharing the one model (Vosk
releases the GIL while it decodes, so threads use every core). A failure is written to the job and
the ticket and retried later; after the last attempt the job says `failed`. Without a model, jobs
wait (pending) until one is configured.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..tickets.models import now
from .meaning import Gazetteer, Lexicon, understand
from .model import SpeechModel
from .transcribe import AudioError, Transcript, transcribe_file
from .transcription_jobs import TranscriptionJobs

log = logging.getLogger(__name__)

# Seconds before each retry; after the last one the job fails for good.
RETRY_DELAYS = (10.0, 60.0, 300.0)
# MixMonitor finishes writing the file just after the hangup event.
FIRST_DELAY = 2.0


def _suggestion(transcript: Transcript, lexicon: Lexicon, gazetteer: Gazetteer) -> dict[str, Any]:
    meaning = understand(transcript.text, lexicon, gazetteer)
    place = meaning.place
    return {
        "category": meaning.categories[0] if meaning.categories else None,
        "evidence": [{"category": e.category, "heard": e.heard} for e in meaning.evidence],
        "kecamatan": place.kecamatan if place else None,
        "kelurahan": place.kelurahan if place else None,
        "heard": place.heard if place else None,
    }


class Transcriber:
    def __init__(
        self,
        model: SpeechModel,
        jobs: TranscriptionJobs,
        lexicon: Lexicon,
        gazetteer: Gazetteer,
        max_seconds: int,
        workers: int | None = None,
        poll_seconds: float = 1.0,
    ):
        self._model = model
        self._jobs = jobs
        self._lexicon = lexicon
        self._gazetteer = gazetteer
        self._max_seconds = max_seconds
        self._workers = workers or os.cpu_count() or 1
        self._poll = poll_seconds
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="transcribe")
        self._slots = asyncio.Semaphore(self._workers)
        self._running: set[asyncio.Task[None]] = set()
        self._in_hand: set[int] = set()  # job ids being worked on (still pending in the table)
        self._loop_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._take_due_jobs())

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
        for task in list(self._running):
            task.cancel()
        # Unfinished jobs stay pending in the database: the next start takes them.
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _take_due_jobs(self) -> None:
        in_hand = self._in_hand
        while True:
            try:
                free = self._workers - len(self._running)
                if free > 0:
                    for job in await self._jobs.due(limit=free + len(in_hand)):
                        if job.id in in_hand:
                            continue
                        in_hand.add(job.id)
                        task = asyncio.create_task(
                            self._run(job.id, job.recording_path, job.attempts)
                        )
                        self._running.add(task)
                        task.add_done_callback(self._running.discard)
            except Exception:
                log.exception("transcription queue: could not read due jobs; trying again")
            await asyncio.sleep(self._poll)

    async def _run(self, job_id: int, path: str, attempts: int) -> None:
        try:
            await self._attempt(job_id, path, attempts)
        finally:
            self._in_hand.discard(job_id)

    async def _attempt(self, job_id: int, path: str, attempts: int) -> None:
        async with self._slots:
            loop = asyncio.get_running_loop()
            try:
                transcript, suggestion = await loop.run_in_executor(
                    self._executor, self._transcribe, Path(path)
                )
            except AudioError as e:
                error = str(e)
            except Exception as e:  # a recogniser failure must not stop the queue
                log.exception("transcription %d failed", job_id)
                error = f"{type(e).__name__}: {e}"
            else:
                await self._jobs.done(
                    job_id,
                    transcript.text,
                    transcript.as_json()["words"],
                    transcript.seconds,
                    suggestion,
                )
                log.info("transcription %d done: %.1f s of audio", job_id, transcript.seconds)
                return
            attempt = attempts + 1
            retry_at = (
                now() + timedelta(seconds=RETRY_DELAYS[attempt - 1])
                if attempt <= len(RETRY_DELAYS)
                else None
            )
            log.warning("transcription %d, attempt %d: %s", job_id, attempt, error)
            await self._jobs.failed(job_id, error, retry_at)

    def _transcribe(self, path: Path) -> tuple[Transcript, dict[str, Any]]:
        transcript = transcribe_file(self._model, path, self._max_seconds)
        return transcript, _suggestion(transcript, self._lexicon, self._gazetteer)
