"""The menu a caller hears while waiting for a call-taker, and what each key means. Plain logic.

The caller is in the queue from the end of the welcome; the waiting audio offers the menu, and
each key arrives as a telephony fact (AMI DTMFEnd). Nothing here waits for a key: a key changes
what the centre knows (category, flags) and so the caller's place in the queue (priority).

    1-5  a category: its queue priority, and its agency if the call overflows
    9    informasi: not an emergency; the caller hears where to go and may stay for a person
    0    "let me talk to a person": they are already in line, it is only noted
    55   "I cannot talk": silent-but-present, the highest priority
A "5" waits DIGIT_GAP seconds for a second "5" before it means fire.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import CALLTAKER, Category, Config
from ..telephony import dialplan
from . import prompts

SILENT_BUT_PRESENT = "silent-but-present"
RESTRICTED = "restricted"

# How long a key that may start the silent code waits for the rest of it (seconds).
DIGIT_GAP = 1.5
# Keys a caller may press in FLOOD_WINDOW seconds; past that the rest are dropped (and noted
# once): a stuck key or a tone generator must not turn into hundreds of ticket writes.
FLOOD_KEYS = 8
FLOOD_WINDOW = 2.0


@dataclass(frozen=True)
class Menu:
    """The menu's plan for every call, taken from the configuration once."""

    keys: dict[str, str]  # key → category id or CALLTAKER
    categories: dict[str, Category]
    silent_key: str
    silent_priority: int
    information_prompts: tuple[str, ...]
    # Priority of a caller whose need is not known yet; the dialplan queues every call with it.
    unknown_priority: int = int(dialplan.JOIN_PRIORITY)
    # A number restricted for prank calls hears this, and waits at this priority.
    restricted_prompt: str = "id/prank-warning"
    restricted_priority: int = 0

    @classmethod
    def from_config(cls, config: Config) -> Menu:
        ivr = config.ivr
        return cls(
            keys={digit: choice for choice, digit in ivr.menu.items()},
            categories=dict(config.categories),
            silent_key=ivr.silent_key,
            silent_priority=ivr.silent_priority,
            information_prompts=tuple(f"id/{p}" for p in ivr.information_prompts),
            restricted_prompt=f"id/{config.prank_policy.warning_prompt}",
            restricted_priority=config.prank_policy.priority,
        )

    def priority(self, category: str | None, flags: list[str]) -> int:
        """A waiting caller's queue priority, from what is known of them now."""
        if SILENT_BUT_PRESENT in flags:
            return self.silent_priority  # a caller who cannot talk keeps theirs, restricted or not
        if RESTRICTED in flags:
            return self.restricted_priority
        known = self.categories.get(category) if category else None
        return known.priority if known is not None else self.unknown_priority

    def after(
        self, choice: Choice, category: str | None, flags: list[str], answered_before: bool
    ) -> tuple[str | None, list[str], int]:
        """What the ticket knows after a waiting caller's choice: (category, flags, priority).

        A key never undoes what a person decided or what makes the call urgent: a category a
        call-taker already had (the caller is back in the queue after a hold or an agency) stays,
        and informasi does not replace an emergency category (a caller pressing 2, then 9, is
        still an ambulance call and may still overflow to PMI). Otherwise the latest key wins:
        callers correct themselves."""
        current = self.categories.get(category) if category else None
        keeps = answered_before or (
            current is not None
            and current.emergency
            and choice.category is not None
            and not self.categories[choice.category].emergency
        )
        if choice.category is not None and not keeps:
            category = choice.category
        if choice.flag is not None and choice.flag not in flags:
            flags = [*flags, choice.flag]
        return category, flags, self.priority(category, flags)


@dataclass(frozen=True)
class Choice:
    """What a key (or the silent code) means. `prompt`: what the waiting caller hears back."""

    key: str
    category: str | None = None  # set: the ticket's category becomes this
    flag: str | None = None  # set: the ticket gets this flag
    kind: str = "category"  # category, informasi, calltaker, silent, unknown
    prompts: tuple[str, ...] = ()


def meaning(menu: Menu, keys: str) -> Choice:
    """What a complete key sequence means."""
    if keys == menu.silent_key:
        return Choice(
            keys, flag=SILENT_BUT_PRESENT, kind="silent", prompts=(prompts.SILENT_CONFIRMED,)
        )
    choice = menu.keys.get(keys)
    if choice == CALLTAKER:
        return Choice(keys, kind="calltaker", prompts=(prompts.KEY_HEARD,))
    category = menu.categories.get(choice) if choice else None
    if category is None:
        return Choice(keys, kind="unknown")
    if not category.emergency:
        return Choice(keys, category.id, kind="informasi", prompts=menu.information_prompts)
    return Choice(keys, category.id, prompts=(prompts.KEY_HEARD,))


@dataclass
class KeyReader:
    """One waiting caller's keys: complete sequences out, a possible silent code held back."""

    menu: Menu
    pending: str = ""
    pressed_at: list[float] = field(default_factory=list)
    flooded: bool = False

    def press(self, digit: str, now: float) -> tuple[list[Choice], bool]:
        """The choices this key completes, and whether it is the first one past the flood limit
        (to be noted once). A key that may start the silent code completes nothing yet: call
        `gap_over` after DIGIT_GAP."""
        self.pressed_at = [t for t in self.pressed_at if now - t < FLOOD_WINDOW]
        if len(self.pressed_at) >= FLOOD_KEYS:
            first = not self.flooded
            self.flooded = True
            return [], first
        self.flooded = False
        self.pressed_at.append(now)
        code = self.menu.silent_key
        sequence = self.pending + digit
        if code.startswith(sequence):
            if sequence == code:
                self.pending = ""
                return [meaning(self.menu, code)], False
            self.pending = sequence
            return [], False
        # Not the silent code after all: what was held back counts on its own, then this key.
        held, self.pending = self.pending, ""
        choices = [meaning(self.menu, k) for k in held]
        if code.startswith(digit):
            self.pending = digit
        else:
            choices.append(meaning(self.menu, digit))
        return choices, False

    def gap_over(self) -> list[Choice]:
        """No more keys came: what was held back counts on its own."""
        held, self.pending = self.pending, ""
        return [meaning(self.menu, k) for k in held]
