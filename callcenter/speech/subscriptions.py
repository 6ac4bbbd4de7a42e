"""What speech does on each telephony fact (see live/fact_table.py): a call's recording is
queued for transcription when the call ends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..live.fact_table import FactTable
from ..live.facts import CallEnded
from ..tickets.calls import Calls
from .jobs import FIRST_DELAY
from .transcription_jobs import TranscriptionJobs


def subscribe(
    facts: FactTable,
    calls: Calls,
    jobs: TranscriptionJobs,
    recording_of: Callable[[str], Path | None],
) -> None:
    async def queue_recording(fact: CallEnded) -> None:
        recording = recording_of(fact.call.unique_id)
        if recording is None or not recording.exists():
            return
        await calls.set_recording(fact.call.unique_id, str(recording))
        # Queued even without a model: the job waits, pending, until there is one.
        await jobs.queue(fact.call.unique_id, str(recording), delay=FIRST_DELAY)

    facts.subscribe(CallEnded, queue_recording)
