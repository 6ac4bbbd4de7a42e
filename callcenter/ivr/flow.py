"""The `ivr` FastAGI route: greet the caller, find out what they need, hand the call to the queue.

    welcome ─▶ menu ─┬─ category ──▶ describe ─────────────┐
      (keys          ├─ informasi ─▶ where to go instead ──┤
       interrupt)    ├─ 0 / wrong key twice ───────────────┼─▶ connecting… ─▶ (dialplan) queue
                     └─ nothing twice ─▶ listen ─┬─ speech ┤
                                                 └─ silent ─▶ "press 55" ─▶ silent(-but-present)

The flow talks only to the Channel interface, a Describer (ports.py) and the ticket store, so it is
plain Python. It never hangs up: returning hands the call back to the dialplan, which queues it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from ..config import CALLTAKER, Category, Config
from ..live.facts import CallRef
from ..speech.meaning import Lexicon
from ..supervision.restriction_records import RestrictionRecords
from ..telephony import dialplan
from ..tickets.caller_id import sanitise
from ..tickets.calls import Calls
from ..tickets.models import Ticket
from . import prompts
from .channel import CallerHungUp, Channel
from .ports import Describer

log = logging.getLogger(__name__)

# Less speech than this in the listening step counts as a caller who cannot (or does not) talk.
MIN_SPEECH_SECONDS = 0.5

SILENT = "silent"
SILENT_BUT_PRESENT = "silent-but-present"
INFORMASI = "informasi"
RESTRICTED = "restricted"


@dataclass(frozen=True)
class Menu:
    """The IVR's plan for every call, taken from the configuration once."""

    keys: dict[str, str]  # key → category id or CALLTAKER
    categories: dict[str, Category]
    timeout: float
    describe: bool
    describe_seconds: int
    describe_silence: int
    silent_key: str
    silent_priority: int
    information_prompts: tuple[str, ...]
    max_wait: int
    # Priority of a call whose nature is not known yet (no category chosen).
    unknown_priority: int = 1
    # Words → categories, for a caller who skipped the menu but described the emergency.
    lexicon: Lexicon | None = None
    # A number restricted for prank calls hears this, and waits at this priority.
    restricted_prompt: str = "id/prank-warning"
    restricted_priority: int = 0

    @classmethod
    def from_config(cls, config: Config, lexicon: Lexicon | None = None) -> Menu:
        ivr = config.ivr
        return cls(
            lexicon=lexicon,
            keys={digit: choice for choice, digit in ivr.menu.items()},
            categories=dict(config.categories),
            timeout=ivr.menu_timeout,
            describe=ivr.describe,
            describe_seconds=ivr.describe_seconds,
            describe_silence=ivr.describe_silence,
            silent_key=ivr.silent_key,
            silent_priority=ivr.silent_priority,
            information_prompts=tuple(f"id/{p}" for p in ivr.information_prompts),
            max_wait=ivr.max_wait,
            restricted_prompt=f"id/{config.prank_policy.warning_prompt}",
            restricted_priority=config.prank_policy.priority,
        )

    @property
    def digits(self) -> str:
        return "".join(sorted(self.keys))


@dataclass
class IvrResult:
    """What the IVR learnt; it goes on the ticket even when the caller hangs up half-way."""

    category: str | None = None
    priority: int = 1
    flags: list[str] = field(default_factory=list)
    # What happened, in order, for the ticket's history: "menu:1", "timeout", "speech:4.2", …
    path: list[str] = field(default_factory=list)
    hung_up: bool = False
    # The restriction (prank policy) the caller's number is under, if any.
    restriction: int | None = None

    def as_event(self) -> dict[str, object]:
        return {
            "category": self.category,
            "priority": self.priority,
            "flags": self.flags,
            "path": self.path,
            "hung_up": self.hung_up,
        }


