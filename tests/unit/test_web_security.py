"""The web settings the shared test controller does not run with (issue 15, findings 6, 7 and 9):
behind a TLS reverse proxy the session cookie is Secure and only the public origin may change
anything; X-Forwarded-For counts only when configured. The real login handler, middleware and
header hook, on a real database, served by aiohttp's test server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.config import ConfigError, WebConfig, load
from callcenter.web import sessions
from callcenter.web.app import security_headers
from callcenter.web.auth import ACCOUNTS_KEY, THROTTLE_KEY, WEB_CONFIG_KEY, hash_password
from callcenter.web.origins import same_origin_changes
from callcenter.web.throttle import LoginThrottle
from tests.records import sqlite_records

PUBLIC = "https://112.malangkota.go.id"
PASSWORD = "kata-sandi-uji"


@pytest.fixture
async def accounts(tmp_path):
    records = await sqlite_records(tmp_path)
    await records.accounts.add_user("sari", hash_password(PASSWORD), "call-taker")
    yield records.accounts
    await records.engine.dispose()


def login_app(accounts, web_config: WebConfig) -> web.Application:
    app = web.Application(middlewares=[same_origin_changes])
    app.on_response_prepare.append(security_headers)
    app[ACCOUNTS_KEY] = accounts
    app[WEB_CONFIG_KEY] = web_config
    app[THROTTLE_KEY] = LoginThrottle(web_config)
    app.router.add_post("/api/login", sessions.post_login)
    return app


async def client_of(app: web.Application) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def log_in(client: TestClient, origin: str | None, **headers: str) -> web.Response:
    if origin is not None:
        headers["Origin"] = origin
    return await client.post(
        "/api/login", json={"username": "sari", "password": PASSWORD}, headers=headers
    )


async def test_behind_a_tls_proxy_the_cookie_is_secure_and_only_the_public_origin_counts(accounts):
    app = login_app(accounts, WebConfig(public_origin=PUBLIC))
    async for client in client_of(app):
        # The proxy talks plain HTTP to us; the browser's page is https://112.malangkota.go.id.
        reply = await log_in(client, PUBLIC)
        assert reply.status == 200
        cookie = reply.cookies["ngalam112_session"]
        assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"
        assert reply.headers["X-Frame-Options"] == "DENY"
        # The controller's own address is not where browsers are: refused, as is http:// of
        # the public host (a downgraded page), and another port of it.
        own = str(client.make_url("")).rstrip("/")
        for origin in (own, "http://112.malangkota.go.id", PUBLIC + ":8443", "null"):
            reply = await log_in(client, origin)
            assert reply.status == 403, origin
            assert reply.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("web_config", "secure"),
    [(WebConfig(), False), (WebConfig(tls=True), True)],
)
async def test_the_cookie_is_secure_when_configured_for_tls(accounts, web_config, secure):
    async for client in client_of(login_app(accounts, web_config)):
        reply = await log_in(client, str(client.make_url("")).rstrip("/"))
        assert reply.status == 200
        assert bool(reply.cookies["ngalam112_session"]["secure"]) is secure


async def wrong_logins(client: TestClient, count: int, forwarded_for: str) -> list[int]:
    statuses = []
    for i in range(count):
        reply = await client.post(
            "/api/login",
            json={"username": f"tamu{i}", "password": "salah"},
            headers={"X-Forwarded-For": f"{forwarded_for}{i}, 192.0.2.{i % 200}"},
        )
        statuses.append(reply.status)
    return statuses


async def test_x_forwarded_for_counts_only_when_configured(accounts):
    web_config = WebConfig(login_free_tries_per_address=5, login_first_delay=60)
    # Not configured: a client writing a new X-Forwarded-For on each try is still one address.
    async for client in client_of(login_app(accounts, web_config)):
        assert await wrong_logins(client, 7, "203.0.113.") == [401] * 5 + [429] * 2
    # Behind a proxy: the address it appended (the last entry) is the client's, whatever the
    # client wrote before it.
    web_config.trust_forwarded_for = True
    async for client in client_of(login_app(accounts, web_config)):
        assert await wrong_logins(client, 7, "203.0.113.") == [401] * 7


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('public_origin = "https://112.malangkota.go.id/console"', "web.public_origin"),
        ('public_origin = "ftp://112.malangkota.go.id"', "web.public_origin"),
        ('public_origin = "https://user@112.malangkota.go.id"', "web.public_origin"),
        ('public_origin = "https://112.malangkota.go.id:99999"', "web.public_origin"),
        ("login_free_tries = 30", "web.login_free_tries_per_address"),
        ("login_first_delay = 0", "web.login_longest_delay"),
        ("login_first_delay = 600.0", "web.login_longest_delay"),
        ("trust_forwarded_for = 1", "web.trust_forwarded_for"),
        ("secure = true", "web.secure"),
    ],
)
def test_web_settings_that_make_no_sense_stop_start_up(tmp_path, text, key):
    path = tmp_path / "callcenter.toml"
    path.write_text(f"[web]\n{text}\n")
    with pytest.raises(ConfigError) as refused:
        load(path, env={})
    assert refused.value.key == key


def test_a_public_https_origin_means_secure_cookies(tmp_path):
    path = tmp_path / "callcenter.toml"
    path.write_text(f'[web]\npublic_origin = "{PUBLIC}"\n')
    assert load(path, env={}).web.secure_cookies
