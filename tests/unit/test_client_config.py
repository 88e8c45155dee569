"""The CLI's saved login: its token is never readable by other users, not even for a moment."""

import json
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from solvyd.cli import client_config
from solvyd.cli.client_config import ClientConfig, save_config, saved_config


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "solvyd" / "config.json"
    monkeypatch.setenv("SOLVYD_CLI_CONFIG", str(path))
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_config_is_made_0600(config_file: Path) -> None:
    save_config(ClientConfig("http://127.0.0.1:8080", "svp_new", "id-1"))
    assert _mode(config_file) == 0o600
    assert saved_config() == ClientConfig("http://127.0.0.1:8080", "svp_new", "id-1")


def test_an_existing_config_is_made_0600_before_the_token_is_written(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("{}")
    config_file.chmod(0o644)
    modes_while_writing: list[int] = []

    # Looks at the file's mode at the moment the token goes in (the real json.dump still writes).
    def dump_and_look(obj: object, handle: Any) -> None:
        modes_while_writing.append(_mode(config_file))
        json.dump(obj, handle)

    monkeypatch.setattr(client_config, "json", SimpleNamespace(dump=dump_and_look))
    save_config(ClientConfig("http://127.0.0.1:8080", "svp_secret"))
    assert modes_while_writing == [0o600]
    assert _mode(config_file) == 0o600
