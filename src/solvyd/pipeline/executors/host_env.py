"""What a step gets from the environment of the agent that runs it.

A local step inherits ``PATH``, ``HOME``, ``LANG`` and ``TMPDIR`` and nothing else of the
agent's own settings or tokens. ``PATH`` is taken without the agent's own Python virtual
environment: under ``make run`` (``uv run``) or an activated venv its ``bin`` comes first, and
a step's ``python3`` or ``pip install`` would otherwise be Solvyd's own.

An operator names more host variables to pass (``--env-passthrough``), for what a machine's
builds need and the job cannot know: proxies, a custom CA bundle. They pass to the local and
the docker executor alike, below everything else: the job's, the trigger's and the step's
variables and the ones Solvyd sets (``CI``, ``SOLVYD_*``) win over them. Names Solvyd owns
are refused rather than silently ignored.
"""

import os
import re
import sys
from collections.abc import Iterable, Mapping

INHERITED_ENV = ("PATH", "HOME", "LANG", "TMPDIR")
# They point Python at Solvyd's own interpreter and packages, not at the step's.
AGENT_PYTHON_ENV = ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class PassthroughError(ValueError):
    """A name that cannot be passed through; the message says which and why."""


def parse_passthrough(text: str) -> tuple[str, ...]:
    """The names of a comma-separated list (``HTTPS_PROXY,SSL_CERT_FILE``), in order, each
    once. Raises ``PassthroughError`` for a name that is not a variable's or that Solvyd
    owns."""
    names: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        problem = _name_problem(name)
        if problem is not None:
            raise PassthroughError(f"cannot pass {name!r} through to steps: {problem}")
        if name not in names:
            names.append(name)
    return tuple(names)


def _name_problem(name: str) -> str | None:
    if not _NAME.fullmatch(name):
        return "a variable's name is letters, digits and '_', not starting with a digit"
    if name in INHERITED_ENV:
        return "it is always passed (PATH without Solvyd's own virtual environment)"
    if name in AGENT_PYTHON_ENV:
        return "it describes Solvyd's own Python, which steps must not use"
    if name == "CI" or name.startswith("SOLVYD"):
        return "Solvyd sets it for each step (and the agent's own settings are never passed)"
    return None


def passthrough_env(
    names: Iterable[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The named variables that are set in the agent's environment, with their values."""
    source = os.environ if environ is None else environ
    return {name: source[name] for name in names if name in source}


def inherited_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What every local step starts from: ``INHERITED_ENV``, with ``PATH`` cleaned."""
    source = os.environ if environ is None else environ
    env = {name: source[name] for name in INHERITED_ENV if name in source}
    env["PATH"] = step_path(env.get("PATH", ""), _agent_venv_bins(source))
    return env


def step_path(path: str, hidden_bins: set[str]) -> str:
    """``path`` without the directories in ``hidden_bins`` (compared by their real paths)."""
    kept = [
        entry
        for entry in path.split(os.pathsep)
        if entry and os.path.realpath(entry) not in hidden_bins
    ]
    return os.pathsep.join(kept) or os.defpath


def _agent_venv_bins(environ: Mapping[str, str]) -> set[str]:
    """The ``bin`` directories of the virtual environment the agent runs in or was started
    from. Only real virtual environments count: a stray ``VIRTUAL_ENV=/usr`` must not take
    ``/usr/bin`` from the steps."""
    prefixes = []
    if sys.prefix != sys.base_prefix:
        prefixes.append(sys.prefix)
    if venv := environ.get("VIRTUAL_ENV"):
        prefixes.append(venv)
    return {
        os.path.realpath(os.path.join(prefix, "bin"))
        for prefix in prefixes
        if os.path.isfile(os.path.join(prefix, "pyvenv.cfg"))
    }
