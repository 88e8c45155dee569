"""A big log's text download is streamed: the server's memory grows by a bounded amount, not
by some multiple of the log (issue 14: a 14 MB, 1M-line log took a server from 294 MB to
1.16 GB). The /healthz stall during parallel downloads is measured by bench/log_downloads.py,
not here."""

import asyncio
import threading
import time
import uuid

import psutil
import sqlalchemy as sa

from solvyd.server.db.models import BuildLog
from solvyd.server.db.session import create_database
from solvyd.shared.clock import utcnow
from tests.e2e.helpers import UserApi
from tests.support.processes import ServerProcess

BATCHES = 600
LINES_PER_BATCH = 1000
# Before streaming, this log (600k lines, 9 MB) grew the server by about 500 MB.
GROWTH_BOUND_MB = 100


def line(seq: int, index: int) -> str:
    return f"line {seq:04d}-{index:04d}"


async def fill_log(database_url: str, build_id: uuid.UUID) -> None:
    """Rows straight into the table: the worker protocol would take most of a minute."""
    db = create_database(database_url)
    try:
        for start in range(0, BATCHES, 50):
            rows = [
                {
                    "build_id": build_id,
                    "seq": seq,
                    "step": "big",
                    "lines": [{"text": line(seq, i), "ts": None} for i in range(LINES_PER_BATCH)],
                    "line_count": LINES_PER_BATCH,
                    "created_at": utcnow(),
                }
                for seq in range(start, start + 50)
            ]
            async with db.transaction() as session:
                await session.execute(sa.insert(BuildLog), rows)
    finally:
        await db.dispose()


class PeakRss:
    """The process's largest RSS, sampled every 20 ms while running."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_big_text_download_keeps_the_servers_memory_bounded(
    server: ServerProcess, api: UserApi, database_url: str
) -> None:
    job = api.create_job("big-log", "steps: [{name: big, commands: ['true']}]\n")
    build_id = api.trigger(job["id"])["id"]
    asyncio.run(fill_log(database_url, uuid.UUID(build_id)))
    url = f"/builds/{build_id}/logs"
    # Warm up what the first read of a log loads, so the baseline is the steady state.
    assert api.http.get(url, params={"limit": 1}).status_code == 200
    before = psutil.Process(server.process.pid).memory_info().rss

    lines = size = 0
    first = last = b""
    started = time.monotonic()
    download = api.http.stream("GET", url, params={"format": "text"}, timeout=120)
    with PeakRss(server.process.pid) as rss, download as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            lines += chunk.count(b"\n")
            size += len(chunk)
            first = first or chunk[:64]
            last = (last + chunk)[-64:]
    elapsed = time.monotonic() - started

    assert lines == BATCHES * LINES_PER_BATCH
    assert first.startswith(f"{line(0, 0)}\n{line(0, 1)}\n".encode())
    assert last.endswith(f"{line(BATCHES - 1, LINES_PER_BATCH - 1)}\n".encode())
    growth_mb = (rss.peak - before) / 2**20
    assert growth_mb < GROWTH_BOUND_MB, (
        f"the server grew by {growth_mb:.0f} MB for a {size / 2**20:.0f} MiB log "
        f"downloaded in {elapsed:.1f} s"
    )
