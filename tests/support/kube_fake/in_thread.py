"""The fake API server on a thread of its own, for tests whose code under test runs in other
processes (a real server and agent) and whose own code is synchronous."""

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from tests.support.kube_fake.core import FakeCluster, serving

T = TypeVar("T")


class ClusterThread:
    def __init__(self, cluster: FakeCluster, loop: asyncio.AbstractEventLoop) -> None:
        self.cluster = cluster
        self._loop = loop

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run `work` on the fake's loop (its store and tasks live there) and return its
        result."""
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def call(self, function: Any, *args: Any) -> Any:
        async def call() -> Any:
            return function(*args)

        return self.run(call())


@contextlib.contextmanager
def cluster_in_thread(cluster: FakeCluster) -> Iterator[ClusterThread]:
    """Serve `cluster` (its resource modules installed) from a thread for the block."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Event | None = None
    failure: list[BaseException] = []

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        try:
            async with serving(cluster):
                ready.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not ready.wait(30) or failure:
        raise RuntimeError(f"the fake API server did not start: {failure}")
    try:
        yield ClusterThread(cluster, loop)
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
