"""What speech does on each telephony fact (see live/fact_table.py): a caller is heard live while
they wait in the queue, until they leave it; a call's recording is queued for transcription when
the call ends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..live.fact_table import FactTable
from ..live.facts import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallLeftQueue,
    CallQueued,
    CallSeen,
)
from ..tickets.calls import Calls
from .jobs import FIRST_DELAY
from .live import Snoops
from .transcription_jobs import TranscriptionJobs


def subscribe(
    facts: FactTable,
    calls: Calls,
    jobs: TranscriptionJobs,
    recording_of: Callable[[str], Path | None],
    snoops: Snoops,
) -> None:
    async def queue_recording(fact: CallEnded) -> None:
        recording = recording_of(fact.call.unique_id)
        if recording is None or not recording.exists():
            return
        await calls.set_recording(fact.call.unique_id, str(recording))
        # Queued even without a model: the job waits, pending, until there is one.
        await jobs.queue(fact.call.unique_id, str(recording), delay=FIRST_DELAY)

    async def hear_while_waiting(fact: CallQueued) -> None:
        await snoops.start(fact.call)

    async def hear_if_waiting(fact: CallSeen) -> None:
        # Found waiting after a reconnect: a restarted controller's snoops ended with it.
        if fact.in_queue:
            await snoops.start(fact.call)

    async def stop_hearing(fact: CallAnswered | CallAbandoned | CallLeftQueue) -> None:
        await snoops.stop(fact.call)

    async def stop_hearing_ended(fact: CallEnded) -> None:
        await snoops.call_ended(fact.call)

    facts.subscribe(CallQueued, hear_while_waiting)
    facts.subscribe(CallSeen, hear_if_waiting)
    facts.subscribe(CallAnswered, stop_hearing)
    facts.subscribe(CallAbandoned, stop_hearing)
    # Out of the queue to an agency or a hold: the live description is over (the recording
    # is transcribed after the call).
    facts.subscribe(CallLeftQueue, stop_hearing)
    facts.subscribe(CallEnded, queue_recording)
    facts.subscribe(CallEnded, stop_hearing_ended)
