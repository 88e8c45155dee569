"""`solvyd exec` runs a pipeline here, with no server, through the agent's runtime."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docker_engine import TEST_IMAGE, require_docker

pytestmark = pytest.mark.e2e


def _exec(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "solvyd.cli", "exec", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "VERSION").write_text("1.2.3\n")
    (tmp_path / ".solvyd.yml").write_text(
        "steps:\n"
        "  - name: read\n"
        "    commands: ['echo version $(cat VERSION)', 'echo built > out.txt']\n"
        "  - name: check\n"
        "    commands: ['cat out.txt', 'echo ci=$CI step=$SOLVYD_STEP_NAME']\n"
    )
    return tmp_path


def test_exec_runs_the_pipeline_on_a_copy_of_the_directory(project: Path) -> None:
    result = _exec([], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "── read" in result.stdout and "── check" in result.stdout
    assert "version 1.2.3" in result.stdout
    assert "built" in result.stdout
    assert "ci=true step=check" in result.stdout
    assert "pipeline success" in result.stderr
    assert not (project / "out.txt").exists()  # the user's directory is left alone


def test_exec_exits_with_the_failing_step_exit_code(project: Path) -> None:
    (project / "fail.yml").write_text("steps:\n  - name: s\n    commands: ['exit 4']\n")
    result = _exec(["fail.yml"], project)
    assert result.returncode == 4
    assert "pipeline failure" in result.stderr


def test_exec_one_step(project: Path) -> None:
    result = _exec(["--step", "read"], project)
    assert result.returncode == 0, result.stderr
    assert "── read" in result.stdout
    assert "── check" not in result.stdout


def test_exec_reports_a_bad_file_with_its_line(project: Path) -> None:
    (project / "bad.yml").write_text("steps:\n  - name: s\n    comands: [true]\n")
    result = _exec(["bad.yml"], project)
    assert result.returncode == 1
    assert "bad.yml:3:5: steps[0].comands" in result.stderr
    assert "Traceback" not in result.stderr


def test_exec_copies_the_artifacts_out_and_keeps_the_workspace(
    project: Path, tmp_path: Path
) -> None:
    (project / "art.yml").write_text(
        "artifacts: ['dist/*.whl']\n"
        "steps:\n"
        "  - name: build\n"
        "    commands: ['mkdir -p dist reports', 'echo wheel > dist/pkg-1.0.whl',"
        " 'echo \"<testsuite/>\" > reports/junit.xml', 'echo scratch > scratch.txt']\n"
        "    artifacts: reports/\n"
    )
    out = tmp_path / "out"
    result = _exec(["art.yml", "--artifacts-dir", str(out), "--keep-workspace"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "dist" / "pkg-1.0.whl").read_text() == "wheel\n"
    assert (out / "reports" / "junit.xml").read_text() == "<testsuite/>\n"
    assert not (out / "scratch.txt").exists()
    assert f"artifacts: 2 file(s) copied to {out}" in result.stderr
    kept = Path(result.stderr.split("workspace kept in ", 1)[1].split()[0])
    try:
        assert (kept / "scratch.txt").read_text() == "scratch\n"
        assert (kept / "VERSION").read_text() == "1.2.3\n"
    finally:
        shutil.rmtree(kept)


def test_exec_steps_get_no_venv_of_solvyd_and_only_the_host_variables_named(
    project: Path,
) -> None:
    """As under `make run`: Solvyd's own virtual environment is active in the caller."""
    venv_bin = str(Path(sys.prefix) / "bin")
    (project / "env.yml").write_text(
        "steps:\n"
        "  - name: show\n"
        "    env: {SSL_CERT_FILE: /job/own.pem}\n"
        "    commands:\n"
        "      - 'echo path=$PATH'\n"
        "      - 'echo python3=$(command -v python3 || echo none)'\n"
        "      - 'echo venv=${VIRTUAL_ENV-unset} pythonpath=${PYTHONPATH-unset}'\n"
        "      - 'echo proxy=${HTTPS_PROXY-unset} ca=$SSL_CERT_FILE other=${NOT_NAMED-unset}'\n"
    )
    host = {
        "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": sys.prefix,
        "PYTHONPATH": "/somewhere",
        "HTTPS_PROXY": "http://proxy.invalid:3128",
        "SSL_CERT_FILE": "/host/ca.pem",
        "NOT_NAMED": "host-only",
    }
    result = _exec(["env.yml", "--env-passthrough", "HTTPS_PROXY, SSL_CERT_FILE"], project, host)
    assert result.returncode == 0, result.stdout + result.stderr
    path = next(line for line in result.stdout.splitlines() if line.startswith("path="))
    assert venv_bin not in path.removeprefix("path=").split(os.pathsep)
    python3 = next(line for line in result.stdout.splitlines() if line.startswith("python3="))
    assert not python3.removeprefix("python3=").startswith(sys.prefix)
    assert "venv=unset pythonpath=unset" in result.stdout
    # Named: passed; the job's own value wins over the host's; not named: not passed.
    assert "proxy=http://proxy.invalid:3128 ca=/job/own.pem other=unset" in result.stdout
    assert "proxy.invalid" not in result.stderr  # names are said, values never


