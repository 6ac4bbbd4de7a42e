"""Slowing down password guessing: after a few wrong passwords for one login, or from one client
address, each next try must wait, twice as long after every further failure. Plain logic with an
injected clock; web/auth.py asks it before checking a password and tells it how the check went.

A throttled try is refused before the password is checked, so guessing faster gains nothing and
costs the centre no scrypt. Memory is bounded: each table keeps its most recently failing keys
only, so spraying names or addresses cannot grow it, and pushing a throttled key out takes as many
failures as the table holds, each counted against the sprayer's own address.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..config import USERNAME_RE, WebConfig

Clock = Callable[[], float]
# A key quiet this long (no failure) is forgotten: an old typo does not make tomorrow's wait.
FORGET_AFTER = 3600.0
CAPACITY = 10_000
# Every name that could never be a login shares one record: a sprayer's junk names cannot push
# real logins' records out, and no record holds a long string.
NOT_A_LOGIN = "\0not-a-login"


@dataclass
class _Failures:
    count: int
    last: float


class Throttle:
    """Failed tries per key (a login name, a client address): `free` failures cost nothing, then
    the next try waits `first_delay` seconds after the last failure, doubling with each further
    failure up to `longest_delay`."""

    def __init__(
        self,
        free: int,
        first_delay: float,
        longest_delay: float,
        clock: Clock = time.monotonic,
        forget_after: float = FORGET_AFTER,
        capacity: int = CAPACITY,
    ):
        self._free = free
        self._first = first_delay
        self._longest = longest_delay
        self._clock = clock
        self._forget_after = max(forget_after, longest_delay)
        self._capacity = capacity
        # Oldest failure first: the front is what is forgotten or pushed out first.
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def wait(self, key: str) -> float:
        """Seconds before `key` may try again (0: now)."""
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        elapsed = self._clock() - failures.last
        if elapsed >= self._forget_after:
            del self._failures[key]
            return 0.0
        return max(0.0, self._delay(failures.count) - elapsed)

    def _delay(self, count: int) -> float:
        if count < self._free:
            return 0.0
        # first_delay × 2^(failures past the free ones); capped before it could overflow.
        return min(self._longest, math.ldexp(self._first, min(count - self._free, 64)))

    def failed(self, key: str) -> None:
        at = self._clock()
        failures = self._failures.pop(key, None)
        if failures is None or at - failures.last >= self._forget_after:
            failures = _Failures(0, at)
        failures.count += 1
        failures.last = at
        self._failures[key] = failures
        self._make_room()

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def take_back(self, key: str) -> None:
        """One failure counted too early (a try that turned out right) is not one."""
        failures = self._failures.get(key)
        if failures is not None:
            failures.count -= 1
            if failures.count <= 0:
                del self._failures[key]

    def _make_room(self) -> None:
        at = self._clock()
        while self._failures:
            _key, oldest = next(iter(self._failures.items()))
            if len(self._failures) <= self._capacity and at - oldest.last < self._forget_after:
                return
            self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)


class LoginThrottle:
    """The two tables a login is checked against: its login name and its client address. The
    address allows more failures than a login does: a whole centre's desks may share one."""

    def __init__(self, web: WebConfig, clock: Clock = time.monotonic, capacity: int = CAPACITY):
        delays = (web.login_first_delay, web.login_longest_delay)
        self.logins = Throttle(web.login_free_tries, *delays, clock=clock, capacity=capacity)
        self.addresses = Throttle(
            web.login_free_tries_per_address, *delays, clock=clock, capacity=capacity
        )

    @staticmethod
    def _login_key(username: str) -> str:
        return username if USERNAME_RE.fullmatch(username) else NOT_A_LOGIN

    def wait(self, username: str, address: str) -> float:
        """Seconds before this login may be tried from this address (0: now)."""
        return max(self.logins.wait(self._login_key(username)), self.addresses.wait(address))

    def trying(self, username: str, address: str) -> None:
        """A password is about to be checked: it counts as wrong until it proves right, so a
        burst of tries sent at once is slowed like the same tries sent one after another."""
        self.logins.failed(self._login_key(username))
        self.addresses.failed(address)

    def succeeded(self, username: str, address: str) -> None:
        """The right password: the login starts afresh, and the address has one failure fewer
        (not none: one working login must not let its holder guess others' unslowed)."""
        self.logins.forget(self._login_key(username))
        self.addresses.take_back(address)
