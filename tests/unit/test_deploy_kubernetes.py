"""deploy/kubernetes/ validates against Kubernetes' own schemas (kubernetes-validate, strict,
a pinned version), the ServiceMonitors against tests/support/servicemonitor_schema.py, and its
parts fit together and with the code: selectors, ports, probe routes, settings, options."""

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

from solvyd.server.app import create_app
from solvyd.server.settings import ServerSettings
from tests.support.deploy_settings import (
    CommandSurface,
    agent_surface,
    migrate_surface,
    server_env,
    server_surface,
    unknown_env,
    unknown_options,
)
from tests.support.servicemonitor_schema import SERVICE_MONITOR

# The oldest Kubernetes still widely run that has every API used here (policy/v1 PDBs,
# networking.k8s.io/v1 Ingress, Job TTLs); kubernetes-validate ships its schemas.
KUBERNETES_VERSION = "1.30.0"
MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
SECRET_TEMPLATE = "secret.example.yaml"

Doc = dict[str, Any]


def _load(name: str) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all((MANIFESTS / name).read_text()) if doc]


KUSTOMIZATION = _load("kustomization.yaml")[0]
APPLIED = [doc for name in KUSTOMIZATION["resources"] for doc in _load(name)]
SECRETS = _load(SECRET_TEMPLATE)
EVERY = APPLIED + SECRETS


def _one(kind: str, name: str) -> Doc:
    [doc] = [d for d in EVERY if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _pod_specs() -> list[tuple[str, Doc]]:
    return [
        (doc["metadata"]["name"], doc["spec"]["template"]["spec"])
        for doc in APPLIED
        if doc["kind"] in ("Deployment", "Job")
    ]


def _containers() -> list[tuple[Doc, Doc]]:
    return [(pod, container) for _, pod in _pod_specs() for container in pod["containers"]]


def test_every_manifest_is_valid_kubernetes() -> None:
    custom = 0
    for doc in EVERY:
        if doc["kind"] == "ServiceMonitor":
            # kubernetes-validate knows no custom resource: it says so, it does not pass it.
            with pytest.raises(SchemaNotFoundError):
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            jsonschema.Draft202012Validator(SERVICE_MONITOR).validate(doc)
            custom += 1
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    assert custom == 2


def test_strict_validation_catches_a_misspelt_field() -> None:
    deployment = copy.deepcopy(_one("Deployment", "solvyd-server"))
    deployment["spec"]["replica"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    monitor = copy.deepcopy(_one("ServiceMonitor", "solvyd-server"))
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SERVICE_MONITOR).validate(monitor)


def test_kustomization_applies_every_manifest_but_the_secret_template() -> None:
    files = {path.name for path in MANIFESTS.glob("*.yaml")}
    assert set(KUSTOMIZATION["resources"]) == files - {"kustomization.yaml", SECRET_TEMPLATE}
    images = {image["name"] for image in KUSTOMIZATION["images"]}
    for _, container in _containers():
        assert container["image"].rsplit(":", 1)[0] in images


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _ports_of(deployment: Doc) -> set[str]:
    return {
        port["name"]
        for container in deployment["spec"]["template"]["spec"]["containers"]
        for port in container.get("ports", [])
    }


@pytest.mark.parametrize("component", ["server", "agent"])
def test_each_service_selects_its_deployment_alone_on_a_real_port(component: str) -> None:
    service = _one("Service", f"solvyd-{component}")
    deployments = [d for d in APPLIED if d["kind"] == "Deployment"]
    chosen = [
        d["metadata"]["name"]
        for d in deployments
        if _selects(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
    ]
    assert chosen == [f"solvyd-{component}"]
    deployment = _one("Deployment", f"solvyd-{component}")
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in _ports_of(deployment)


def test_ingress_pdb_and_monitors_reach_real_services_and_ports() -> None:
    services = {d["metadata"]["name"]: d for d in APPLIED if d["kind"] == "Service"}
    ingress = _one("Ingress", "solvyd")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            names = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] in names
    pdb = _one("PodDisruptionBudget", "solvyd-server")
    server = _one("Deployment", "solvyd-server")
    assert _selects(
        pdb["spec"]["selector"]["matchLabels"], server["spec"]["template"]["metadata"]["labels"]
    )
    assert pdb["spec"]["minAvailable"] < server["spec"]["replicas"]
    for monitor in (d for d in APPLIED if d["kind"] == "ServiceMonitor"):
        [service] = [
            s
            for s in services.values()
            if _selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
        ]
        # The operator names the job after the Service: docs/metrics.md's job names.
        assert service["metadata"]["name"] == monitor["metadata"]["name"]
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}


def test_probes_ask_real_routes_on_a_real_port(tmp_path: Path) -> None:
    routes = create_app(ServerSettings(data_dir=tmp_path)).openapi()["paths"]
    server = _one("Deployment", "solvyd-server")
    [container] = server["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in routes, probe
        assert get["port"] in _ports_of(server), probe
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == "http")
    assert container["args"][container["args"].index("--port") + 1] == str(port)


def _surface(command: str) -> CommandSurface:
    return {"server": server_surface, "agent": agent_surface, "migrate": migrate_surface}[command]()


def test_containers_use_only_real_commands_options_and_settings() -> None:
    config_maps = {d["metadata"]["name"]: d for d in APPLIED if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"]: d for d in SECRETS}
    for pod, container in _containers():
        surface = _surface(container["args"][0])
        assert unknown_options(container["args"][1:], surface) == []
        names = [variable["name"] for variable in container.get("env", [])]
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                names += list(config_maps[source["configMapRef"]["name"]]["data"])
            else:
                names += list(secrets[source["secretRef"]["name"]]["stringData"])
        assert unknown_env(names, surface) == [], container["name"]
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
    # The agents' Secret holds the file their --token-file names, and nothing of the server's.
    agent = _one("Deployment", "solvyd-agent")["spec"]["template"]["spec"]["containers"][0]
    token_file = Path(agent["args"][agent["args"].index("--token-file") + 1])
    assert token_file.name in secrets["solvyd-agent"]["stringData"]
    assert not set(secrets["solvyd-agent"]["stringData"]) & server_env()


def _mounted_empty_dir(pod: Doc, container: Doc, path: str) -> bool:
    scratch = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    return any(
        mount["name"] in scratch and (path + "/").startswith(mount["mountPath"].rstrip("/") + "/")
        for mount in container.get("volumeMounts", [])
    )


def test_pods_run_as_non_root_on_a_read_only_root_writing_only_to_empty_dirs() -> None:
    data_dir = _one("ConfigMap", "solvyd")["data"]["SOLVYD_DATA_DIR"]
    for pod, container in _containers():
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert "resources" in container and container["resources"]["limits"]["memory"]
        env = {v["name"]: v["value"] for v in container.get("env", [])}
        writes = ["/tmp"]  # noqa: S108 - the pods' own scratch volume, checked here
        writes.append(env.get("SOLVYD_WORK_DIR", data_dir))
        for path in writes:
            assert _mounted_empty_dir(pod, container, path), (container["name"], path)


def test_the_secret_template_holds_placeholders_only() -> None:
    for secret in SECRETS:
        for key, value in secret["stringData"].items():
            assert "CHANGE-ME" in value, key
