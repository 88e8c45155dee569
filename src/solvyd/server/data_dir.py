"""The data directory is private: 0700, and the files the server keeps there 0600.

It holds the server secret, the agent token and (by default) the SQLite database: whoever
reads them owns the server (issue 14, item 1). The server process also runs with umask 077
(``private_umask``), so whatever it creates later (artifacts, archived logs) is private too;
existing installs get their modes fixed at start.
"""

import contextlib
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from solvyd.server.settings import ServerSettings

DIR_MODE = 0o700
FILE_MODE = 0o600
# The files a server keeps at the top of its data directory; SQLite's -wal and -shm take the
# mode of their database when it creates them.
_KNOWN_FILES = ("secret-key", "agent-token")
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_umask() -> None:
    """For a server's process: files and directories it creates are its own user's only."""
    os.umask(0o077)


def secure_data_dir(settings: ServerSettings) -> None:
    data_dir = settings.data_dir
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(data_dir, DIR_MODE)
    for name in _KNOWN_FILES:
        _chmod_if_there(data_dir / name, FILE_MODE)
    database = sqlite_file(settings.resolved_database_url())
    if database is not None:
        database.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        # SQLite would create it 0644: made first, it keeps 0600, and so do -wal and -shm.
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, FILE_MODE))
        for path in sqlite_files(database):
            _chmod_if_there(path, FILE_MODE)
    for directory in (data_dir / "artifacts", data_dir / "logs", data_dir / "work"):
        _chmod_if_there(directory, DIR_MODE)


def sqlite_file(database_url: str) -> Path | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def sqlite_files(database: Path) -> list[Path]:
    """The database file and the journal files SQLite keeps beside it."""
    return [Path(f"{database}{suffix}") for suffix in _SQLITE_SUFFIXES]


def _chmod_if_there(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, mode)
