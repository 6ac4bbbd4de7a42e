"""The one table of who handles which telephony fact.

Each package that acts on what happens on the phones subscribes its handlers in its own
`subscriptions.py` (tickets, routing, calltakers, speech); app.py calls those in order, so the
answer to "where do I add 'on hangup, do X'?" is the `subscribe()` of the package X belongs to.
Handlers of one fact run one after the other, in the order they were subscribed: the ticket is
written before the desk reads it for the screen-pop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .facts import CallEvent

F = TypeVar("F")
Handler = Callable[[Any], Awaitable[None]]


class FactTable:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)

    def subscribe(self, fact: type[F], handler: Callable[[F], Awaitable[None]]) -> None:
        self._handlers[fact].append(handler)

    async def deliver(self, fact: CallEvent) -> None:
        """Hand the fact to each of its handlers in turn (a handler's failure is the caller's:
        the AMI consumer and the CDR reader log it and go on with the next fact)."""
        for handler in self._handlers.get(type(fact), ()):
            await handler(fact)

    def rows(self) -> list[tuple[str, list[str]]]:
        """The table as names (fact → handlers), for the log at start-up and for tests."""
        return [
            (fact.__name__, [getattr(h, "__qualname__", repr(h)) for h in handlers])
            for fact, handlers in self._handlers.items()
        ]
