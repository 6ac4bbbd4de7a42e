"""Fixtures of the integration and browser tests: a real Asterisk 22 for the session, the real
controller process, logins, and SIP phones. (Loaded by tests/conftest.py; each starts only when a
test asks for it, so unit tests start nothing.)"""

from __future__ import annotations

import secrets
import time

import pytest

from callcenter.telephony.asterisk import LocalAsterisk
from tests.centre import (
    Api,
    Controller,
    TestCentre,
    WebhookReceiver,
    add_test_callers,
    cli,
    load_config,
    phone,
    write_test_config,
)


@pytest.fixture(scope="session")
async def asterisk(tmp_path_factory):
    directory = tmp_path_factory.mktemp("centre")
    config_path = write_test_config(directory)
    config = load_config(config_path)
    local = LocalAsterisk(config)
    await local.start()
    await add_test_callers(local)
    admin_password = secrets.token_urlsafe(12)
    cli(
        config_path,
        "create-user",
        "admin",
        "--role",
        "admin",
        "--password-stdin",
        stdin=admin_password + "\n",
    )
    calltaker_password = secrets.token_urlsafe(12)
    cli(
        config_path,
        "create-user",
        "petugas",
        "--role",
        "call-taker",
        "--password-stdin",
        stdin=calltaker_password + "\n",
    )
    passwords = {}
    for username, role in (("petugas2", "call-taker"), ("penyelia", "supervisor")):
        passwords[username] = secrets.token_urlsafe(12)
        cli(
            config_path,
            "create-user",
            username,
            "--role",
            role,
            "--password-stdin",
            stdin=passwords[username] + "\n",
        )
    # One login per agency: the agency's page and its API token.
    for username, agency in (("polresta1", "polresta"), ("pmi1", "pmi")):
        passwords[username] = secrets.token_urlsafe(12)
        cli(
            config_path,
            "create-user",
            username,
            "--role",
            "agency",
            "--agency",
            agency,
            "--password-stdin",
            stdin=passwords[username] + "\n",
        )
    polresta = config.agency("polresta")
    assert polresta is not None
    webhooks = WebhookReceiver(polresta.webhook_url)
    yield TestCentre(
        config_path=config_path,
        config=config,
        admin_password=admin_password,
        calltaker_password=calltaker_password,
        asterisk=local,
        passwords=passwords,
        webhooks=webhooks,
    )
    webhooks.stop()
    await local.stop()


@pytest.fixture(scope="session")
def controller(asterisk, tmp_path_factory):
    proc = Controller(asterisk, tmp_path_factory.mktemp("controller") / "controller.log")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def running_controller(controller):
    """The controller, (re)started if an earlier test stopped it."""
    if controller.process is None or controller.process.poll() is not None:
        controller.start()
    return controller


@pytest.fixture
def admin_api(asterisk, running_controller):
    return Api.login(asterisk.base_url, "admin", asterisk.admin_password)


@pytest.fixture
def calltaker_api(asterisk, running_controller):
    return Api.login(asterisk.base_url, "petugas", asterisk.calltaker_password)


@pytest.fixture
def supervisor_api(asterisk, running_controller):
    return Api.login(asterisk.base_url, "penyelia", asterisk.passwords["penyelia"])


@pytest.fixture
def polresta_api(asterisk, running_controller):
    return Api.login(asterisk.base_url, "polresta1", asterisk.passwords["polresta1"])


@pytest.fixture
def pmi_api(asterisk, running_controller):
    return Api.login(asterisk.base_url, "pmi1", asterisk.passwords["pmi1"])


@pytest.fixture
def desk(asterisk, calltaker_api):
    """Call-taker 2001 at their softphone, logged into the queue, picking up calls."""
    sip = phone(asterisk, "2001", answer=True)
    calltaker_api.desk("2001", "available")
    yield sip
    calltaker_api.desk("2001", "logged-out")
    sip.stop()


@pytest.fixture
def caller(asterisk):
    """The public caller's SIP phone (extension 9001, in-band DTMF), registered."""
    sip = phone(asterisk, "9001")
    yield sip
    sip.stop()
    time.sleep(0.2)
