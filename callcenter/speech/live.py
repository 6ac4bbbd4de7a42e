"""Live recognition while the caller describes the emergency: Asterisk streams the audio over
AudioSocket, each call gets its own recognizer on the shared model, and what is understood so far
is on the ticket (and the live feed) before a call-taker answers.

Recognition runs in the executor, never on the event loop. Telephone audio (8 kHz) is resampled
once, here, to the model's rate.
"""

from __future__ import annotations

import asyncio
import audioop  # the resampler (ratecv); from Python 3.13 the audioop-lts package (setup.cfg)
import json
import logging
import uuid
from concurrent.futures import Executor
from typing import Any

from ..ivr.channel import Channel
from ..tickets.calls import Calls
from .activity import speech_seconds
from .model import SpeechModel

log = logging.getLogger(__name__)

RATE = 8000
# Recognise in steps of this much audio: partial results stay fresh, executor hops stay few.
STEP_SECONDS = 0.2
# Speech needed before silence may end the description early.
MIN_SPEECH = 0.3


class LiveSpeech:
    """The IVR's Describer with a speech model: the streams it registered (by UUID) and is waiting
    for, and the recognition of each."""

    def __init__(self, model: SpeechModel, calls: Calls, executor: Executor, address: str):
        self.model = model
        self.calls = calls
        self.executor = executor
        self.address = address  # host:port of our AudioSocket server, as Asterisk reaches it
        self._waiting: dict[uuid.UUID, _Stream] = {}

    def listener_for(self, stream: uuid.UUID) -> _Stream | None:
        return self._waiting.pop(stream, None)  # one connection per stream

    async def describe(self, channel: Channel, seconds: int, silence: int) -> float:
        """Beep, then stream the caller to the recogniser until `silence` s of quiet after speech
        or `seconds` in all; returns how many seconds were speech."""
        stream_id = uuid.uuid4()
        stream = _Stream(self, channel.unique_id, seconds, silence)
        self._waiting[stream_id] = stream
        try:
            await channel.play("id/beep")
            await channel.stream_audio(str(stream_id), self.address)
            return await asyncio.wait_for(asyncio.shield(stream.done), 3.0)
        except TimeoutError:
            log.warning("call %s: the description stream never ended cleanly", channel.unique_id)
            return stream.speech
        finally:
            self._waiting.pop(stream_id, None)


class _Stream:
    def __init__(self, live: LiveSpeech, unique_id: str, seconds: int, silence: int):
        self.live = live
        self.unique_id = unique_id
        self.seconds = seconds
        self.silence = silence
        self.done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.speech = 0.0
        self._total = 0.0
        self._quiet = 0.0
        self._rate_state: Any = None
        self._pending = b""
        self._recognizer: Any = live.model.recognizer(words=False)
        self._finals: list[str] = []
        self._shown = ""

    async def audio(self, pcm: bytes) -> bool:
        length = len(pcm) / 2 / RATE
        self._total += length
        heard = speech_seconds(pcm, RATE)
        if heard:
            self.speech += heard
            self._quiet = 0.0
        else:
            self._quiet += length
        converted, self._rate_state = audioop.ratecv(
            pcm, 2, 1, RATE, self.live.model.sample_rate, self._rate_state
        )
        self._pending += converted
        if len(self._pending) >= self.live.model.sample_rate * 2 * STEP_SECONDS:
            chunk, self._pending = self._pending, b""
            await self._recognise(chunk, last=False)
        if self._total >= self.seconds:
            return False
        return not (self.speech >= MIN_SPEECH and self._quiet >= self.silence)

    async def ended(self) -> None:
        try:
            await self._recognise(self._pending, last=True)
        except Exception:
            log.exception("call %s: final live recognition failed", self.unique_id)
        finally:
            if not self.done.done():
                self.done.set_result(self.speech)

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
