import pytest

from tests.builders import policy


@pytest.fixture
def gb():
    return policy()
