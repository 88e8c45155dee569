"""The `solvyd` command."""

import os
import sys

import typer
from rich.text import Text

from solvyd import __version__
from solvyd.cli import (
    agent_tokens,
    builds,
    deploy,
    jobs,
    lint,
    local_run,
    login,
    migrate,
    plugins,
    retention,
    runners,
    secrets,
    tokens,
    users,
    workers,
)
from solvyd.cli.errors import CliError
from solvyd.cli.output import err_console

app = typer.Typer(
    name="solvyd",
    help="Solvyd: a self-hosted CI/CD server, its agents and its CLI.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
app.command("server")(runners.server)
app.command("server-process", hidden=True)(runners.server_process)
app.command("agent")(runners.agent)
app.command("up")(runners.up)
app.command("migrate")(migrate.migrate)
app.command("exec")(local_run.exec_pipeline)
app.command("lint")(lint.lint)
app.command("login")(login.login)
app.command("passwd")(users.change_own_password)
app.add_typer(jobs.app, name="jobs")
app.add_typer(builds.app, name="builds")
app.add_typer(workers.app, name="workers")
app.add_typer(plugins.app, name="plugins")
app.add_typer(secrets.app, name="secrets")
app.add_typer(users.app, name="users")
app.add_typer(tokens.app, name="tokens")
app.add_typer(agent_tokens.app, name="agent-tokens")
app.add_typer(deploy.app, name="deploy")
app.add_typer(retention.app, name="retention")


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app(prog_name="solvyd")
    except CliError as exc:
        err_console.print(Text("error:", style="bold red"), exc.message)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        # An answer of a shape this CLI does not know (another server version, or not Solvyd)
        # lands here as well as a bug of the CLI's own: one line either way, the traceback
        # only when asked for.
        if os.environ.get("SOLVYD_DEBUG"):
            raise
        err_console.print(
            Text("error:", style="bold red"),
            f"the server's answer is not what this CLI expects ({type(exc).__name__}: {exc}); "
            "is the server the same Solvyd version? SOLVYD_DEBUG=1 shows the traceback",
        )
        sys.exit(1)
