"""`--env-passthrough` of `solvyd agent`, `up` and `exec`: more of this machine's variables
for the steps (see `pipeline/executors/host_env.py` for what passes and what wins)."""

import os
from typing import Any

import typer

from solvyd.cli.errors import CliError
from solvyd.cli.output import err_console
from solvyd.pipeline.executors.host_env import PassthroughError, parse_passthrough

ENV_PASSTHROUGH_ENV = "SOLVYD_ENV_PASSTHROUGH"


def env_passthrough_option() -> Any:
    return typer.Option(
        "",
        "--env-passthrough",
        envvar=ENV_PASSTHROUGH_ENV,
        help=(
            "Comma-separated names of this machine's variables that steps also get, e.g. "
            "HTTPS_PROXY,NO_PROXY,SSL_CERT_FILE. The job's and Solvyd's own variables win "
            "over them; values are never logged (docs/security.md)."
        ),
    )


# What the server of `solvyd up` reads from the same environment: its S3 store's credentials
# (boto3's chain) and PostgreSQL's connection variables (asyncpg reads PGPASSWORD and kin).
SERVER_CREDENTIAL_PREFIXES = ("AWS_", "PG")


def refuse_server_credentials(names: tuple[str, ...]) -> None:
    """`solvyd up`: its agent's steps must not get what its server signs in with."""
    taken = [name for name in names if name.startswith(SERVER_CREDENTIAL_PREFIXES)]
    if taken:
        raise CliError(
            f"--env-passthrough: solvyd up's server reads {', '.join(taken)} (its artifact "
            "store or database login), so its steps may not get them; run a separate "
            "`solvyd agent` with its own environment to pass such variables"
        )


def env_passthrough_names(text: str) -> tuple[str, ...]:
    """The checked names; says on stderr which ones pass, and which are not set here (names
    only: values may be credentials, e.g. a proxy URL with a password)."""
    try:
        names = parse_passthrough(text)
    except PassthroughError as exc:
        raise CliError(f"--env-passthrough: {exc}") from None
    if names:
        unset = [name for name in names if name not in os.environ]
        note = f" (not set here: {', '.join(unset)})" if unset else ""
        err_console.print(
            f"steps also get these variables of this machine: {', '.join(names)}{note}",
            highlight=False,
        )
    return names
