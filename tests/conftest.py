import pytest

from tests.centre import REPO


@pytest.fixture(scope="session")
def repo():
    return REPO
