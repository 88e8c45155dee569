"""The agent's settings for the ``kubernetes`` executor, and how its options are parsed.

Kept apart from the executor so that the CLI and the registry can name them without importing
the Kubernetes client (``kubernetes_asyncio`` costs ~80 MB and 2 s: only an agent that runs
this executor pays for it)."""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solvyd import __version__

# The Solvyd image: python, solvyd and git on PATH (what the checkout step runs).
DEFAULT_CHECKOUT_IMAGE = f"solvyd/solvyd:{__version__}"
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


class SettingsError(ValueError):
    """An option's value is not what it must be; the message says which and why."""


@dataclass(frozen=True)
class KubernetesSettings:
    """Where and how builds' pods are made.

    ``kubeconfig``: a kubeconfig file; None means in-cluster (the pod's service account) when
    the agent runs in a pod, else the default kubeconfig (``$KUBECONFIG``, ``~/.kube/config``).
    ``namespace``: None means the kubeconfig context's (or the agent pod's) namespace.
    ``owner``: the agent's name, a label on every pod and Secret it makes, so that its start-up
    sweep removes its own leftovers and never another agent's."""

    namespace: str | None = None
    kubeconfig: Path | None = None
    checkout_image: str = DEFAULT_CHECKOUT_IMAGE
    default_image: str | None = None
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    service_account: str | None = None
    owner: str = "agent"
    # How long a build's pod may take to get all its containers running (image pulls).
    start_seconds: float = 300.0
    # How often the pod's status is read while steps run (their exit codes).
    poll_seconds: float = 0.25
    # How long a destroyed step's processes have between SIGTERM and SIGKILL.
    kill_grace_seconds: float = 1.0


def parse_node_selector(text: str) -> dict[str, str]:
    """``disktype=ssd,kubernetes.io/arch=amd64`` as a node selector."""
    selector: dict[str, str] = {}
    for term in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = term.partition("=")
        if not sep or not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
            raise SettingsError(f"node selector term {term!r} is not KEY=VALUE (a label)")
        selector[key] = value
    return selector


def parse_tolerations(text: str) -> list[dict[str, Any]]:
    """Tolerations in ``kubectl taint``'s words, comma-separated: ``KEY=VALUE:EFFECT``
    (tolerates that taint), ``KEY:EFFECT`` (any value of KEY), ``KEY`` (any effect)."""
    tolerations: list[dict[str, Any]] = []
    for term in filter(None, (part.strip() for part in text.split(","))):
        rest, _, effect = term.partition(":")
        key, sep, value = rest.partition("=")
        if not _LABEL_KEY.fullmatch(key) or (effect and effect not in _TAINT_EFFECTS):
            raise SettingsError(
                f"toleration {term!r} is not KEY[=VALUE][:EFFECT] with EFFECT one of "
                + ", ".join(_TAINT_EFFECTS)
            )
        if sep and not _LABEL_VALUE.fullmatch(value):
            raise SettingsError(f"toleration {term!r}: {value!r} is not a label value")
        toleration: dict[str, Any] = {"key": key, "operator": "Equal" if sep else "Exists"}
        if sep:
            toleration["value"] = value
        if effect:
            toleration["effect"] = effect
        tolerations.append(toleration)
    return tolerations


def label_value(text: str) -> str:
    """`text` made a valid label value: at most 63 of [A-Za-z0-9_.-], alphanumeric ends."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63].strip("-_.")
    return value or "unnamed"


_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?")
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
)
