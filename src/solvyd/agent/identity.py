"""The agent's own worker token, kept between its runs so that a restarted agent may register
again under its name: the server gives a taken name only to whoever shows that worker's
current token.

The file is the only copy of a credential: created 0600 in a 0700 directory of its own, beside
the builds' workspaces but never inside one, written whole or not at all (a temporary file
renamed over it), and never logged.
"""

import contextlib
import os
import re
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class WorkerTokenStore:
    def __init__(self, directory: Path, worker_name: str) -> None:
        self.directory = directory
        # A worker name is free text; the file name must stay inside the directory.
        safe = _UNSAFE.sub("_", worker_name)[:100] or "_"
        self.path = directory / f"{safe}.worker-token"

    def load(self) -> str | None:
        try:
            value = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning(
                "the saved worker token cannot be read", path=str(self.path), error=str(exc)
            )
            return None
        return value or None

    def save(self, token: str) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir leaves an existing directory's mode as it was.
        os.chmod(self.directory, 0o700)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # the umask or a leftover file may have said otherwise
            os.write(fd, token.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(temporary, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