async def ivr(
    channel: Channel,
    calls: Calls,
    restrictions: RestrictionRecords,
    menu: Menu,
    describer: Describer,
) -> IvrResult:
    """Run the IVR for one call. The ticket is opened alongside the welcome (not before it, so the
    caller hears us at once) and always exists afterwards, whatever the caller did."""
    call = CallRef(
        unique_id=channel.unique_id,
        channel=channel.channel_name,
        linked_id=channel.linked_id,
        caller_number=channel.caller_number,
        caller_name=channel.caller_name,
    )
    opening: asyncio.Future[Ticket] | None = None
    looking_up: asyncio.Future[int | None] | None = None

    def ticket_opening() -> asyncio.Future[Ticket]:
        nonlocal opening
        if opening is None:
            opening = asyncio.ensure_future(calls.open_ticket(call, source="ivr"))
        return opening

    result = IvrResult(priority=menu.unknown_priority)
    try:
        await channel.answer()
        # Scheduled now, it first runs once the welcome's command is on its way to Asterisk: the
        # database write then overlaps the prompt instead of delaying it.
        ticket_opening()
        # Looked up alongside the menu, not before it: when many people call at once the
        # database is busiest, and the silence before the menu was where their keys got lost.
        looking_up = asyncio.ensure_future(_restriction_of(channel, restrictions))
        await _converse(channel, menu, result, calls, looking_up, describer)
        if result.restriction is not None and SILENT_BUT_PRESENT not in result.flags:
            # Lowest priority, still queued: a caller who shows they cannot talk keeps theirs.
            result.priority = menu.restricted_priority
        ticket = await asyncio.shield(ticket_opening())
        await _hand_over(channel, menu, result, ticket)
    except CallerHungUp:
        result.hung_up = True
        result.path.append("hung-up")
        raise
    finally:
        # Even after a hang-up: what the caller told us is evidence (and a silent call is a flag).
        ticket = await asyncio.shield(ticket_opening())
        if looking_up is not None:
            await _note_restriction(result, looking_up)
        await calls.ivr_done(
            channel.unique_id, result.category, result.priority, result.flags, result.as_event()
        )
        if result.restriction is not None:
            await restrictions.applied(result.restriction, ticket.id)
        log.info(
            "call %s: IVR %s, ticket %d, category %s, flags %s",
            channel.unique_id,
            "ended by hang-up" if result.hung_up else "done",
            ticket.id,
            result.category,
            result.flags,
        )
    return result


async def _restriction_of(channel: Channel, restrictions: RestrictionRecords) -> int | None:
    """The restriction (prank policy) the caller's number is under, if any."""
    number = sanitise(channel.caller_number, channel.caller_name).number
    restriction = await restrictions.active(number)
    return restriction.id if restriction is not None else None


async def _note_restriction(result: IvrResult, looking_up: asyncio.Future[int | None]) -> bool:
    """Note on the result whether the number is restricted; True the first time it is noted."""
    if result.restriction is not None:
        return False
    try:
        restriction = await asyncio.shield(looking_up)
    except Exception:
        # An emergency number does not refuse a call because a lookup failed.
        log.exception("restriction lookup failed; the call goes on unrestricted")
        return False
    if restriction is None:
        return False
    result.restriction = restriction
    result.flags.append(RESTRICTED)
    result.path.append(f"restricted:{restriction}")
    return True


async def _converse(
    channel: Channel,
    menu: Menu,
    result: IvrResult,
    calls: Calls,
    looking_up: asyncio.Future[int | None],
    describer: Describer,
) -> None:
    choice, failures = await _menu(channel, menu, result)
    if await _note_restriction(result, looking_up):
        # A number restricted for prank calls hears a short warning; the call goes on (an
        # emergency number never refuses a call: it may be a real emergency this time).
        await channel.play(menu.restricted_prompt)
    if choice == CALLTAKER:
        return
    if choice is not None:
        category = menu.categories.get(choice)
        if category is None:
            # Config validation prevents this; if it happens anyway a person takes the call.
            log.error("call %s: menu key leads to unknown category %r", channel.unique_id, choice)
            result.path.append(f"unknown-category:{choice}")
            return
        result.category = category.id
        result.priority = category.priority
        if not category.emergency:
            await _informasi(channel, menu, result)
        elif menu.describe:
            await _describe(channel, menu, result, describer)
        return
    if failures.count("timeout") == len(failures):
        await _silent_check(channel, menu, result, calls, describer)


