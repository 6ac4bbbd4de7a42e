"""A domain refusal that reaches the web unhandled keeps its meaning: Asterisk being down mid-action
is a 503 the console can say, not a 500."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.refused import Refused, Why
from callcenter.telephony.ami import TelephonyUnavailable
from callcenter.web.app import domain_refusals


@pytest.mark.parametrize(
    ("refusal", "status"),
    [
        (TelephonyUnavailable("telephony unavailable"), 503),
        (Refused("Asterisk refused", Why.TELEPHONY), 502),
        (Refused("call is over", Why.CONFLICT), 409),
        (Refused("no such call", Why.NOT_FOUND), 404),
    ],
)
async def test_an_unhandled_refusal_answers_with_its_status(refusal: Refused, status: int) -> None:
    async def hold(request: web.Request) -> web.Response:
        raise refusal

    app = web.Application(middlewares=[domain_refusals])
    app.router.add_post("/api/calls/1/hold", hold)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        response = await client.post("/api/calls/1/hold")
        assert response.status == status
        assert await response.json() == {"error": str(refusal)}
    finally:
        await client.close()


async def test_other_errors_are_not_dressed_up_as_refusals() -> None:
    async def broken(request: web.Request) -> web.Response:
        raise KeyError("bug")

    app = web.Application(middlewares=[domain_refusals])
    app.router.add_get("/x", broken)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        assert (await client.get("/x")).status == 500
    finally:
        await client.close()
