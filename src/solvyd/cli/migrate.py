"""`solvyd migrate`: bring the database's schema to this version's, and nothing else.

A server migrates on start anyway; this lets a deployment do it once, before the servers
start (a Kubernetes Job, an upgrade script), and see it fail on its own."""

import asyncio

from solvyd.cli.errors import CliError
from solvyd.cli.output import err_console


def migrate() -> None:
    """Upgrade the database's schema (SOLVYD_DATABASE_URL) to this version's, then exit."""
    # Imported here, like the server's stack in runners.py: every other command starts
    # without SQLAlchemy or the server's settings.
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from solvyd.server.data_dir import private_umask, secure_data_dir
    from solvyd.server.db.migrate import ForeignKeyViolation, upgrade_to_head
    from solvyd.server.db.session import create_database
    from solvyd.server.settings import ServerSettings

    settings = ServerSettings()

    private_umask()
    # The default SQLite file lives in the data directory, made private as the server does.
    secure_data_dir(settings)

    async def run() -> tuple[str, str | None, str | None]:
        db = create_database(settings.resolved_database_url())
        try:
            before, after = await upgrade_to_head(db)
            return db.dialect, before, after
        finally:
            await db.dispose()

    try:
        dialect, before, after = asyncio.run(run())
    except (OSError, SQLAlchemyError, CommandError, ForeignKeyViolation) as exc:
        # CommandError: a revision this version does not know (a newer Solvyd migrated it).
        # The URL is not repeated: it may hold the database's password.
        raise CliError(f"the database could not be migrated: {exc}") from exc
    if before == after:
        err_console.print(f"The {dialect} database's schema is up to date ({after}).")
    else:
        err_console.print(f"Migrated the {dialect} database's schema from {before} to {after}.")
