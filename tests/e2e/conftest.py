"""End-to-end fixtures: a user's HTTP client of the real server process."""

from collections.abc import Iterator

import pytest

from tests.e2e.helpers import UserApi
from tests.support.processes import ServerProcess


@pytest.fixture
def api(server: ServerProcess) -> Iterator[UserApi]:
    user_api = UserApi(server)
    yield user_api
    user_api.http.close()
