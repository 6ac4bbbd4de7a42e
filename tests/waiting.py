"""Waiting for what a test expects, with a deadline, instead of sleeping a fixed time: a fixed sleep
is too long when the centre is quick and too short when the machine is loaded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 20,
    interval: float = 0.1,
    message: str | Callable[[], str] = "the condition never held",
) -> T:
    """The first truthy value `predicate` returns, polled every `interval` s; AssertionError with
    `message` (or what it returns: say what was seen) once `timeout` s have passed without one."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(interval)


async def until_async(
    predicate: Callable[[], Awaitable[T]],
    timeout: float = 20,
    interval: float = 0.1,
    message: str = "the condition never held",
) -> T:
    """`wait_until` for coroutines, without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(message)
        await asyncio.sleep(interval)
