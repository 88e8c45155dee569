"""Real installed distributions of Solvyd plugins, made in a directory for a test.

What `pip install` leaves in site-packages, reduced to what `importlib.metadata` reads: the
plugin's module beside a `<name>-<version>.dist-info` folder holding `METADATA` and
`entry_points.txt` (the formats of the Python Packaging User Guide's "Recording installed
projects" and "Entry points specification"). A directory of them on `sys.path` or
`PYTHONPATH` is a site-packages with those plugins installed.
"""

import textwrap
from pathlib import Path

GROUP = "solvyd.plugins"


def install_plugin(
    site: Path, *, entry_point: str, module: str, source: str, version: str = "0.1.0"
) -> None:
    """A distribution named after the entry point whose one entry point of group
    `solvyd.plugins`, `entry_point`, names `module` (written from `source`)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    dist = f"solvyd_test_{entry_point.replace('-', '_')}"
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{entry_point} = {module}\n")
