"""Cross-server wake-ups over a real PostgreSQL: two hubs, each with its own LISTEN/NOTIFY
connection, stand for two server processes on one database."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg  # type: ignore[import-untyped]
import pytest

from solvyd.server.events import QUEUE, EventHub, build_topic, cancel_topic
from solvyd.server.events_pg import APPLICATION_NAME, MAX_PENDING_TOPICS, PostgresNotifier
from tests.support.databases import ADMIN_URL

# Every test here needs PostgreSQL: only the postgresql variant of the shared fixture.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

Server = tuple[EventHub, PostgresNotifier]
StartServer = Callable[[], Awaitable[Server]]


@pytest.fixture
async def start_server(database_url: str) -> AsyncIterator[StartServer]:
    """Starts a hub with its PostgreSQL transport, as one server process would."""
    hubs: list[EventHub] = []

    async def start() -> Server:
        hub = EventHub()
        notifier = PostgresNotifier(hub, database_url)
        await notifier.start()
        hub.attach(notifier)
        hubs.append(hub)
        return hub, notifier

    yield start
    for hub in hubs:
        async with asyncio.timeout(10):
            await hub.detach()


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncio.wait_for(asyncpg.connect(database_url), 10)
    yield connection
    await connection.close(timeout=5)


async def _kill_connection(admin: asyncpg.Connection, notifier: PostgresNotifier) -> int:
    """Terminate the notifier's backend, as a database restart or an operator would."""
    pid = notifier.server_pid
    assert pid is not None
    application = await admin.fetchval(
        "SELECT application_name FROM pg_stat_activity WHERE pid = $1", pid
    )
    assert application == APPLICATION_NAME
    assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    return pid


async def _wait_for_new_connection(notifier: PostgresNotifier, old_pid: int) -> None:
    async with asyncio.timeout(10):
        while notifier.server_pid in (None, old_pid):
            await asyncio.sleep(0.02)


async def test_notify_on_one_server_wakes_a_waiter_on_another(start_server: StartServer) -> None:
    hub_a, _ = await start_server()
    hub_b, _ = await start_server()
    waiter = hub_b.listen(QUEUE)
    started = time.monotonic()
    hub_a.notify(QUEUE)
    assert await waiter.wait(1.0)
    assert time.monotonic() - started < 1.0
    # Only the topic notified: another topic's waiter sleeps on.
    assert not await hub_b.listen(build_topic(uuid.uuid4())).wait(0.3)


async def test_own_notifications_wake_local_waiters_once_not_again_on_their_echo(
    start_server: StartServer,
) -> None:
    hub_a, _ = await start_server()
    hub_b, _ = await start_server()
    topic = cancel_topic(uuid.uuid4())
    local, remote = hub_a.listen(topic), hub_b.listen(topic)
    hub_a.notify(topic)
    assert await local.wait(0)  # at once, no round trip
    again = hub_a.listen(topic)  # taken before the echo can come back
    assert await remote.wait(1.0)  # the notification went through PostgreSQL...
    # ...so its echo reached hub_a about as soon (0.3 s more is ample), and was ignored.
    assert not await again.wait(0.3)


async def test_a_flood_of_topics_is_sent_as_one_wake_everything(start_server: StartServer) -> None:
    hub_a, _ = await start_server()
    hub_b, _ = await start_server()
    bystander = hub_b.listen(build_topic("never-notified"))
    # Synchronously, so the sender cannot drain the queue in between: it overflows.
    for _ in range(MAX_PENDING_TOPICS * 2):
        hub_a.notify(build_topic(uuid.uuid4()))
    assert await bystander.wait(1.0)


async def test_a_lost_connection_wakes_every_waiter_and_later_notifications_arrive_again(
    start_server: StartServer, admin: asyncpg.Connection
) -> None:
    hub_a, _ = await start_server()
    hub_b, notifier_b = await start_server()
    build_id = uuid.uuid4()
    waiters = [hub_b.listen(t) for t in (QUEUE, build_topic(build_id), cancel_topic(build_id))]
    old_pid = await _kill_connection(admin, notifier_b)
    # Nobody notified these topics, but what was sent while hub_b was away is lost: after
    # reconnecting, every waiter is woken to look at the database again.
    for waiter in waiters:
        assert await waiter.wait(5.0)
    await _wait_for_new_connection(notifier_b, old_pid)
    waiter = hub_b.listen(QUEUE)
    hub_a.notify(QUEUE)
    assert await waiter.wait(1.0)


async def test_topics_notified_while_disconnected_are_sent_after_reconnecting(
    start_server: StartServer, admin: asyncpg.Connection
) -> None:
    hub_a, _ = await start_server()
    hub_b, notifier_b = await start_server()
    topic = cancel_topic(uuid.uuid4())
    remote = hub_a.listen(topic)
    await _kill_connection(admin, notifier_b)
    hub_b.notify(topic)  # must not raise, and must not be lost
    assert await remote.wait(5.0)


async def test_reconnects_with_backoff_once_the_database_accepts_connections_again(
    start_server: StartServer, admin: asyncpg.Connection, database_url: str
) -> None:
    hub_a, _ = await start_server()
    hub_b, notifier_b = await start_server()
    database = database_url.rsplit("/", 1)[1]
    remote = hub_a.listen(build_topic("sent-while-away"))
    # Refused from another database's session: none may refuse its own.
    maintenance = await asyncio.wait_for(asyncpg.connect(ADMIN_URL), 10)
    await maintenance.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        waiter = hub_b.listen(QUEUE)
        old_pid = await _kill_connection(admin, notifier_b)
        async with asyncio.timeout(5):
            while notifier_b.server_pid is not None:  # the loss is noticed
                await asyncio.sleep(0.02)
        hub_b.notify(build_topic("sent-while-away"))  # queued, never raised
        assert not await waiter.wait(1.0)  # not reconnected yet: nothing to re-check
    finally:
        await maintenance.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await maintenance.close(timeout=5)
    # The backoff is capped at 5 s; reconnecting wakes the waiter and sends the queued topic.
    assert await waiter.wait(8.0)
    assert await remote.wait(2.0)
    await _wait_for_new_connection(notifier_b, old_pid)


async def test_stop_closes_the_connection_and_notify_stays_local_afterwards(
    start_server: StartServer, admin: asyncpg.Connection
) -> None:
    hub, notifier = await start_server()
    pid = notifier.server_pid
    started = time.monotonic()
    await hub.detach()
    assert time.monotonic() - started < 1.0
    assert notifier.server_pid is None
    async with asyncio.timeout(5):
        while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            await asyncio.sleep(0.02)
    waiter = hub.listen(QUEUE)
    hub.notify(QUEUE)
    assert await waiter.wait(0)
