"""The live feed's socket handler over a real loopback WebSocket, without the rest of the centre:
the paths a whole-centre test cannot force on demand (a console too slow for the feed, a logout
while the feed is busy)."""

from __future__ import annotations

from types import SimpleNamespace

from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.live.bus import Bus
from callcenter.live.messages import DeskChanged
from callcenter.web import live
from callcenter.web.access import Role
from callcenter.web.auth import ACCOUNTS_KEY, hash_password, login
from callcenter.web.services import SERVICES
from tests.records import sqlite_records
from tests.unit.fakes import routing_config


async def feed_app(tmp_path, queue_size: int):
    """The real handler, accounts and bus; only what /ws/live uses of the services is there."""
    bus = Bus(queue_size=queue_size)
    records = await sqlite_records(tmp_path, bus)
    await records.accounts.add_user("petugas", hash_password("kata-sandi-uji"), Role.CALLTAKER)
    app = web.Application()
    app[ACCOUNTS_KEY] = records.accounts
    app[SERVICES] = SimpleNamespace(
        config=routing_config(tmp_path), accounts=records.accounts, bus=bus
    )  # type: ignore[assignment]
    live.add_routes(app)
    app.router.add_post("/logout", _logout)
    return app, bus, records


async def _logout(request: web.Request) -> web.Response:
    await live.log_out(request)
    return web.json_response({"ok": True})


async def feed_of(client: TestClient, token: str) -> ClientWebSocketResponse:
    return await client.ws_connect("/ws/live", headers={"Authorization": f"Bearer {token}"})


def desk_event(n: int) -> DeskChanged:
    return DeskChanged(extension="2001", username="petugas", desk={"extension": "2001", "n": n})


async def test_a_console_too_slow_for_the_feed_is_told_to_reconnect(tmp_path):
    app, bus, records = await feed_app(tmp_path, queue_size=3)
    _user, token = await login(records.accounts, "petugas", "kata-sandi-uji")
    async with TestClient(TestServer(app)) as client:
        socket = await feed_of(client, token)
        first = desk_event(0)
        bus.publish(first)
        assert (await socket.receive_json(timeout=5))["seq"] == 1
        # Ten events while the handler cannot run: its queue holds three, so it has missed some.
        for n in range(1, 11):
            bus.publish(desk_event(n))
        received, closed = [], None
        for _ in range(10):
            message = await socket.receive(timeout=5)
            if message.type == WSMsgType.TEXT:
                received.append(message.json())
            else:
                closed = message
                break
        # No gap is ever passed off as the whole story: what arrives is in order and unbroken,
        # then the close says "reconnect and reload" (the console reloads from the API).
        assert [m["desk"]["n"] for m in received] == [1, 2, 3][: len(received)]
        assert [m["seq"] for m in received] == [2, 3, 4][: len(received)]
        assert closed is not None and closed.type == WSMsgType.CLOSE
        assert closed.data == live.TOO_SLOW
        # The bus no longer holds it; others keep receiving.
        assert not bus._subscribers
        again = await feed_of(client, token)
        bus.publish(desk_event(11))
        assert (await again.receive_json(timeout=5))["desk"]["n"] == 11
        await again.close()
    await records.engine.dispose()


async def test_a_logout_closes_only_its_own_sessions_feeds(tmp_path):
    app, bus, records = await feed_app(tmp_path, queue_size=100)
    _user, leaving = await login(records.accounts, "petugas", "kata-sandi-uji")
    _user, staying = await login(records.accounts, "petugas", "kata-sandi-uji")
    async with TestClient(TestServer(app)) as client:
        sockets = {token: await feed_of(client, token) for token in (leaving, staying)}
        bus.publish(desk_event(1))
        for socket in sockets.values():
            assert (await socket.receive_json(timeout=5))["seq"] == 1
        logout = await client.post("/logout", headers={"Authorization": f"Bearer {leaving}"})
        assert logout.status == 200
        closed = await sockets[leaving].receive(timeout=5)
        assert (closed.type, closed.data) == (WSMsgType.CLOSE, live.LOGGED_OUT)
        assert await records.accounts.user_of_session(leaving) is None
        # The other screen goes on.
        bus.publish(desk_event(2))
        assert (await sockets[staying].receive_json(timeout=5))["desk"]["n"] == 2
        # Hostile: a logout without a session, or with someone's made-up token, closes nothing.
        for headers in ({}, {"Authorization": "Bearer " + "x" * 43}):
            assert (await client.post("/logout", headers=headers)).status == 200
        bus.publish(desk_event(3))
        assert (await sockets[staying].receive_json(timeout=5))["desk"]["n"] == 3
        await sockets[staying].close()
    await records.engine.dispose()


async def test_a_session_ended_elsewhere_loses_its_feed_at_the_next_check(tmp_path, monkeypatch):
    monkeypatch.setattr(live, "SESSION_RECHECK", 0.2)
    app, bus, records = await feed_app(tmp_path, queue_size=100)
    _user, ended = await login(records.accounts, "petugas", "kata-sandi-uji")
    _user, staying = await login(records.accounts, "petugas", "kata-sandi-uji")
    async with TestClient(TestServer(app)) as client:
        sockets = {token: await feed_of(client, token) for token in (ended, staying)}
        # Not a logout through this server (another controller, an administrator, the clock):
        # only the periodic check can notice. One query covers both sockets.
        await records.accounts.end_session(ended)
        closed = await sockets[ended].receive(timeout=5)
        assert (closed.type, closed.data) == (WSMsgType.CLOSE, live.LOGGED_OUT)
        bus.publish(desk_event(1))
        assert (await sockets[staying].receive_json(timeout=5))["desk"]["n"] == 1
        await sockets[staying].close()
    await records.engine.dispose()
