"""Cross-server wake-ups through PostgreSQL LISTEN/NOTIFY, so that several `solvyd server`
processes on one database wake each other's long polls (a build triggered through one server
starts at once on an agent polling another).

One dedicated connection per server process LISTENs on one channel and sends this process's
topics with `pg_notify`. `publish` only queues a topic; one task sends the queue, coalesced,
in one round trip. A lost connection is re-established with backoff, after which every local
waiter is woken: what was notified meanwhile never reached us, so each must look again.
"""

import asyncio
from collections.abc import Iterable, Iterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy.engine import make_url

from solvyd.server.events import ALL_TOPICS, EventHub
from solvyd.shared.backoff import backoff_delays

log = structlog.get_logger(__name__)

CHANNEL = "solvyd_events"
# Shown in pg_stat_activity, so operators (and tests) can tell this connection apart.
APPLICATION_NAME = "solvyd-events"
# Past this many distinct unsent topics, one "wake everything" replaces them all. Each build
# that becomes claimable is a topic of its own (it wakes one claim), so a burst of triggers
# queues many while one send is on its way; "everything" would wake every claim and empty the
# worker-token caches of every other server.
MAX_PENDING_TOPICS = 4096
# PostgreSQL refuses payloads of 8000 bytes or more; a longer topic becomes "wake everything".
MAX_PAYLOAD_BYTES = 7999
CONNECT_TIMEOUT_SECONDS = 10.0
QUERY_TIMEOUT_SECONDS = 5.0
# A connection that has been quiet this long is checked with a round trip: a peer that
# vanished without closing (a network partition) is otherwise noticed only by TCP, much later.
IDLE_CHECK_SECONDS = 15.0
# `stop` gives the queue this long to drain before it gives up on it.
STOP_FLUSH_SECONDS = 3.0
SEND = "SELECT pg_notify($1, topic) FROM unnest($2::text[]) AS topic"


class PostgresNotifier:
    """The `EventTransport` for PostgreSQL: `start`, then attach it to the hub it wakes."""

    def __init__(self, hub: EventHub, database_url: str) -> None:
        url = make_url(database_url)
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        # What log lines say about the database: never the URL, which may hold a password.
        self._where = {"host": url.host, "port": url.port}
        self._hub = hub
        self._pending: dict[str, None] = {}  # an ordered set
        # Set when there is something to do: topics queued, the connection lost, stop asked.
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._connection: Any = None
        self._own_pid: int | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def server_pid(self) -> int | None:
        """The PostgreSQL backend pid of the connection, None while there is none."""
        return self._own_pid if self._connection is not None else None

    async def start(self) -> None:
        """Connect and LISTEN. Raises if PostgreSQL cannot be reached: the server has just
        migrated the database, so failing here means a real problem worth stopping for."""
        self._connection = await self._connect()
        self._task = asyncio.create_task(self._run(), name="postgres-notifier")

    def publish(self, topic: str) -> None:
        if len(topic.encode()) > MAX_PAYLOAD_BYTES:
            topic = ALL_TOPICS
        self._enqueue([topic])
        self._wakeup.set()

    async def stop(self) -> None:
        """Send what is queued (for at most STOP_FLUSH_SECONDS), then close the connection."""
        self._stopping = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is not None:
            await asyncio.wait({task}, timeout=STOP_FLUSH_SECONDS)
            if not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=QUERY_TIMEOUT_SECONDS)
        connection, self._connection = self._connection, None
        if connection is not None:
            await _close(connection)

    def _enqueue(self, topics: Iterable[str]) -> None:
        for topic in topics:
            if ALL_TOPICS in self._pending:
                return  # already waking everything
            if topic == ALL_TOPICS or len(self._pending) >= MAX_PENDING_TOPICS:
                self._pending = {ALL_TOPICS: None}
                return
            self._pending[topic] = None

    async def _connect(self) -> Any:
        connection = await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT_SECONDS,
            server_settings={"application_name": APPLICATION_NAME},
        )
        try:
            connection.add_termination_listener(self._on_connection_lost)
            await asyncio.wait_for(
                connection.add_listener(CHANNEL, self._on_notification), QUERY_TIMEOUT_SECONDS
            )
        except BaseException:
            connection.terminate()
            raise
        self._own_pid = connection.get_server_pid()
        return connection

    def _on_notification(self, _connection: Any, pid: int, _channel: str, topic: str) -> None:
        if pid == self._own_pid:
            return  # our own notification, echoed: its local waiters were woken on `notify`
        self._hub.wake(topic)

    def _on_connection_lost(self, _connection: Any) -> None:
        self._wakeup.set()

    async def _run(self) -> None:
        """Serve the connection until it is lost, then reconnect; until `stop`."""
        delays = _reconnect_delays()
        while not self._stopping:
            if self._connection is None:
                try:
                    self._connection = await self._connect()
                except Exception as exc:
                    delay = next(delays)
                    log.warning(
                        "event listener cannot reconnect to PostgreSQL",
                        error=f"{type(exc).__name__}: {exc}",
                        retry_in=round(delay, 2),
                        **self._where,
                    )
                    await self._sleep_unless_stopping(delay)
                    continue
                log.info("event listener reconnected to PostgreSQL", **self._where)
                # Notifications sent while we were away never reached us.
                self._hub.wake_all()
            if await self._serve(self._connection):
                delays = _reconnect_delays()
            if self._stopping:
                return
            connection, self._connection = self._connection, None
            connection.terminate()

    async def _serve(self, connection: Any) -> bool:
        """Send queued topics and check an idle connection, until the connection fails or
        `stop` is asked and the queue is empty. True if any round trip succeeded."""
        succeeded = False
        while True:
            self._wakeup.clear()
            if connection.is_closed():
                log.warning("event listener lost its PostgreSQL connection", **self._where)
                return succeeded
            if not self._pending:
                if self._stopping:
                    return succeeded
                if await self._wait_for_wakeup(IDLE_CHECK_SECONDS):
                    continue
            batch = list(self._pending)
            self._pending = {}
            try:
                if batch:
                    await connection.execute(SEND, CHANNEL, batch, timeout=QUERY_TIMEOUT_SECONDS)
                else:
                    await connection.execute("SELECT 1", timeout=QUERY_TIMEOUT_SECONDS)
            except Exception as exc:
                # Sent again on the next connection; a duplicate wake-up costs one query.
                self._enqueue(batch)
                log.warning(
                    "event sender failed; reconnecting to PostgreSQL",
                    error=f"{type(exc).__name__}: {exc}",
                    unsent=len(self._pending),
                    **self._where,
                )
                return succeeded
            succeeded = True

    async def _wait_for_wakeup(self, seconds: float) -> bool:
        """True when woken, False when `seconds` passed first."""
        try:
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()
        except TimeoutError:
            return False
        return True

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while not self._stopping:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            await self._wait_for_wakeup(remaining)


def _reconnect_delays() -> Iterator[float]:
    return backoff_delays(base=0.2, cap=5.0)


async def _close(connection: Any) -> None:
    try:
        await connection.close(timeout=QUERY_TIMEOUT_SECONDS)
    except Exception:
        connection.terminate()
