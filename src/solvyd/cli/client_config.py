"""The CLI's saved login: server URL and token, in the user's config directory (mode 0600)."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_config_path

from solvyd.cli.errors import CliError


def config_path() -> Path:
    override = os.environ.get("SOLVYD_CLI_CONFIG")
    return Path(override) if override else user_config_path("solvyd") / "config.json"


@dataclass
class ClientConfig:
    server_url: str
    token: str
    # The id of `token` when `solvyd login` made it, so the next login can revoke it.
    token_id: str | None = None


def save_config(config: ClientConfig) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # The mode above applies only to a new file: tighten an existing one before the token is in.
    os.fchmod(fd, 0o600)
    saved = {"server_url": config.server_url, "token": config.token}
    if config.token_id:
        saved["token_id"] = config.token_id
    with os.fdopen(fd, "w") as handle:
        json.dump(saved, handle)
    return path


def saved_config() -> ClientConfig | None:
    """The saved login, if there is a readable one (environment overrides aside)."""
    try:
        data = json.loads(config_path().read_text())
        token_id = data.get("token_id")
        return ClientConfig(str(data["server_url"]), str(data["token"]), token_id and str(token_id))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def load_config() -> ClientConfig:
    url, token = os.environ.get("SOLVYD_URL"), os.environ.get("SOLVYD_TOKEN")
    if url and token:
        return ClientConfig(url, token)
    path = config_path()
    try:
        data = json.loads(path.read_text())
        return ClientConfig(str(data["server_url"]), str(data["token"]))
    except FileNotFoundError:
        raise CliError("not logged in: run `solvyd login URL --username NAME` first") from None
    except (ValueError, KeyError) as exc:
        raise CliError(f"{path} is damaged ({exc}); run `solvyd login` again") from None