async def _menu(channel: Channel, menu: Menu, result: IvrResult) -> tuple[str | None, list[str]]:
    """One choice from the menu, with one retry; returns it (or None) and what went wrong."""
    failures: list[str] = []
    if channel.welcome_key is None:
        key = await channel.play(prompts.WELCOME, digits=menu.digits)
    else:
        # The dialplan played the welcome (the caller hears it however busy we are); a key
        # pressed during it is the first choice.
        key = channel.welcome_key
    for _attempt in range(2):
        if not key:
            key = (await channel.read_digits(prompts.MENU, 1, menu.timeout))[:1]
        if key in menu.keys:
            result.path.append(f"menu:{key}")
            return menu.keys[key], failures
        if key:
            failures.append("invalid")
            result.path.append(f"invalid:{key}")
            key = await channel.play(prompts.INVALID, digits=menu.digits)
        else:
            failures.append("timeout")
            result.path.append("timeout")
    return None, failures


async def _describe(channel: Channel, menu: Menu, result: IvrResult, describer: Describer) -> float:
    await channel.play(prompts.DESCRIBE)
    speech = await describer.describe(channel, menu.describe_seconds, menu.describe_silence)
    result.path.append(f"speech:{speech:.1f}")
    return speech


async def _silent_check(
    channel: Channel, menu: Menu, result: IvrResult, calls: Calls, describer: Describer
) -> None:
    """A caller who pressed nothing may be unable to talk (an intruder nearby, a stroke): listen,
    and if there is no speech, offer a key to press to show they are there and need help."""
    if await _describe(channel, menu, result, describer) >= MIN_SPEECH_SECONDS:
        # They talk but do not press keys: a call-taker will hear them; meanwhile their words
        # suggest the category (its queue priority, and its agency on overflow).
        await _category_from_words(channel, menu, result, calls)
        return
    pressed = await channel.read_digits(prompts.SILENT_OFFER, len(menu.silent_key), menu.timeout)
    if pressed == menu.silent_key:
        result.flags.append(SILENT_BUT_PRESENT)
        result.priority = max(result.priority, menu.silent_priority)
        result.path.append("silent-key")
        await channel.play(prompts.SILENT_CONFIRMED)
    else:
        result.flags.append(SILENT)
        result.path.append(f"silent:{pressed}" if pressed else SILENT)


async def _category_from_words(
    channel: Channel, menu: Menu, result: IvrResult, calls: Calls
) -> None:
    if menu.lexicon is None:
        return
    heard = await calls.heard_so_far(channel.unique_id)
    for category_id in menu.lexicon.categories(heard):
        category = menu.categories.get(category_id)
        if category is not None and category.emergency:
            result.category, result.priority = category.id, category.priority
            result.path.append(f"words:{category.id}")
            return


async def _informasi(channel: Channel, menu: Menu, result: IvrResult) -> None:
    """Not an emergency: say where to go instead. The caller may still stay on for a person."""
    for prompt in menu.information_prompts:
        if await channel.play(prompt, digits="0") == "0":
            result.path.append("informasi:0")
            return
    result.path.append(INFORMASI)
    await channel.play(prompts.INFORMASI_STAY)


async def _hand_over(channel: Channel, menu: Menu, result: IvrResult, ticket: Ticket) -> None:
    """Tell the dialplan how to queue the call (and whether it may overflow to an agency)."""
    await channel.set_variable(dialplan.TICKET_ID, str(ticket.id))
    await channel.set_variable(dialplan.CATEGORY, result.category or "")
    await channel.set_variable(dialplan.QUEUE_PRIORITY, str(result.priority))
    emergency = result.category is None or menu.categories[result.category].emergency
    await channel.set_variable(dialplan.MAX_WAIT, str(menu.max_wait) if emergency else "")
    await channel.set_variable(dialplan.OVERFLOW, "yes" if emergency else "no")
    await channel.set_variable(dialplan.IVR_RESULT, "done")
    await channel.play(prompts.CONNECTING_CALLTAKER)
