"""Observability for real: a server (PostgreSQL) and two agents run with `--metrics-port` (a
local one, and one whose `fake` executor faults on cue), scraped every second by a real
Prometheus that loads deploy/prometheus/alerts.yml, while builds run. Every expression of the
Grafana dashboard and every alert rule must evaluate in that Prometheus without error, the
dashboard's with data; promtool accepts the rule file and the shipped prometheus.yml. One
server, two agents and one Prometheus for the module."""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.helpers import UserApi, one_step
from tests.support.databases import PostgresDatabases
from tests.support.processes import (
    SOLVYD,
    Process,
    ServerProcess,
    free_port,
    start_agent,
    start_server,
)
from tests.support.prometheus import PrometheusProcess, require_binary, start_prometheus

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "solvyd-overview.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = REPO / "deploy" / "prometheus" / "alerts.test.yml"
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
# What Grafana puts in place of its variables, as it would for a 1 s scrape interval.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "${datasource}": "prometheus",
    "$datasource": "prometheus",
}
AGENT = "observed"
FAULTY_AGENT = "observed-fake"
# Counters that only have series once a notification or commit status was sent: this module
# configures none, so their panels evaluate with no data.
NEEDS_DELIVERIES = ("solvyd_notifications_total", "solvyd_commit_statuses_total")


@dataclass
class Observed:
    prometheus: PrometheusProcess
    server: ServerProcess
    agent: Process
    agent_metrics_port: int
    faulty_agent_metrics_port: int
    api: UserApi

    def agent_values(self, metric: str, port: int) -> dict[str, float]:
        """`metric` of the agent whose metrics are on `port`, by its `status` label (or "")."""
        selector = f'{{job="solvyd-agent", instance="127.0.0.1:{port}"}}'
        answer = self.prometheus.query(metric + selector)
        assert answer["status"] == "success", answer
        return {
            item["metric"].get("status", ""): float(item["value"][1])
            for item in answer["data"]["result"]
        }


def _grafana_expr(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
    return expr


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, expression) of every target of every panel, rows' panels included."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = []
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop(0)
        panels += panel.get("panels", [])
        for target in panel.get("targets", []):
            found.append((panel["title"], _grafana_expr(target["expr"])))
    return found


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout}s for: {what}"
        time.sleep(0.2)


def _database_url(databases: PostgresDatabases) -> str:
    return databases.require()