def test_exec_refuses_a_bad_passthrough_name_in_one_line(project: Path) -> None:
    result = _exec(["--env-passthrough", "HTTPS_PROXY,SOLVYD_AGENT_TOKEN"], project)
    assert result.returncode == 1
    assert "error: --env-passthrough: cannot pass 'SOLVYD_AGENT_TOKEN'" in result.stderr
    assert "Traceback" not in result.stderr


def _lint(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "solvyd.cli", "lint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_lint_accepts_a_good_file_and_names_the_line_of_a_bad_one(project: Path) -> None:
    good = _lint([], project)
    assert good.returncode == 0, good.stderr
    assert "2 steps" in good.stdout + good.stderr
    (project / "bad.yml").write_text(
        "steps:\n  - name: build\n    commands: [make]\n"
        "  - name: test\n    commands: [make test]\n    depends_on: [biuld]\n"
    )
    bad = _lint(["bad.yml"], project)
    assert bad.returncode == 1
    assert 'bad.yml:6:5: steps[1].depends_on: unknown step "biuld" (did you mean "build"?)' in (
        bad.stderr
    )
    assert "Traceback" not in bad.stderr


def test_lint_shows_every_problem_and_warning_with_its_line(project: Path) -> None:
    (project / "many.yml").write_text(
        "env:\n  PY: 3.10\nsteps:\n  - name: lint\n    commands: ruff check\n"
        "    depends_on: [tset]\n    colour: red\n  - name: test\n    commands: pytest\n"
    )
    bad = _lint(["many.yml"], project)
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == [
        'many.yml:6:5: steps[0].depends_on: unknown step "tset" (did you mean "test"?)',
        "        depends_on: [tset]",
        "        ^",
        "many.yml:7:5: steps[0].colour: unknown field",
        "        colour: red",
        "        ^",
        "many.yml:2:7: warning: env.PY: YAML reads 3.10 as the number 3.1; quote it to keep it "
        'as written: "3.10"',
        "      PY: 3.10",
        "          ^",
        "error: 2 problems and 1 warning in many.yml",
    ]


def test_lint_passes_with_warnings_unless_strict(project: Path) -> None:
    (project / "warn.yml").write_text(
        "steps:\n  - name: test\n    commands: [echo $PY]\n    matrix:\n      PY: [3.10, 3.12]\n"
    )
    lenient = _lint(["warn.yml"], project)
    assert lenient.returncode == 0, lenient.stderr
    assert "warn.yml:5:12: warning: steps[0].matrix.PY[0]: YAML reads 3.10" in lenient.stderr
    assert lenient.stdout.strip() == (
        "warn.yml: ok, 2 steps (1 in the file, matrix expanded), 1 warning"
    )
    strict = _lint(["--strict", "warn.yml"], project)
    assert strict.returncode == 1
    assert strict.stderr.splitlines()[-1] == "error: 1 warning in warn.yml (--strict)"


def test_exec_runs_a_step_without_an_image_in_the_default_image(project: Path) -> None:
    require_docker()
    result = _exec(["--executor", "docker", "--default-image", TEST_IMAGE], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "version 1.2.3" in result.stdout and "built" in result.stdout
    assert f"Using the agent's default image {TEST_IMAGE}" in result.stdout + result.stderr
    refused = _exec(["--default-image", TEST_IMAGE], project)
    assert refused.returncode == 1
    assert "error: --default-image is for the docker and kubernetes executors" in refused.stderr
