"""The schema the migrations make is the one the models describe: an index or column that is
in one and not the other (a migration forgotten, or written differently) fails here, on both
databases, instead of in production's query plans."""

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from solvyd.server.db.models import Base
from solvyd.server.db.session import create_database


def _differences(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            # Types are compared by the migrations' own tests; SQLite reports most of them
            # loosely (a JSON column comes back as its storage type).
            "compare_type": False,
            "compare_server_default": False,
        },
    )
    differences = [
        diff
        for diff in compare_metadata(context, Base.metadata)
        # alembic's own bookkeeping table is no model.
        if not (diff[0] == "remove_table" and diff[1].name == "alembic_version")
    ]
    # 0009 added builds.approved_by's reference on SQLite with a name the model does not give
    # it: the same reference, reported as one removed and one added.
    removed = {_reference(diff[1]) for diff in differences if diff[0] == "remove_fk"}
    added = {_reference(diff[1]) for diff in differences if diff[0] == "add_fk"}
    return [
        diff
        for diff in differences
        if not (diff[0] in ("remove_fk", "add_fk") and _reference(diff[1]) in removed & added)
    ]


def _reference(constraint: sa.ForeignKeyConstraint) -> tuple[str, tuple[str, ...], str]:
    return (
        constraint.table.name,
        tuple(column.name for column in constraint.columns),
        constraint.referred_table.name,
    )


async def test_the_migrated_schema_is_the_models(database_url: str) -> None:
    db = create_database(database_url)
    try:
        async with db.engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await db.dispose()
    assert differences == []
