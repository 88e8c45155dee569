"""What a transaction tells the metrics (`after_commit`) is heard only if it really happened:
after the commit, and never for a savepoint that rolled back (a webhook's or a schedule's
trigger runs each job in one; cancelling older builds there, then failing, undoes the cancels)."""

import pytest
import sqlalchemy as sa

from solvyd.server.db.session import after_commit, create_database


class Undone(Exception):
    pass


async def test_facts_of_a_rolled_back_savepoint_are_not_heard(database_url: str) -> None:
    db = create_database(database_url)
    heard: list[object] = []
    db.on_commit = heard.extend
    try:
        async with db.transaction() as session:
            after_commit(session, "before")
            with pytest.raises(Undone):
                async with session.begin_nested():
                    await session.execute(sa.text("SELECT 1"))
                    after_commit(session, "undone")
                    async with session.begin_nested():
                        after_commit(session, "undone, nested")
                    raise Undone
            async with session.begin_nested():
                after_commit(session, "kept")
            after_commit(session, "after")
        assert heard == ["before", "kept", "after"]

        heard.clear()
        with pytest.raises(Undone):
            async with db.transaction() as session:
                after_commit(session, "rolled back with the transaction")
                raise Undone
        assert heard == []
    finally:
        await db.dispose()
