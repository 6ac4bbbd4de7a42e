"""Hearing a caller while they wait: when a snoop starts and stops (speech/live.py, Snoops), driven
by the telephony facts through speech's subscriptions, over a fake telephony port and a fake
recogniser (the real ones: tests/integration/test_speech_while_waiting.py)."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from callcenter.live.fact_table import FactTable
from callcenter.live.facts import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallQueued,
    CallRef,
    CallSeen,
)
from callcenter.speech import subscriptions
from callcenter.speech.live import LiveSpeech, Snoops
from callcenter.telephony.actions import AmiRefused

ADDRESS = "127.0.0.1:4574"


@dataclass
class FakeSnoopPort:
    """Asterisk as the snoops see it: listening channels started and hung up."""

    refuse: bool = False
    started: list[tuple[str, str, str]] = field(default_factory=list)
    hung_up: list[str] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)  # snoops that ended with their caller

    async def snoop_to_audiosocket(self, unique_id: str, stream_id: str, address: str) -> str:
        if self.refuse:
            raise AmiRefused("Originate failed")
        self.started.append((unique_id, stream_id, address))
        return f"snoop-{stream_id}"

    async def hang_up(self, channel: str) -> None:
        if channel in self.gone:
            raise AmiRefused("No such channel")
        self.hung_up.append(channel)


class FakeRecognizer:
    """Every chunk of audio is a whole phrase: the next of `phrases`."""

    def __init__(self, phrases: list[str]):
        self._phrases = phrases

    def AcceptWaveform(self, chunk: bytes) -> bool:  # Vosk's names
        return True

    def Result(self) -> str:
        return json.dumps({"text": self._phrases.pop(0) if self._phrases else ""})

    def FinalResult(self) -> str:
        return json.dumps({"text": ""})


@dataclass
class FakeModel:
    phrases: list[str] = field(default_factory=list)
    sample_rate: int = 8000

    def recognizer(self, words: bool) -> FakeRecognizer:
        return FakeRecognizer(self.phrases)


@dataclass
class HeardCalls:
    """The ticket side of live recognition: what each call's transcript shows so far."""

    shown: dict[str, str] = field(default_factory=dict)

    async def speech_heard(self, unique_id: str, so_far: str, final: str | None) -> None:
        self.shown[unique_id] = so_far


class Centre:
    """Speech's handlers on a fact table, as app.py subscribes them."""

    def __init__(self, model_loaded: bool = True, max_listening: int = 4):
        self.port = FakeSnoopPort()
        self.model = FakeModel()
        self.calls = HeardCalls()
        self.live: LiveSpeech | None = None
        if model_loaded:
            self.live = LiveSpeech(
                self.model,  # type: ignore[arg-type]
                self.calls,  # type: ignore[arg-type]
                ThreadPoolExecutor(1),
                ADDRESS,
                max_listening=max_listening,
            )
        self.snoops = Snoops(self.port, lambda: self.live)
        self.facts = FactTable()
        subscriptions.subscribe(
            self.facts,
            self.calls,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]  (no recording: the jobs are never asked)
            lambda unique_id: None,
            self.snoops,
        )

    async def queued(self, n: int) -> None:
        await self.facts.deliver(CallQueued(caller(n), queue="112"))

    def stream_of(self, n: int) -> str:
        """The stream of caller n's latest snoop."""
        return [s for u, s, _ in self.port.started if u == caller(n).unique_id][-1]


def caller(n: int) -> CallRef:
    return CallRef(unique_id=f"1700000000.{n}", channel=f"PJSIP/9001-0000000{n}")


@pytest.fixture
def centre() -> Centre:
    return Centre()


async def test_a_caller_joining_the_queue_is_heard_until_a_call_taker_answers(centre):
    await centre.queued(1)
    [(unique_id, stream_id, address)] = centre.port.started
    assert unique_id == caller(1).unique_id and address == ADDRESS
    assert centre.snoops.listening == {unique_id}
    listener = centre.live.listener_for(uuid.UUID(stream_id))
    assert listener is not None  # Asterisk's AudioSocket connection will find its stream

    await centre.facts.deliver(CallAnswered(caller(1), queue="112", calltaker="PJSIP/2001"))
    assert centre.port.hung_up == [f"snoop-{stream_id}"]
    assert centre.snoops.listening == frozenset()
    # A stream still connected ends at its next audio; what it heard stays on the ticket.
    assert await listener.audio(b"\x00\x00" * 160) is False


