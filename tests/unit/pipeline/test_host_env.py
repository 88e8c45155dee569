"""What a step gets of its agent's environment: the checked passthrough names, and a PATH
without the agent's own virtual environment."""

import os
import sys
from pathlib import Path

import pytest

from solvyd.pipeline.executors.host_env import (
    PassthroughError,
    inherited_env,
    parse_passthrough,
    passthrough_env,
)


def test_passthrough_names_are_split_trimmed_and_kept_once() -> None:
    assert parse_passthrough(" HTTPS_PROXY,no_proxy,,SSL_CERT_FILE,HTTPS_PROXY ") == (
        "HTTPS_PROXY",
        "no_proxy",
        "SSL_CERT_FILE",
    )
    assert parse_passthrough("") == ()


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("1PROXY", "a variable's name"),
        ("HTTP-PROXY", "a variable's name"),
        ("A=B", "a variable's name"),
        ("PATH", "always passed"),
        ("HOME", "always passed"),
        ("VIRTUAL_ENV", "Solvyd's own Python"),
        ("PYTHONPATH", "Solvyd's own Python"),
        ("SOLVYD_AGENT_TOKEN", "Solvyd sets it"),
        ("CI", "Solvyd sets it"),
    ],
)
def test_names_that_cannot_pass_are_refused_with_the_reason(name: str, why: str) -> None:
    with pytest.raises(PassthroughError, match=why) as raised:
        parse_passthrough(f"HTTPS_PROXY,{name}")
    assert repr(name) in str(raised.value)


def test_only_named_variables_that_are_set_pass() -> None:
    host = {"HTTPS_PROXY": "http://p:3128", "OTHER": "x"}
    assert passthrough_env(("HTTPS_PROXY", "NO_PROXY"), host) == {"HTTPS_PROXY": "http://p:3128"}


def test_the_path_loses_the_agents_virtual_environment_and_nothing_else(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    own = Path(sys.prefix) / "bin"
    path = os.pathsep.join([str(venv / "bin"), str(own), "/usr/local/bin", "/usr/bin"])
    env = inherited_env({"PATH": path, "VIRTUAL_ENV": str(venv), "HOME": "/root", "X": "1"})
    kept = env["PATH"].split(os.pathsep)
    assert str(venv / "bin") not in kept
    assert kept[-2:] == ["/usr/local/bin", "/usr/bin"]
    if sys.prefix != sys.base_prefix:  # the test runs in Solvyd's own venv, as make test does
        assert str(own) not in kept
    assert env["HOME"] == "/root" and "X" not in env and "VIRTUAL_ENV" not in env


def test_a_virtual_env_variable_that_is_no_venv_removes_nothing() -> None:
    env = inherited_env({"PATH": "/usr/bin:/bin", "VIRTUAL_ENV": "/usr"})
    assert env["PATH"] == "/usr/bin:/bin"
