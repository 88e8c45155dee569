"""deploy/kubernetes/ validates against Kubernetes' own schemas (kubernetes-validate, strict,
a pinned version), the ServiceMonitors against tests/support/servicemonitor_schema.py, and its
parts fit together and with the code: selectors, ports, probe routes, settings, options."""

import copy
import re
from pathlib import Path, PurePosixPath
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
REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "deploy" / "kubernetes"
SECRET_TEMPLATE = "secret.example.yaml"
# The directories a command makes private (0700) or writes in: each must be a directory it
# can make inside a writable volume, never a volume's mount point (root's, even with fsGroup).
OWN_DIRECTORIES = ("SOLVYD_DATA_DIR", "SOLVYD_WORK_DIR")
# Volume kinds the kubelet always mounts read-only.
READ_ONLY_VOLUMES = ("secret", "configMap", "downwardAPI", "projected")

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


def _image_env() -> dict[str, str]:
    """The SOLVYD_* defaults of the image (the Dockerfile's ENV)."""
    return dict(re.findall(r"\b(SOLVYD_[A-Z0-9_]+)=(\S+)", (REPO / "Dockerfile").read_text()))


def _container_env(container: Doc) -> dict[str, str]:
    """What the container's process sees: the image's defaults, then envFrom, then env."""
    config_maps = {d["metadata"]["name"]: d for d in APPLIED if d["kind"] == "ConfigMap"}
    env = _image_env()
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]]["data"])
    env.update({v["name"]: v["value"] for v in container.get("env", []) if "value" in v})
    return env


def _writable_mounts(pod: Doc, container: Doc) -> list[PurePosixPath]:
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    return [
        PurePosixPath(mount["mountPath"])
        for mount in container.get("volumeMounts", [])
        if not mount.get("readOnly")
        and not any(kind in volumes[mount["name"]] for kind in READ_ONLY_VOLUMES)
    ]


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
    assert {d["metadata"]["name"] for d in APPLIED if d["kind"] == "NetworkPolicy"} == {
        "solvyd-server",
        "solvyd-agent",
    }


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


def test_own_directories_are_made_inside_a_writable_volume_never_its_mount_point() -> None:
    """A server makes SOLVYD_DATA_DIR 0700 at start: on an emptyDir's mount point, owned by
    root, uid 10001 gets EPERM and the pod crash-loops. So every directory a container's
    command reads (from env, the ConfigMap, or the image's default) must lie strictly below
    the mount point of a volume it may write."""
    checked = set()
    for pod, container in _containers():
        command = container["args"][0]
        env = _container_env(container)
        for name in OWN_DIRECTORIES:
            if name not in _surface(command).env:
                continue  # the agent never reads SOLVYD_DATA_DIR, say
            directory = PurePosixPath(env[name])
            mounts = _writable_mounts(pod, container)
            assert directory not in mounts, (container["name"], name, str(directory))
            assert any(directory.is_relative_to(mount) for mount in mounts), (
                container["name"],
                name,
                str(directory),
            )
            checked.add((command, name))
    assert {("server", "SOLVYD_DATA_DIR"), ("migrate", "SOLVYD_DATA_DIR")} <= checked
    assert ("agent", "SOLVYD_WORK_DIR") in checked


def test_the_mount_point_check_catches_the_data_dir_on_the_mount_point() -> None:
    server = _one("Deployment", "solvyd-server")["spec"]["template"]["spec"]
    [container] = server["containers"]
    data_dir = PurePosixPath(_container_env(container)["SOLVYD_DATA_DIR"])
    assert data_dir.parent in _writable_mounts(server, container)
    assert data_dir not in _writable_mounts(server, container)
    wrong = copy.deepcopy(container)
    wrong["env"] = [{"name": "SOLVYD_DATA_DIR", "value": str(data_dir.parent)}]
    assert PurePosixPath(_container_env(wrong)["SOLVYD_DATA_DIR"]) in _writable_mounts(
        server, wrong
    )


def _container_port(deployment: Doc, name: str) -> int:
    [port] = [
        p["containerPort"]
        for c in deployment["spec"]["template"]["spec"]["containers"]
        for p in c.get("ports", [])
        if p["name"] == name
    ]
    return int(port)


def _service_target(service: Doc, port_name: str) -> str:
    [target] = [p["targetPort"] for p in service["spec"]["ports"] if p["name"] == port_name]
    return str(target)