@pytest.mark.parametrize(
    "leaves",
    [
        lambda call: CallAbandoned(call, queue="112"),
        lambda call: CallEnded(call, cause="Normal Clearing"),
    ],
    ids=["abandoned", "hung-up"],
)
async def test_a_caller_leaving_the_queue_otherwise_is_no_longer_heard(centre, leaves):
    await centre.queued(1)
    await centre.facts.deliver(leaves(caller(1)))
    assert centre.port.hung_up == [f"snoop-{centre.stream_of(1)}"]
    assert centre.snoops.listening == frozenset()


async def test_without_a_speech_model_nobody_is_snooped():
    centre = Centre(model_loaded=False)
    await centre.queued(1)
    await centre.facts.deliver(CallEnded(caller(1)))
    assert centre.port.started == [] and centre.port.hung_up == []


async def test_beyond_the_limit_a_caller_waits_unheard_until_a_place_frees():
    centre = Centre(max_listening=2)
    for n in (1, 2, 3):
        await centre.queued(n)
    assert [u for u, _, _ in centre.port.started] == [caller(1).unique_id, caller(2).unique_id]
    await centre.facts.deliver(CallAnswered(caller(1), queue="112", calltaker="PJSIP/2001"))
    await centre.queued(4)
    assert centre.snoops.listening == {caller(2).unique_id, caller(4).unique_id}


async def test_a_caller_queued_again_while_heard_gets_no_second_snoop(centre):
    await centre.queued(1)
    await centre.facts.deliver(CallSeen(caller(1), in_queue=True))  # an AMI resync
    await centre.queued(1)
    assert len(centre.port.started) == 1


async def test_a_caller_found_waiting_after_a_restart_is_heard(centre):
    await centre.facts.deliver(CallSeen(caller(1), in_queue=False))
    assert centre.port.started == []
    await centre.facts.deliver(CallSeen(caller(1), in_queue=True))
    assert centre.snoops.listening == {caller(1).unique_id}


async def test_asterisk_refusing_the_snoop_leaves_the_call_alone_and_frees_the_place():
    centre = Centre(max_listening=1)
    centre.port.refuse = True
    await centre.queued(1)  # no exception: the caller's other handlers still run
    assert centre.snoops.listening == frozenset()
    centre.port.refuse = False
    await centre.queued(2)
    assert centre.snoops.listening == {caller(2).unique_id}


async def test_a_snoop_that_ended_with_its_caller_is_not_an_error(centre):
    await centre.queued(1)
    centre.port.gone.add(f"snoop-{centre.stream_of(1)}")
    await centre.facts.deliver(CallEnded(caller(1)))
    assert centre.snoops.listening == frozenset()


async def test_the_waiting_transcript_goes_on_from_what_the_ivr_heard(centre):
    """The caller waited, was held (or with an agency), and waits again: the second snoop's
    words are added to the first one's, not put in their place."""
    centre.model.phrases[:] = ["rumah terbakar", "di sukun"]
    unique_id = caller(1).unique_id
    first = centre.live.listen(unique_id)
    stream = centre.live.listener_for(first)
    await stream.audio(b"\x01\x00" * 1600)  # 0.2 s: one recognition step
    await stream.ended()
    assert centre.calls.shown[unique_id] == "rumah terbakar"

    await centre.queued(1)
    waiting = centre.live.listener_for(uuid.UUID(centre.stream_of(1)))
    await waiting.audio(b"\x01\x00" * 1600)
    assert centre.calls.shown[unique_id] == "rumah terbakar di sukun"

    await centre.facts.deliver(CallEnded(caller(1)))
    await waiting.ended()
    # The call is over: a later call with the same id (an Asterisk restart) starts afresh.
    assert unique_id not in centre.live._said
