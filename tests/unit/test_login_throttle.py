"""Password guessing is slowed down per login and per client address (issue 15, finding 6): the
throttle's arithmetic with a clock the test moves."""

from __future__ import annotations

from callcenter.config import WebConfig
from callcenter.web.throttle import NOT_A_LOGIN, LoginThrottle, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_free_tries_then_a_wait_that_doubles_up_to_a_cap():
    clock = Clock()
    throttle = Throttle(free=5, first_delay=1.0, longest_delay=300.0, clock=clock)
    for _ in range(4):
        throttle.failed("sari")
        assert throttle.wait("sari") == 0
    waits = []
    for _ in range(12):
        throttle.failed("sari")
        waits.append(throttle.wait("sari"))
        clock.now += waits[-1]  # the next try comes as soon as it may
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]


def test_the_wait_runs_from_the_last_failure():
    clock = Clock()
    throttle = Throttle(free=1, first_delay=10.0, longest_delay=300.0, clock=clock)
    throttle.failed("sari")
    clock.now += 4
    assert throttle.wait("sari") == 6
    clock.now += 6
    assert throttle.wait("sari") == 0
    # Trying again once the wait is over is allowed; failing again doubles it.
    throttle.failed("sari")
    assert throttle.wait("sari") == 20


def test_keys_are_counted_apart_and_a_right_password_forgets_its_login():
    clock = Clock()
    throttle = Throttle(free=2, first_delay=5.0, longest_delay=60.0, clock=clock)
    throttle.failed("sari")
    throttle.failed("sari")
    assert throttle.wait("sari") == 5 and throttle.wait("budi") == 0
    throttle.forget("sari")
    assert throttle.wait("sari") == 0
    throttle.failed("sari")
    assert throttle.wait("sari") == 0  # one failure of a fresh count


def test_a_quiet_hour_forgets_old_failures():
    clock = Clock()
    throttle = Throttle(free=2, first_delay=5.0, longest_delay=60.0, clock=clock, forget_after=3600)
    for _ in range(5):
        throttle.failed("sari")
    clock.now += 3600
    assert throttle.wait("sari") == 0 and len(throttle) == 0
    throttle.failed("sari")
    assert throttle.wait("sari") == 0


def test_spraying_keys_cannot_grow_memory_and_old_keys_leave_first():
    clock = Clock()
    throttle = Throttle(free=1, first_delay=5.0, longest_delay=60.0, clock=clock, capacity=100)
    throttle.failed("sari")
    for i in range(10_000):
        clock.now += 0.001
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle) == 100
    assert throttle.wait("sari") == 0  # the oldest was pushed out, not the newest
    assert throttle.wait("10.0.39.15") > 0


def test_a_burst_sent_at_once_is_throttled_like_the_same_tries_in_a_row():
    clock = Clock()
    throttle = LoginThrottle(WebConfig(login_free_tries=5), clock=clock)
    # Each try counts as it starts, before its password is checked (in a thread): a burst of
    # concurrent tries finds the earlier ones already counted.
    admitted = 0
    for _ in range(100):
        if throttle.wait("sari", "198.51.100.7") == 0:
            throttle.trying("sari", "198.51.100.7")
            admitted += 1
    assert admitted == 5


def test_an_address_allows_more_failures_than_a_login_and_a_success_takes_back_one():
    clock = Clock()
    web = WebConfig(login_free_tries=3, login_free_tries_per_address=6, login_first_delay=2.0)
    throttle = LoginThrottle(web, clock=clock)
    address = "198.51.100.7"
    for _ in range(3):
        throttle.trying("sari", address)
    assert throttle.wait("sari", address) == 2  # the login is throttled…
    assert throttle.wait("budi", address) == 0  # …its address not yet
    throttle.trying("budi", address)
    throttle.succeeded("budi", address)  # budi's password was right
    assert throttle.wait("budi", address) == 0
    for name in ("tono", "wati", "eka"):
        throttle.trying(name, address)
    # Six failures from one address: every login from it waits, even one never tried.
    assert throttle.wait("dewi", address) == 2
    assert throttle.wait("dewi", "203.0.113.9") == 0
    # sari's right password clears sari's count, and the address's only by that one try: one
    # more failure from it and it waits again.
    throttle.succeeded("sari", address)
    assert throttle.wait("sari", address) == 0
    throttle.trying("tono", address)
    assert throttle.wait("sari", address) == 2


def test_names_that_cannot_be_logins_share_one_short_record():
    throttle = LoginThrottle(WebConfig(), clock=Clock())
    for junk in ("a b", "x" * 5000, "ü", ""):
        throttle.trying(junk, "198.51.100.7")
    assert len(throttle.logins) == 1 and throttle.logins.wait(NOT_A_LOGIN) == 0