@pytest.fixture(scope="module")
def observed(
    tmp_path_factory: pytest.TempPathFactory, postgres_databases: PostgresDatabases
) -> Iterator[Observed]:
    """Three builds (a success and a failure on the local agent, an executor fault on the
    fake one) and a rejected webhook, scraped; every rule evaluated once."""
    require_binary("prometheus")
    root = tmp_path_factory.mktemp("observability")
    logs = root / "logs"
    logs.mkdir()
    server = start_server(_database_url(postgres_databases), root / "data", logs)
    metrics_port, faulty_metrics_port = free_port(), free_port()
    agent = start_agent(
        server.url,
        logs,
        root / "work",
        name=AGENT,
        extra_args=["--metrics-port", str(metrics_port)],
    )
    faulty_agent = start_agent(
        server.url,
        logs,
        root / "work-fake",
        name=FAULTY_AGENT,
        executor="fake",
        extra_args=["--metrics-port", str(faulty_metrics_port)],
    )
    prometheus: PrometheusProcess | None = None
    api = UserApi(server)
    try:
        prometheus = start_prometheus(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(ALERTS)],
                "scrape_configs": [
                    {
                        "job_name": "solvyd-server",
                        "static_configs": [{"targets": [server.url.removeprefix("http://")]}],
                    },
                    {
                        "job_name": "solvyd-agent",
                        "static_configs": [
                            {
                                "targets": [
                                    f"127.0.0.1:{metrics_port}",
                                    f"127.0.0.1:{faulty_metrics_port}",
                                ]
                            }
                        ],
                    },
                ],
            },
            root / "prometheus",
            logs,
        )
        api.wait_for_worker(AGENT)
        api.wait_for_worker(FAULTY_AGENT)
        # Labels send each build to its agent (an agent's executor is one of its labels).
        for name, pipeline, labels, status in (
            ("obs-ok", one_step("echo one", "echo two"), ["local"], "success"),
            ("obs-broken", one_step("echo failing", "exit 3"), ["local"], "failure"),
            ("obs-infra", one_step("echo x", "fail-infra the engine went away"), ["fake"], "error"),
        ):
            job = api.create_job(name, pipeline, labels=labels)
            build = api.wait_for_finish(api.trigger(job["id"])["id"])
            assert build["status"] == status, build
        # A webhook that is not one (a 400, counted as rejected), for the webhook panel.
        hook = httpx.post(
            f"{server.url}/api/v1/hooks/github",
            content=b"not json",
            headers={"X-GitHub-Event": "push", "Content-Type": "application/json"},
            timeout=10,
        )
        assert hook.status_code == 400, hook.text
        scraper = prometheus
        # Scraped after the builds and the webhook, each new series in at least two samples
        # so that rates have data.
        _wait_for(
            lambda: (
                scraper.values('sum(solvyd_builds_total{job="solvyd-server"})') == [3.0]
                and scraper.values('count(rate(solvyd_builds_total{job="solvyd-server"}[1m]))')
                == [3.0]
                and scraper.values('sum(solvyd_agent_builds_total{job="solvyd-agent"})') == [3.0]
                and scraper.values(
                    'count(rate(solvyd_agent_step_duration_seconds_count{job="solvyd-agent"}[1m]))'
                )
                == [3.0]
                and scraper.values(
                    'count(rate(solvyd_webhook_deliveries_total{job="solvyd-server"}[1m]))'
                )
                == [1.0]
            ),
            "Prometheus scraped the finished builds and the webhook",
        )
        _wait_for(
            lambda: (
                # A rule not evaluated yet says it was at 0001-01-01.
                all(not rule["lastEvaluation"].startswith("0001") for rule in scraper.rules())
                and all(rule["health"] != "unknown" for rule in scraper.rules())
            ),
            "every rule evaluated",
        )
        yield Observed(prometheus, server, agent, metrics_port, faulty_metrics_port, api)
    finally:
        api.http.close()
        if prometheus is not None:
            prometheus.stop()
        agent.stop()
        faulty_agent.stop()
        server.process.stop()


def test_every_dashboard_expression_evaluates_with_data(observed: Observed) -> None:
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    failed, empty = {}, []
    for title, expr in exprs:
        answer = observed.prometheus.query(expr)
        if answer["status"] != "success":
            failed[f"{title}: {expr}"] = answer.get("error")
        elif not answer["data"]["result"] and not any(m in expr for m in NEEDS_DELIVERIES):
            empty.append(f"{title}: {expr}")
    assert not failed, failed
    assert not empty, empty


def test_every_alert_rule_evaluates_and_is_loaded_healthy(observed: Observed) -> None:
    rules = alert_rules()
    assert len(rules) >= 6
    for rule in rules:
        answer = observed.prometheus.query(rule["expr"])
        assert answer["status"] == "success", f"{rule['alert']}: {answer}"
        assert rule["for"] and rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    loaded = {rule["name"]: rule for rule in observed.prometheus.rules()}
    assert set(loaded) == {rule["alert"] for rule in rules}
    unhealthy = {name: rule.get("lastError") for name, rule in loaded.items()}
    assert {
        name: error for name, error in unhealthy.items() if loaded[name]["health"] != "ok"
    } == {}


def test_with_a_server_and_an_agent_up_the_outage_alerts_stay_quiet(observed: Observed) -> None:
    """Both targets answer, a worker is online and nothing waits: the down and no-worker
    rules match nothing (they evaluate, with no series)."""
    prometheus = observed.prometheus
    assert prometheus.values('up{job="solvyd-server"}') == [1.0]
    assert prometheus.values('up{job="solvyd-agent"}') == [1.0, 1.0]
    for rule in alert_rules():
        if rule["alert"] in {"SolvydServerDown", "SolvydAgentDown", "SolvydNoWorkerOnline"}:
            assert prometheus.values(rule["expr"]) == [], rule["alert"]


