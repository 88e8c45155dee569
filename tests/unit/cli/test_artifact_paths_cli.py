"""`builds download` saves an artifact under the output directory or not at all: its name is
server data."""

from pathlib import Path

import pytest

from solvyd.cli.artifact_download import matching, target_path
from solvyd.cli.errors import CliError


@pytest.mark.parametrize(
    "name",
    [
        "../outside.txt",
        "dist/../../outside.txt",
        "/etc/passwd",
        "..",
        ".",
        "",
        "dist\\..\\..\\outside.txt",
        "nul\x00byte",
    ],
)
def test_a_name_that_leaves_the_directory_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(CliError, match="refusing the artifact"):
        target_path(tmp_path / "out", name)


def test_a_symlink_in_the_directory_does_not_lead_out(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(CliError, match="refusing"):
        target_path(root, "link/stolen.txt")


def test_a_nested_name_lands_under_the_directory(tmp_path: Path) -> None:
    assert target_path(tmp_path, "dist/pkg-1.0.whl") == tmp_path / "dist" / "pkg-1.0.whl"


def test_the_pattern_is_a_glob_on_the_whole_path() -> None:
    items = [{"name": "dist/a.whl"}, {"name": "report.xml"}, {"name": "dist/sub/b.whl"}]
    assert [a["name"] for a in matching(items, "*.whl")] == ["dist/a.whl", "dist/sub/b.whl"]
    assert [a["name"] for a in matching(items, "report.xml")] == ["report.xml"]
    assert matching(items, None) == items
