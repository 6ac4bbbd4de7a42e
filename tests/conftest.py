import pytest

from tests.centre import REPO

# The real centre (Asterisk, controller, logins, phones) for integration and browser tests.
pytest_plugins = ["tests.fixtures_centre"]


@pytest.fixture(scope="session")
def repo():
    return REPO
