"""The kubernetes executor's agent options: how they parse, what they refuse, and that an
agent on another executor never imports the Kubernetes client."""

import subprocess
import sys

import pytest

from solvyd.cli.errors import CliError
from solvyd.cli.kube_options import KubernetesOptions
from solvyd.pipeline.executors.kube_settings import (
    SettingsError,
    label_value,
    parse_node_selector,
    parse_tolerations,
)


def test_node_selector_and_tolerations_parse_as_kubectl_spells_them() -> None:
    assert parse_node_selector("disktype=ssd, kubernetes.io/arch=amd64") == {
        "disktype": "ssd",
        "kubernetes.io/arch": "amd64",
    }
    assert parse_tolerations("ci=true:NoSchedule,gpu:NoExecute,spot") == [
        {"key": "ci", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
        {"key": "gpu", "operator": "Exists", "effect": "NoExecute"},
        {"key": "spot", "operator": "Exists"},
    ]
    assert parse_node_selector("") == {} and parse_tolerations("") == []


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_node_selector, "disktype"),
        (parse_node_selector, "bad key=x"),
        (parse_tolerations, "ci=true:Sometimes"),
        (parse_tolerations, "ci=not valid:NoSchedule"),
    ],
)
def test_a_malformed_option_is_refused_with_the_term(parse: object, text: str) -> None:
    with pytest.raises(SettingsError, match="is not"):
        parse(text)  # type: ignore[operator]


def test_the_cli_options_become_settings_or_one_error_line() -> None:
    settings = KubernetesOptions(
        namespace="ci", node_selector="pool=ci", tolerations="ci:NoSchedule"
    ).settings("agent 1")
    assert settings.namespace == "ci"
    assert settings.node_selector == {"pool": "ci"}
    assert label_value(settings.owner) == "agent-1"
    with pytest.raises(CliError, match="node selector term 'pool'"):
        KubernetesOptions(node_selector="pool").settings("a")


def test_an_agent_on_another_executor_never_imports_the_kubernetes_client() -> None:
    probe = (
        "import sys, pathlib\n"
        "from solvyd.pipeline.executors.registry import create_executor\n"
        "create_executor('docker', pathlib.Path('w'))\n"
        "create_executor('kubernetes', pathlib.Path('w'))\n"
        "print('kubernetes_asyncio' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
