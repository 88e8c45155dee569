"""deploy/docker-compose.yml is valid for Debian's docker-compose with the example .env, mounts
only files the repository has, and names only settings and options Solvyd has."""

import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from solvyd.server.app import create_app
from solvyd.server.settings import ServerSettings
from tests.conftest import IN_CI
from tests.support.deploy_settings import (
    agent_surface,
    server_surface,
    unknown_env,
    unknown_options,
)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
EXAMPLE_ENV = DEPLOY / ".env.example"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"


def _compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        problem = "docker-compose is not installed (apt-get install docker-compose)"
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    return subprocess.run(
        # --profile docker: the opt-in services are checked too.
        [binary, "-f", str(COMPOSE), "--env-file", str(env_file), "--profile", "docker", *args],
        # Only the example's values: none of the operator's own variables may fill a gap.
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    result = _compose(EXAMPLE_ENV, "config")
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    return dict(config["services"])


def test_compose_refuses_to_start_without_the_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = _compose(empty, "config")
    assert result.returncode != 0
    assert "set " in result.stderr and "deploy/.env" in result.stderr


def test_the_example_env_holds_no_real_secret() -> None:
    values = dict(
        line.split("=", 1)
        for line in EXAMPLE_ENV.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    secret_names = [name for name in values if any(w in name for w in ("PASSWORD", "TOKEN", "KEY"))]
    assert secret_names
    assert all(values[name].startswith("change-me") for name in secret_names)


def _bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("/"):
            mounts.append((Path(source), target))
    return mounts


def test_every_file_mounted_from_the_repository_exists(
    services: dict[str, dict[str, Any]],
) -> None:
    checked = 0
    for name, service in services.items():
        for source, _target in _bind_mounts(service):
            if source.is_relative_to(REPO):
                assert source.exists(), f"{name} mounts {source.relative_to(REPO)}, missing"
                checked += 1
            else:
                # A path of the host (the Docker socket) only for an opt-in service.
                assert service.get("profiles"), f"{name} mounts the host's {source}"
    assert checked >= 4


def _repo_file_behind(service: dict[str, Any], path: str) -> Path:
    """The repository's file that a path inside the container is mounted from."""
    for source, target in _bind_mounts(service):
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return source / path[len(target) :].lstrip("/") if source.is_dir() else source
    raise AssertionError(f"{path} is mounted from nowhere")


def test_prometheus_and_grafana_find_their_files(services: dict[str, dict[str, Any]]) -> None:
    prometheus = services["prometheus"]
    config_file = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    assert _repo_file_behind(prometheus, config_file.split("=", 1)[1]).is_file()
    grafana = services["grafana"]
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/solvyd.yml").read_text())
    dashboards = Path(providers["providers"][0]["options"]["path"])
    assert _repo_file_behind(grafana, str(dashboards / "solvyd-overview.json")).is_file()
    sources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    url = urlsplit(sources["datasources"][0]["url"])
    assert url.hostname in services
    assert url.port == 9090


def test_solvyd_services_name_only_real_settings_and_options(
    services: dict[str, dict[str, Any]],
) -> None:
    surfaces = {"server": server_surface(), "agent": agent_surface()}
    image = services["server"]["image"]
    solvyd = [name for name, service in services.items() if service["image"] == image]
    assert {"server", "agent", "agent-docker"} <= set(solvyd)
    for name in solvyd:
        service = services[name]
        surface = surfaces[service["command"][0]]
        assert unknown_env(list(service.get("environment", {})), surface) == [], name
        assert unknown_options(service["command"][1:], surface) == [], name


def test_agents_reach_the_server_and_its_healthcheck_asks_a_real_route(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    server = services["server"]
    port = server["command"][server["command"].index("--port") + 1]
    for name in ("agent", "agent-docker"):
        command = services[name]["command"]
        url = urlsplit(command[command.index("--server") + 1])
        assert (url.hostname, str(url.port)) == ("server", port), name
    check = " ".join(server["healthcheck"]["test"])
    app = create_app(ServerSettings(data_dir=tmp_path))
    paths = app.openapi()["paths"]
    assert f"127.0.0.1:{port}/readyz" in check and "/readyz" in paths


def _published_targets(service: dict[str, Any]) -> set[int]:
    """The container ports a service publishes on the host (long or short syntax)."""
    targets = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            targets.add(int(port["target"]))
        else:
            targets.add(int(str(port).split("/")[0].rsplit(":", 1)[-1]))
    return targets


def _scrape_targets(job: str) -> list[str]:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    [scrape] = [s for s in config["scrape_configs"] if s["job_name"] == job]
    return [t for static in scrape["static_configs"] for t in static["targets"]]


def test_server_metrics_are_on_their_own_unpublished_port_prometheus_scrapes(
    services: dict[str, dict[str, Any]],
) -> None:
    server = services["server"]
    api_port = int(server["command"][server["command"].index("--port") + 1])
    metrics_port = int(server["environment"]["SOLVYD_METRICS_PORT"])
    assert metrics_port != api_port
    # The host reaches the API, never the metrics (which the API port answers 404 for).
    assert _published_targets(server) == {api_port}
    assert "expose" not in server or metrics_port not in map(int, server["expose"])
    assert _scrape_targets("solvyd-server") == [f"server:{metrics_port}"]
    agent = services["agent"]["command"]
    agent_port = agent[agent.index("--metrics-port") + 1]
    assert _scrape_targets("solvyd-agent") == [f"agent:{agent_port}"]
    assert "prometheus" in services


def _image_env() -> dict[str, str]:
    return dict(re.findall(r"\b(SOLVYD_[A-Z0-9_]+)=(\S+)", (REPO / "Dockerfile").read_text()))


def test_own_directories_are_made_inside_a_volume_never_its_mount_point(
    services: dict[str, dict[str, Any]],
) -> None:
    """The server makes SOLVYD_DATA_DIR 0700 at start and the agent writes in its work dir:
    each lies strictly below a volume's mount point (a named volume on the image's home
    starts owned by uid 10001, with the image's data and work directories in it)."""
    checked = set()
    image_env = _image_env()
    for name, service in services.items():
        if service["image"] != services["server"]["image"]:
            continue
        env = image_env | dict(service.get("environment", {}))
        wanted = {"server": "SOLVYD_DATA_DIR", "agent": "SOLVYD_WORK_DIR"}[service["command"][0]]
        directory = PurePosixPath(env[wanted])
        mounts = [
            PurePosixPath(volume.split(":")[1])
            for volume in service.get("volumes", [])
            if not volume.endswith(":ro")
        ]
        assert directory not in mounts, (name, str(directory))
        assert any(directory.is_relative_to(mount) for mount in mounts), (name, str(directory))
        checked.add(name)
    assert {"server", "agent", "agent-docker"} <= checked


def test_the_real_env_file_stays_out_of_the_image_build_context() -> None:
    # deploy/.env holds the real passwords: `docker build .` must not send it to the daemon.
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "deploy/.env" in ignored
    assert "deploy/.env" in (REPO / ".gitignore").read_text().splitlines()
