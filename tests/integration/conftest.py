"""Integration fixtures: a real Asterisk 22 for the session and the real controller process."""

from __future__ import annotations

import secrets
import time

import pytest

from callcenter.telephony.asterisk import LocalAsterisk
from tests.centre import Api, Controller, SipPhone, TestCentre, cli, load_config, write_test_config


@pytest.fixture(scope="session")
async def asterisk(tmp_path_factory):
    directory = tmp_path_factory.mktemp("centre")
    config_path = write_test_config(directory)
    config = load_config(config_path)
    local = LocalAsterisk(config)
    await local.start()
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
    yield TestCentre(
        config_path=config_path, config=config, admin_password=admin_password, asterisk=local
    )
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
def caller(asterisk):
    """The public caller's SIP phone (extension 9001), registered."""
    phone_conf = next(p for p in asterisk.config.test_callers if p.extension == "9001")
    phone = SipPhone(asterisk, phone_conf.extension, phone_conf.secret)
    phone.register()
    yield phone
    phone.stop()
    time.sleep(0.2)
