"""A worker's requests are authenticated from the tokens this server verified lately, without
asking the database, on both databases (the in-process app over ASGI); whatever revokes a
token (removal, a new registration, the embedded agent's new token) is honoured at once, and a
wrong token is never remembered."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.services import workers
from solvyd.server.services.context import ServerContext
from tests.integration.api_helpers import (
    API,
    Worker,
    admin_headers,
    assert_error,
    bearer,
    register_worker,
)

TokenLookups = Callable[[Callable[[], Awaitable[httpx.Response]]], Awaitable[int]]


def _ctx(client: httpx.AsyncClient) -> ServerContext:
    ctx: ServerContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


@pytest.fixture
def token_lookups(client: httpx.AsyncClient) -> TokenLookups:
    """How many times a request asked the database for a worker by its token digest (the
    server's own engine, watched; the background tasks' statements are not counted)."""
    seen: list[str] = []

    def before_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "workers.token_hash =" in statement:
            seen.append(statement)

    # Left on the engine, which this test's app disposes of.
    sa.event.listen(_ctx(client).db.engine.sync_engine, "before_cursor_execute", before_execute)

    async def count(request: Callable[[], Awaitable[httpx.Response]]) -> int:
        before = len(seen)
        await request()
        return len(seen) - before

    return count


def _heartbeat(client: httpx.AsyncClient, worker: Worker, token: str | None = None) -> Any:
    async def send() -> httpx.Response:
        return await client.post(
            f"{API}/workers/{worker.id}/heartbeat",
            headers=bearer(token or worker.token),
            json={},
        )

    return send


async def test_a_verified_token_is_not_looked_up_again_and_a_wrong_one_always_is(
    client: httpx.AsyncClient, token_lookups: TokenLookups
) -> None:
    worker = await register_worker(client)
    assert await token_lookups(_heartbeat(client, worker)) == 1  # verified by the database
    for _ in range(3):
        assert await token_lookups(_heartbeat(client, worker)) == 0
    assert (await _heartbeat(client, worker)()).status_code == 200

    # A wrong token is looked up each time: nothing about it is remembered.
    wrong = "svw_" + "x" * 43
    for _ in range(2):
        assert await token_lookups(_heartbeat(client, worker, wrong)) == 1
    assert_error(await _heartbeat(client, worker, wrong)(), 401, "unauthorized")


async def test_a_removed_workers_verified_token_is_refused_at_once(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    worker = await register_worker(client)
    bystander = await register_worker(client)
    for verified in (worker, bystander):
        assert (await _heartbeat(client, verified)()).status_code == 200

    assert (await client.delete(f"{API}/workers/{worker.id}", headers=admin)).status_code == 204
    message = assert_error(await _heartbeat(client, worker)(), 401, "unauthorized")
    assert "removed" in message
    claim = await client.post(
        f"{API}/workers/{worker.id}/claim", headers=worker.headers, json={"wait": 0}
    )
    assert_error(claim, 401, "unauthorized")
    # The other workers' tokens, forgotten with it, are verified again and keep working.
    assert (await _heartbeat(client, bystander)()).status_code == 200


async def test_a_worker_registered_anew_has_its_old_verified_token_refused_at_once(
    client: httpx.AsyncClient,
) -> None:
    first = await register_worker(client)
    assert (await _heartbeat(client, first)()).status_code == 200
    again = await register_worker(client, first.name, worker_token=first.token)
    assert again.id == first.id
    assert_error(await _heartbeat(client, first)(), 401, "unauthorized")
    assert (await _heartbeat(client, again)()).status_code == 200


async def test_the_embedded_agents_new_token_refuses_its_old_one_at_once(
    client: httpx.AsyncClient,
) -> None:
    worker = await register_worker(client)
    assert (await _heartbeat(client, worker)()).status_code == 200
    token = await workers.reissue_token(_ctx(client), worker.name)
    assert token is not None
    assert_error(await _heartbeat(client, worker)(), 401, "unauthorized")
    assert (await _heartbeat(client, worker, token)()).status_code == 200
