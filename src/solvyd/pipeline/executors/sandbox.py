"""The local executor's sandbox: each step in its own bubblewrap (``bwrap``) mount and PID
namespace, and as an unprivileged user when the agent is root.

Steps are hostile code (docs/security.md). On the server's machine (``solvyd up``) a bare
process of the agent's user could read the data directory (secret key, database, agent token)
and, through ``/proc/*/environ``, the server's and agent's environments. In the sandbox a step
sees the host's root read-only, its own workspace read-write, a private ``/tmp`` for its
build, and its own ``/proc`` holding only its own processes. The agent's work root and any
other hidden path (the server's data directory under ``solvyd up``) are empty tmpfs.

One mechanism on purpose, like GitLab's shell executor running as its own user: bubblewrap is
in every distribution, needs no daemon, and is what Flatpak relies on. ``--die-with-parent``
also ends the whole sandbox when the agent dies, even by SIGKILL (issue 14, item 10): the
kernel kills every process of a PID namespace when its first process ends.

As root, bwrap does not switch users itself (its ``--uid`` needs a user namespace, which would
map the step back to root outside). It keeps CAP_SETUID/CAP_SETGID for ``setpriv``, which
becomes ``nobody`` and drops every capability, bounding set included; bwrap sets
``no_new_privs``, so no setuid binary can lift the step back up.
"""

import asyncio
import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path

ISOLATION_MODES = ("auto", "bwrap", "none")
STEP_USER = "nobody"
_PROBE_SECONDS = 10.0
# Directories the sandbox makes on the way to a workspace: traversable, not listable.
_DIR_MODE = "0711"


@dataclass(frozen=True)
class Sandbox:
    bwrap: str
    # (uid, gid) the steps run as, when the agent is root; None keeps the agent's user.
    user: tuple[int, int] | None
    setpriv: str | None
    hidden: tuple[Path, ...]

    def command(self, argv: list[str], workspace: Path, tmp: Path) -> list[str]:
        """``argv`` run in the sandbox, in ``workspace``, with ``tmp`` as its ``/tmp``."""
        workspace = Path(os.path.realpath(workspace))
        args = [self.bwrap, *self._capabilities(), "--ro-bind", "/", "/"]
        args += ["--dev", "/dev", "--proc", "/proc"]
        args += ["--bind", str(tmp), "/tmp"]  # noqa: S108 (the build's own directory)
        covered = [Path("/tmp")]  # noqa: S108
        for path in self._masked(workspace):
            args += ["--perms", _DIR_MODE, "--tmpfs", str(path)]
            covered.append(path)
        for path in self.hidden:
            if path.is_file():  # a database outside the data directory, say
                args += ["--ro-bind", "/dev/null", os.path.realpath(path)]
        # The workspace's parents inside a replaced directory must exist, and be traversable
        # by the step's user.
        for parent in reversed(workspace.parents):
            if any(parent != top and parent.is_relative_to(top) for top in covered):
                args += ["--perms", _DIR_MODE, "--dir", str(parent)]
        args += ["--bind", str(workspace), str(workspace), "--chdir", str(workspace)]
        # No --new-session: the agent already starts bwrap in a session of its own, without a
        # terminal, and keeping the steps in bwrap's process group lets a cancel send them
        # SIGTERM first, as without the sandbox.
        args += ["--unshare-pid", "--unshare-ipc", "--die-with-parent"]
        return [*args, "--", *self._user_prefix(), *argv]

    def _masked(self, workspace: Path) -> list[Path]:
        """The directories replaced by an empty tmpfs, outermost only."""
        masked = [Path(os.path.realpath(path)) for path in self.hidden]
        if self.user is not None:
            # A parent the step's user cannot pass (root's 0700 home) held nothing it could
            # reach: replacing it loses nothing and lets the step reach its workspace.
            uid, gid = self.user
            masked += [parent for parent in workspace.parents if not _passable(parent, uid, gid)]
        masked = [path for path in masked if path.is_dir() and path != Path("/")]
        masked.sort(key=lambda path: len(path.parts))
        outermost: list[Path] = []
        for path in masked:
            if not any(path.is_relative_to(top) for top in outermost):
                outermost.append(path)
        return outermost

    def _user_prefix(self) -> list[str]:
        if self.user is None or self.setpriv is None:
            return []
        uid, gid = self.user
        return [
            self.setpriv,
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]

    def _capabilities(self) -> list[str]:
        # Kept for setpriv only, which drops them with everything else before the step runs.
        return ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"] if self.user else []


def _passable(path: Path, uid: int, gid: int) -> bool:
    try:
        info = path.stat()
    except OSError:
        return False
    if info.st_uid == uid:
        return bool(info.st_mode & 0o100)
    if info.st_gid == gid:
        return bool(info.st_mode & 0o010)
    return bool(info.st_mode & 0o001)


def build_sandbox(hidden: tuple[Path, ...]) -> tuple[Sandbox | None, str | None]:
    """The sandbox this machine could give, or why it cannot (before any probe)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None, "bubblewrap (bwrap) is not installed"
    if os.geteuid() != 0:
        return Sandbox(bwrap, None, None, hidden), None
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None, "setpriv (util-linux) is not installed"
    try:
        entry = pwd.getpwnam(STEP_USER)
    except KeyError:
        return None, f"there is no user '{STEP_USER}' to run steps as"
    return Sandbox(bwrap, (entry.pw_uid, entry.pw_gid), setpriv, hidden), None


async def probe(sandbox: Sandbox, scratch: Path) -> str | None:
    """None if a trivial step runs in the sandbox here, else the reason it does not (no
    namespaces in this container, user namespaces disabled...)."""
    command = sandbox.command(["true"], scratch, scratch)
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(_PROBE_SECONDS):
            _, stderr = await process.communicate()
    except (OSError, TimeoutError) as exc:
        return f"bwrap could not run: {exc}"
    if process.returncode != 0:
        reason = stderr.decode(errors="replace").strip().splitlines()
        return reason[-1] if reason else f"bwrap exited with {process.returncode}"
    return None
