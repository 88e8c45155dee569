"""What the deploy files may name, read from the code: the server's settings (environment
variables) and the `solvyd` commands' options and the variables they read."""

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass

import typer

from solvyd.cli import runners
from solvyd.cli.main import app
from solvyd.server.settings import ServerSettings

_ENVIRON_READ = re.compile(r"""os\.environ(?:\.get\(|\[)["'](SOLVYD_[A-Z0-9_]+)["']""")


@dataclass(frozen=True)
class CommandSurface:
    options: frozenset[str]
    env: frozenset[str]


def server_env() -> frozenset[str]:
    prefix = str(ServerSettings.model_config.get("env_prefix", ""))
    return frozenset(f"{prefix}{name}".upper() for name in ServerSettings.model_fields)


def command_surface(name: str, function: Callable[..., object]) -> CommandSurface:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    options = {opt for param in command.params for opt in param.opts if opt.startswith("-")}
    env = {param.envvar for param in command.params if isinstance(param.envvar, str)}
    # What the function reads itself, besides its options (the agent's log format, say).
    env |= set(_ENVIRON_READ.findall(inspect.getsource(function)))
    return CommandSurface(frozenset(options), frozenset(env))


def agent_surface() -> CommandSurface:
    surface = command_surface("agent", runners.agent)
    # The registration token is read by registration_token(), named by TOKEN_ENV.
    return CommandSurface(surface.options, surface.env | {runners.TOKEN_ENV})


def server_surface() -> CommandSurface:
    surface = command_surface("server", runners.server)
    return CommandSurface(surface.options, surface.env | server_env())


def migrate_surface() -> CommandSurface:
    from solvyd.cli.migrate import migrate

    surface = command_surface("migrate", migrate)
    return CommandSurface(surface.options, surface.env | server_env())


def unknown_options(args: list[str], surface: CommandSurface) -> list[str]:
    flags = [arg.split("=", 1)[0] for arg in args if arg.startswith("-")]
    return [flag for flag in flags if flag not in surface.options]


def unknown_env(names: list[str], surface: CommandSurface) -> list[str]:
    return [name for name in names if name.startswith("SOLVYD_") and name not in surface.env]
