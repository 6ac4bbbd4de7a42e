"""Help beside the queue: what the centre does with a caller's keys while they wait.

    answer, record ─▶ welcome ─▶ Queue(calltakers) ─▶ a call-taker's phone rings ─▶ answered
    (ticket opens)     │ WELCOME     │ WAITING              │ RINGING                 (menu over)
                       │ a key: join │ a key: the ticket,   │ a key: the ticket,
                       │ with its    │ a move up the queue, │ no prompt over
                       │ priority    │ a whispered answer   │ the ring
    a hang-up half-way through 55 is noted (keys-unfinished); nothing else is done with it

Every 112 caller is in the call-takers' queue right after the welcome (extensions.conf.j2). From
then until a call-taker answers, a key they press (a KeyPressed fact) is read by the menu
(menu.py): the ticket learns the category or the flag, the caller moves to their new priority in
the queue (QueueChangePriorityCaller: they never leave it), and they hear a short answer
whispered over the waiting audio. A caller whose call-taker's phone is already ringing hears no
prompt: the key is recorded and their priority kept for a retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from ..live.facts import (
    CallAbandoned,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallLeftQueue,
    CallNotPickedUp,
    CallOffered,
    CallQueued,
    CallRef,
    CallSeen,
    KeyPressed,
)
from ..refused import Refused
from ..supervision.restriction_records import RestrictionRecords
from ..tickets.caller_id import sanitise
from ..tickets.calls import Calls
from .menu import DIGIT_GAP, RESTRICTED, Choice, KeyReader, Menu

log = logging.getLogger(__name__)

# Seconds an action on Asterisk may take before the key is kept without it (it is recorded first).
ACTION_TIMEOUT = 5.0
# After joining the queue, how long a held-back answer waits for a free call-taker's phone to ring.
JOIN_SETTLE = 1.0

T = TypeVar("T")


class WaitingPort(Protocol):
    async def change_priority(self, queue: str, channel: str, priority: int) -> None:
        """Move a caller to `priority` in the queue, keeping them in it."""
        ...

    async def set_join_priority(self, channel: str, priority: int) -> None:
        """The priority a caller still hearing the welcome joins the queue with."""
        ...

    async def whisper(self, channel: str, prompts: tuple[str, ...]) -> str:
        """Play prompts to a caller over what they hear now; nobody else hears them. Returns an
        id for stop_whisper()."""
        ...

    async def stop_whisper(self, whisper: str) -> None:
        """Stop a whisper before its end (the caller is answered, or their phone rings)."""
        ...


class Stage(StrEnum):
    WELCOME = "welcome"  # hearing the welcome, about to join the queue
    WAITING = "waiting"  # in the queue, hearing the waiting audio
    RINGING = "ringing"  # the queue rings a call-taker with this call
    AWAY = "away"  # out of the queue (an agency, a hold): keys mean nothing until they are back


@dataclass
class _Caller:
    call: CallRef
    stage: Stage
    keys: KeyReader
    gap: asyncio.Task[None] | None = field(default=None, repr=False)
    # Prompts held back until the caller is in the queue (nothing talks over the welcome).
    on_joining: tuple[str, ...] = ()
    # The whisper playing to the caller now, if any.
    whisper: str | None = None
    # A priority set during the welcome: Queue() may have read QUEUE_PRIO just before it.
    joined_with: int | None = None
    later: asyncio.Task[None] | None = field(default=None, repr=False)


class WaitingCallers:
    def __init__(
        self,
        menu: Menu,
        queue: str,
        calls: Calls,
        restrictions: RestrictionRecords,
        port: WaitingPort,
    ):
        self._menu = menu
        self._queue = queue
        self._calls = calls
        self._restrictions = restrictions
        self._port = port
        self._callers: dict[str, _Caller] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    # ---- where the caller is -------------------------------------------------------------------

    async def arrived(self, fact: CallArrived) -> None:
        """A key pressed during the welcome counts too: the caller joins the queue with it."""
        if fact.call.unique_id not in self._callers:
            caller = _Caller(fact.call, Stage.WELCOME, KeyReader(self._menu))
            self._callers[fact.call.unique_id] = caller
            await self._restrict_if_listed(caller)

    async def queued(self, fact: CallQueued | CallSeen) -> None:
        uid = fact.call.unique_id
        caller = self._callers.get(uid)
        if isinstance(fact, CallSeen) and not fact.in_queue:
            return
        if caller is None:
            # Arrived while the controller was away (or its arrival went unseen).
            caller = self._callers[uid] = _Caller(fact.call, Stage.WAITING, KeyReader(self._menu))
            if await self._restrict_if_listed(caller):
                return  # already moved to the restricted priority, and warned
            await self._join_at_ticket_priority(caller)
        caller.stage = Stage.WAITING  # in the queue, or back in it (after a hold, an agency)
        if caller.joined_with is not None:
            priority, caller.joined_with = caller.joined_with, None
            await self._act(
                uid, self._port.change_priority(self._queue, caller.call.channel, priority)
            )
        if caller.on_joining:
            # A free call-taker's phone rings a moment after the caller joins: the held-back
            # answer waits that moment, and is dropped if the phone rings.
            prompts, caller.on_joining = caller.on_joining, ()
            caller.later = asyncio.create_task(self._whisper_after(caller, prompts, JOIN_SETTLE))

    async def offered(self, fact: CallOffered) -> None:
        caller = self._callers.get(fact.call.unique_id)
        if caller is not None:
            caller.stage = Stage.RINGING
            self._hush(caller)

    async def not_picked_up(self, fact: CallNotPickedUp) -> None:
        caller = self._callers.get(fact.call.unique_id)
        if caller is not None and caller.stage == Stage.RINGING:
            caller.stage = Stage.WAITING

    async def left_queue(self, fact: CallLeftQueue) -> None:
        """Out of the queue (answered, overflowing to an agency, on hold): no prompt and no move
        until they are queued again."""
        caller = self._callers.get(fact.call.unique_id)
        if caller is not None:
            caller.stage = Stage.AWAY
            self._hush(caller)

    async def _join_at_ticket_priority(self, caller: _Caller) -> None:
        """A caller found waiting after a restart: the queue must rank them as the ticket says.
        (Back in the queue after a hold or an agency, QUEUE_PRIO already does.)"""
        try:
            call = await self._calls.call(caller.call.unique_id)
        except Exception:
            log.exception("call %s: could not read the ticket's priority", caller.call.unique_id)
            return
        if call is not None and call.ticket.priority != self._menu.unknown_priority:
            await self._act(
                caller.call.unique_id,
                self._port.change_priority(self._queue, caller.call.channel, call.ticket.priority),
            )

    async def left(self, fact: CallAnswered | CallAbandoned | CallEnded) -> None:
        """Answered, gone or hung up: the menu is over for this caller."""
        caller = self._callers.pop(fact.call.unique_id, None)
        if caller is None:
            return
        if caller.gap is not None:
            caller.gap.cancel()
        self._hush(caller)
        if caller.keys.pending:
            # Hung up (or answered) half-way through a key sequence: seen, not acted on.
            data = {"keys": caller.keys.pending, "stage": caller.stage.value}
            await self._calls.note(caller.call.unique_id, "caller", "keys-unfinished", data)

    # ---- what they press -------------------------------------------------------------------

    async def key(self, fact: KeyPressed) -> None:
        caller = self._callers.get(fact.call.unique_id)
        if caller is None or caller.stage == Stage.AWAY:
            return  # not waiting: a key in a conversation or on hold means nothing to the menu
        loop = asyncio.get_running_loop()
        choices, flooded = caller.keys.press(fact.digit, loop.time())
        if flooded:
            log.warning("call %s: too many keys, dropping them for now", caller.call.unique_id)
            data = {"stage": caller.stage.value, "limit": "keys per 2 s"}
            await self._calls.note(caller.call.unique_id, "caller", "keys-flood", data)
        for choice in choices:
            await self._choose(caller, choice)
        if caller.gap is not None:
            caller.gap.cancel()
            caller.gap = None
        if caller.keys.pending:
            caller.gap = asyncio.create_task(self._after_gap(caller))

    async def _after_gap(self, caller: _Caller) -> None:
        await asyncio.sleep(DIGIT_GAP)
        try:
            for choice in caller.keys.gap_over():
                if self._callers.get(caller.call.unique_id) is not caller:
                    return  # answered or gone meanwhile
                await self._choose(caller, choice)
        except Exception:
            log.exception("call %s: a held-back key could not be taken", caller.call.unique_id)
        finally:
            caller.gap = None

    async def _choose(self, caller: _Caller, choice: Choice) -> None:
        uid = caller.call.unique_id
        stage = caller.stage
        data: dict[str, Any] = {"key": choice.key, "stage": stage.value}
        if choice.kind == "unknown":
            await self._calls.note(uid, "caller", "key-unknown", data)
            return
        data["meaning"] = choice.kind
        changed = await self._calls.choose_while_waiting(
            uid, lambda c, f, answered: self._menu.after(choice, c, f, answered), data
        )
        if changed is None:
            return
        _ticket, before, after = changed
        log.info("call %s: key %s while %s, priority %d→%d", uid, choice.key, stage, before, after)
        await self._move(caller, before, after)
        if caller.stage == Stage.WELCOME:
            caller.on_joining = choice.prompts
        # Ringing a call-taker already: no prompt over the ring (the key is on the ticket).
        elif choice.prompts and caller.stage == Stage.WAITING:
            await self._whisper(caller, choice.prompts)

    async def _move(self, caller: _Caller, before: int, after: int) -> None:
        if after == before:
            return
        uid, channel = caller.call.unique_id, caller.call.channel
        if caller.stage == Stage.WELCOME:
            await self._act(uid, self._port.set_join_priority(channel, after))
            caller.joined_with = after
        else:
            await self._act(uid, self._port.change_priority(self._queue, channel, after))

    async def _restrict_if_listed(self, caller: _Caller) -> bool:
        """A number restricted for prank calls waits at the lowest priority and hears why; it is
        still queued and answered (it may be a real emergency this time). True when it was
        applied now."""
        uid = caller.call.unique_id
        number = sanitise(caller.call.caller_number, caller.call.caller_name).number
        try:
            restriction = await self._restrictions.active(number)
        except Exception:
            log.exception("call %s: restriction lookup failed; unrestricted", uid)
            return False
        if restriction is None:
            return False
        call = await self._calls.call(uid)
        if call is not None and RESTRICTED in call.ticket.flags:
            return False  # applied when the caller first came (the controller restarted since)
        data = {"restriction": restriction.id, "stage": caller.stage.value}
        restricted = Choice("", flag=RESTRICTED, kind="restricted")
        changed = await self._calls.choose_while_waiting(
            uid,
            lambda c, f, answered: self._menu.after(restricted, c, f, answered),
            data,
            kind="restricted",
        )
        if changed is None:
            return False
        ticket_id, before, after = changed
        await self._restrictions.applied(restriction.id, ticket_id)
        await self._move(caller, before, after)
        warning = (self._menu.restricted_prompt,)
        if caller.stage == Stage.WELCOME:
            caller.on_joining = warning
        else:
            await self._whisper(caller, warning)
        return True

    async def _whisper(self, caller: _Caller, prompts: tuple[str, ...]) -> None:
        self._hush(caller)  # one answer at a time: the newest
        caller.whisper = await self._act(
            caller.call.unique_id, self._port.whisper(caller.call.channel, prompts)
        )

    async def _whisper_after(self, caller: _Caller, prompts: tuple[str, ...], delay: float) -> None:
        await asyncio.sleep(delay)
        caller.later = None
        if caller.stage == Stage.WAITING and self._callers.get(caller.call.unique_id) is caller:
            await self._whisper(caller, prompts)

    def _hush(self, caller: _Caller) -> None:
        """Nothing more is whispered to this caller: a pending answer is dropped, and the one
        playing is stopped in the background (the screen-pop does not wait for Asterisk)."""
        if caller.later is not None:
            caller.later.cancel()
            caller.later = None
        whisper, caller.whisper = caller.whisper, None
        if whisper is not None:
            task = asyncio.create_task(self._stop_whisper(caller.call.unique_id, whisper))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def _stop_whisper(self, unique_id: str, whisper: str) -> None:
        try:
            await asyncio.wait_for(self._port.stop_whisper(whisper), ACTION_TIMEOUT)
        except Exception as e:  # a whisper that already ended is gone: expected
            log.debug("call %s: whisper %s already over (%s)", unique_id, whisper, e)

    async def _act(self, unique_id: str, action: Awaitable[T]) -> T | None:
        """An action on Asterisk for a waiting caller; its failure costs the caller nothing
        more than the action (they stay in the queue, and the key is on the ticket)."""
        try:
            return await asyncio.wait_for(action, ACTION_TIMEOUT)
        except Refused as e:  # the caller hung up meanwhile, most often: nothing is lost
            log.info("call %s: Asterisk refused the waiting caller's change: %s", unique_id, e)
        except Exception:
            log.exception("call %s: Asterisk did not take the waiting caller's change", unique_id)
        return None