def test_the_agents_count_their_builds_steps_and_executor_faults(observed: Observed) -> None:
    local, fake = observed.agent_metrics_port, observed.faulty_agent_metrics_port
    builds = "solvyd_agent_builds_total"
    assert observed.agent_values(builds, local) == {
        "success": 1.0,
        "failure": 1.0,
        "error": 0.0,
        "cancelled": 0.0,
    }
    assert observed.agent_values(builds, fake)["error"] == 1.0
    faults = "solvyd_agent_executor_errors_total"
    assert observed.agent_values(faults, local) == {"": 0.0}
    assert observed.agent_values(faults, fake) == {"": 1.0}
    steps = observed.agent_values("solvyd_agent_step_duration_seconds_count", local)
    assert steps == {"success": 1.0, "failure": 1.0}
    assert observed.agent_values("solvyd_agent_step_duration_seconds_count", fake) == {"error": 1.0}
    for port in (local, fake):
        assert observed.agent_values("solvyd_agent_builds_running", port) == {"": 0.0}
        assert observed.agent_values("solvyd_agent_spool_entries", port) == {"": 0.0}
        assert observed.agent_values("solvyd_agent_spool_bytes", port) == {"": 0.0}
    info = observed.prometheus.query('solvyd_agent_info{job="solvyd-agent"}')["data"]["result"]
    assert sorted(item["metric"]["executor"] for item in info) == ["fake", "local"]


def test_the_log_lines_the_agents_sent_are_those_the_server_ingested_and_stored(
    observed: Observed,
) -> None:
    stored = sum(
        len(observed.api.log_text(build["id"]).splitlines())
        for build in observed.api.http.get("/builds").json()["items"]
    )
    prometheus = observed.prometheus
    sent = prometheus.values('sum(solvyd_agent_log_lines_sent_total{job="solvyd-agent"})')
    ingested = prometheus.values('sum(solvyd_log_lines_total{job="solvyd-server"})')
    assert sent == ingested == [float(stored)]


def test_promtool_accepts_the_rules_their_tests_and_the_shipped_config(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    rules = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=30
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    # Each alert fires on series that should trigger it, and not on a near miss.
    unit = subprocess.run(
        [promtool, "test", "rules", str(ALERT_TESTS)], capture_output=True, text=True, timeout=30
    )
    assert unit.returncode == 0, unit.stdout + unit.stderr
    tested = set(re.findall(r"alertname: (\w+)", ALERT_TESTS.read_text()))
    assert tested == {rule["alert"] for rule in alert_rules()}
    # prometheus.yml names alerts.yml beside it, as docker-compose mounts them.
    shutil.copy(PROMETHEUS_CONFIG, tmp_path / "prometheus.yml")
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    config = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert config.returncode == 0, config.stdout + config.stderr
    scraped = {
        job["job_name"] for job in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]
    }
    assert scraped == {"solvyd-server", "solvyd-agent"}


def test_an_agent_stopped_closes_its_port_and_its_down_alert_goes_pending(
    observed: Observed,
) -> None:
    """Last in the module: it stops the agent. Its metrics port closes with it, Prometheus's
    next scrape fails, and the SolvydAgentDown rule matches (pending for its `for:`)."""
    port = observed.agent_metrics_port
    assert "solvyd_agent_info" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert observed.agent.stop() == 0
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=2),
    ):
        pass

    prometheus = observed.prometheus

    def agent_down_state() -> str | None:
        rule = next(r for r in prometheus.rules() if r["name"] == "SolvydAgentDown")
        return rule["state"] if rule["health"] == "ok" else None

    _wait_for(lambda: agent_down_state() == "pending", "SolvydAgentDown pending", timeout=15)
    down = prometheus.query('up{job="solvyd-agent"} == 0')["data"]["result"]
    assert [item["metric"]["instance"] for item in down] == [f"127.0.0.1:{port}"]
    assert prometheus.values('up{job="solvyd-server"}') == [1.0]


def test_a_metrics_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                *SOLVYD,
                "agent",
                "--server",
                "http://127.0.0.1:9",
                "--work-dir",
                str(tmp_path / "work"),
                "--metrics-port",
                str(port),
            ],
            env={**os.environ, "SOLVYD_AGENT_TOKEN": "unused"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
