"""A real Prometheus (Debian's `prometheus` package, which .ci/run installs) on a free loopback
port, for the metrics tests; and promtool beside it. Under CI=true a missing binary fails the
tests instead of skipping them."""

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import Process, free_port, wait_until_answering

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_binary(name: str) -> str:
    """The path of `name` (prometheus, promtool); skip without it, or fail under CI=true."""
    path = shutil.which(name) or (
        f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None
    )
    if path is not None:
        return path
    problem = f"no {name} binary: install Debian's prometheus package (see .ci/run)"
    if IN_CI:
        pytest.fail(problem)
    pytest.skip(problem)


@dataclass
class PrometheusProcess:
    process: Process
    url: str
    http: httpx.Client

    def query(self, expr: str) -> dict[str, Any]:
        """The answer of /api/v1/query, whatever its status (a bad expression answers 400)."""
        return dict(self.http.get("/api/v1/query", params={"query": expr}).json())

    def values(self, expr: str) -> list[float]:
        """The sample values of an instant vector `expr`; fails the test on an error."""
        answer = self.query(expr)
        assert answer["status"] == "success", f"{expr}: {answer}"
        return [float(item["value"][1]) for item in answer["data"]["result"]]

    def rules(self) -> list[dict[str, Any]]:
        answer = self.http.get("/api/v1/rules").json()
        assert answer["status"] == "success", answer
        return [rule for group in answer["data"]["groups"] for rule in group["rules"]]

    def stop(self) -> None:
        self.http.close()
        self.process.stop()


def start_prometheus(config: dict[str, Any], work_dir: Path, log_dir: Path) -> PrometheusProcess:
    """Prometheus with `config` (rule file paths absolute), its data under `work_dir`."""
    binary = require_binary("prometheus")
    work_dir.mkdir(parents=True, exist_ok=True)
    config_path = work_dir / "prometheus.yml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    log_path = log_dir / f"prometheus-{int(time.time() * 1000)}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={work_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    process = Process("prometheus", popen, log_path)
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(process, f"{url}/-/ready", "prometheus")
    return PrometheusProcess(process, url, httpx.Client(base_url=url, timeout=10))
