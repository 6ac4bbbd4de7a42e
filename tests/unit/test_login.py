"""Logging in must not hold up the one event loop every call's AMI events and FastAGI replies
run on: the password check (scrypt, slow on purpose) runs in a thread."""

from __future__ import annotations

import asyncio
import threading

from callcenter.web import auth
from tests.records import sqlite_records


async def test_a_password_check_leaves_the_event_loop_free(tmp_path, monkeypatch):
    records = await sqlite_records(tmp_path)
    await records.accounts.add_user("sari", auth.hash_password("kata-sandi-uji"), "call-taker")
    checking, release = threading.Event(), threading.Event()
    released_by_the_loop: list[bool] = []
    real_check = auth.check_password

    def slow_check(password: str, stored: str) -> bool:
        checking.set()
        # Only this test's coroutine, on the event loop, sets `release`: had the check been
        # run on the loop, the loop would stand still here and the wait would run out.
        released_by_the_loop.append(release.wait(5))
        return real_check(password, stored)

    monkeypatch.setattr(auth, "check_password", slow_check)
    login = asyncio.create_task(auth.login(records.accounts, "sari", "kata-sandi-uji"))
    await asyncio.to_thread(checking.wait, 5)
    release.set()
    user, _token = await login
    assert released_by_the_loop == [True] and user.username == "sari"
    await records.engine.dispose()