def test_server_metrics_have_their_own_port_which_the_ingress_does_not_reach() -> None:
    config = _one("ConfigMap", "solvyd")["data"]
    server = _one("Deployment", "solvyd-server")
    metrics_port = int(config["SOLVYD_METRICS_PORT"])
    assert _container_port(server, "metrics") == metrics_port
    assert metrics_port != _container_port(server, "http")
    service = _one("Service", "solvyd-server")
    monitor = _one("ServiceMonitor", "solvyd-server")
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["path"] == "/metrics"
        assert _service_target(service, endpoint["port"]) == "metrics"
    ingress = _one("Ingress", "solvyd")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "solvyd-server"
            assert _service_target(service, backend["port"]["name"]) == "http"


def test_the_servers_trust_no_forwarded_for_by_default() -> None:
    # A network such as the cluster's pod CIDR lets any pod (an agent's step) forge
    # X-Forwarded-For: the operator sets the ingress controller's addresses, documented there.
    assert "SOLVYD_TRUSTED_PROXIES" not in _one("ConfigMap", "solvyd")["data"]
    assert "SOLVYD_TRUSTED_PROXIES" in (MANIFESTS / "configmap.yaml").read_text()


def _allowed(policy: Doc, port: str) -> list[Doc]:
    """The peers an Ingress NetworkPolicy lets reach a (named) port."""
    return [
        peer
        for rule in policy["spec"]["ingress"]
        if any(p["port"] == port for p in rule["ports"])
        for peer in rule["from"]
    ]


def test_network_policies_let_only_the_ingress_agents_and_monitoring_in() -> None:
    policies = {d["metadata"]["name"]: d for d in APPLIED if d["kind"] == "NetworkPolicy"}
    deployments = [d for d in APPLIED if d["kind"] == "Deployment"]
    agent_labels = _one("Deployment", "solvyd-agent")["spec"]["template"]["metadata"]["labels"]
    for component in ("server", "agent"):
        policy = policies[f"solvyd-{component}"]
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        chosen = [
            d["metadata"]["name"]
            for d in deployments
            if _selects(
                policy["spec"]["podSelector"]["matchLabels"],
                d["spec"]["template"]["metadata"]["labels"],
            )
        ]
        assert chosen == [f"solvyd-{component}"]
        deployment = _one("Deployment", f"solvyd-{component}")
        # Every port named is one of the pods' own; every rule names its ports and peers
        # (a rule without them would let everyone in).
        for rule in policy["spec"]["ingress"]:
            assert rule["from"] and rule["ports"]
            for port in rule["ports"]:
                assert port["port"] in _ports_of(deployment)
        assert set(_ports_of(deployment)) == {
            p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]
        }
        # Metrics: from the monitoring namespace alone.
        [monitoring] = _allowed(policy, "metrics")
        assert set(monitoring) == {"namespaceSelector"}
        assert monitoring["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "monitoring"
        }
    server_policy = policies["solvyd-server"]
    peers = _allowed(server_policy, "http")
    assert len(peers) == 2
    [namespace] = [p for p in peers if "namespaceSelector" in p]
    assert set(namespace) == {"namespaceSelector"}
    assert set(namespace["namespaceSelector"]["matchLabels"]) == {"kubernetes.io/metadata.name"}
    [agents] = [p for p in peers if "podSelector" in p]
    # This namespace's agents (a podSelector alone), and only them.
    assert set(agents) == {"podSelector"}
    assert _selects(agents["podSelector"]["matchLabels"], agent_labels)
    server_labels = _one("Deployment", "solvyd-server")["spec"]["template"]["metadata"]["labels"]
    assert not _selects(agents["podSelector"]["matchLabels"], server_labels)


def test_the_kubernetes_agent_may_act_only_in_the_builds_namespace_and_lists_no_secrets() -> None:
    role, binding = _one("Role", "solvyd-kube-agent"), _one("RoleBinding", "solvyd-kube-agent")
    builds = role["metadata"]["namespace"]
    assert builds == binding["metadata"]["namespace"] == "solvyd-builds"
    assert builds in {d["metadata"]["name"] for d in APPLIED if d["kind"] == "Namespace"}
    # Nothing else runs there: the server and its Secrets are elsewhere.
    transformer = yaml.safe_load(KUSTOMIZATION["transformers"][0])
    assert transformer["metadata"]["namespace"] == "solvyd" != builds
    assert transformer["unsetOnly"] is True
    assert [d for d in APPLIED if d.get("metadata", {}).get("namespace") == builds] == [
        role,
        binding,
    ]
    [subject] = binding["subjects"]
    assert (subject["kind"], subject["namespace"]) == ("ServiceAccount", "solvyd")
    verbs = {
        resource: set(rule["verbs"]) for rule in role["rules"] for resource in rule["resources"]
    }
    assert verbs["secrets"] == {"create", "patch", "delete"}  # never get, list nor watch
    assert verbs["pods"] == {"create", "get", "list", "delete"}
