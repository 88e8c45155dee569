"""The package carries the built web UI (hatch_build.py): the sdist built from this tree, then
the wheel built from that sdist with no Node.js on PATH, installed into a fresh venv, gives a
`solvyd server` that serves the UI, with no Node.js and no source tree in sight."""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx

from tests.support.processes import ADMIN_PASSWORD, free_port, spawn, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
# What `make sync` installs: found on PATH or where the Makefile puts it.
UV = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")


def _run(*args: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=600, check=False, cwd=ROOT
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"


def _fresh_install(tmp_path: Path) -> Path:
    """The venv the built wheel is installed into; returns its bin directory."""
    out = tmp_path / "dist"
    # The sdist from this tree: its hook rebuilds web/dist only when it is older than the UI's
    # sources (`make test` has just built it with `make web`).
    _run(UV, "build", "--sdist", "--out-dir", str(out), str(ROOT))
    (sdist,) = out.glob("solvyd-*.tar.gz")
    # The wheel from the sdist, as pip does from a published sdist: no npm to be found.
    no_node = {**os.environ, "PATH": str(Path(UV).parent)}
    _run(UV, "build", "--wheel", "--python", sys.executable, "--out-dir", str(out), str(sdist),
         env=no_node)  # fmt: skip
    (wheel,) = out.glob("solvyd-*.whl")

    venv = tmp_path / "venv"
    _run(UV, "venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    _run(UV, "pip", "install", "--quiet", "--offline", "--no-deps", "--python", str(python),
         str(wheel))  # fmt: skip
    # The dependencies are this test run's own (no index needed); its solvyd is not: a path in
    # a .pth comes after the venv's own site-packages, and the editable install's hook (a .pth
    # file in that directory) is not run from there.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    Path(purelib, "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def test_installed_wheel_serves_the_web_ui_without_node(tmp_path: Path, log_dir: Path) -> None:
    bin_dir = _fresh_install(tmp_path)
    env = {"PATH": str(bin_dir), "PYTHONPATH": ""}  # an empty PYTHONPATH is no PYTHONPATH
    assert shutil.which("node", path=env["PATH"]) is None
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import solvyd; print(solvyd.__file__)"],
        env={**os.environ, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=30,
        check=True,
    ).stdout  # fmt: skip
    assert Path(where.strip()).is_relative_to(bin_dir.parent), where

    port = free_port()
    process = spawn(
        "installed-server",
        ["server", "--host", "127.0.0.1", "--port", str(port)],
        {
            **env,
            "SOLVYD_DATA_DIR": str(tmp_path / "data"),
            "SOLVYD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        },
        log_dir,
        cwd=tmp_path,
        program=[str(bin_dir / "solvyd")],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url)
        page = httpx.get(f"{url}/", timeout=10)
        assert page.status_code == 200, page.text
        assert "not built" not in page.text
        assert page.text == (ROOT / "web" / "dist" / "index.html").read_text()
        script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
        assert script is not None, page.text
        asset = httpx.get(f"{url}{script.group(1)}", timeout=10)
        assert asset.status_code == 200
        assert "javascript" in asset.headers["content-type"]
        assert asset.content == (ROOT / "web" / "dist" / script.group(1).lstrip("/")).read_bytes()
    finally:
        process.stop()
