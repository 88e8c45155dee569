"""Whether a job builds an event: its `trigger_events`, `branches` and `paths`.

Branch globs are `when.branch`'s (fnmatch: `*` matches `/` too); a pull request is matched by
its target branch (the branch it would change, as GitLab CI's and Woodpecker's filters do), a
tag by none. Path globs are matched against the files a push changed, as the payload lists
them: `*` and `?` stay within a directory, `**` crosses them (`docs/**`, `**/*.md`); a push
whose payload lists no files, a tag and a pull request are not filtered by paths."""

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase
from functools import lru_cache

from solvyd.server.db.models import Job
from solvyd.server.scm import ForgeEvent


def refusal(job: Job, event: ForgeEvent) -> str | None:
    """Why `job` builds nothing for `event`; None when it builds it."""
    if event.kind == "ignored":
        return event.reason or "nothing to build"
    if event.kind not in job.trigger_events:
        return f"the job's trigger_events leave out {event.kind}"
    branch = filtered_branch(event)
    if job.branches and branch is not None and not branch_matches(job.branches, branch):
        return f"branch {branch!r} matches none of the job's branches"
    if (
        job.paths
        and event.kind == "push"
        and event.changed_files is not None
        and not any(path_matches(job.paths, path) for path in event.changed_files)
    ):
        return "no changed file matches the job's paths"
    return None


def filtered_branch(event: ForgeEvent) -> str | None:
    if event.pull_request is not None:
        return event.pull_request.target_branch
    return event.branch if event.kind == "push" else None


def branch_matches(globs: Iterable[str], branch: str) -> bool:
    return any(fnmatchcase(branch, glob) for glob in globs)


def path_matches(globs: Iterable[str], path: str) -> bool:
    return any(_path_pattern(glob).match(path) is not None for glob in globs)


@lru_cache(maxsize=1024)
def _path_pattern(glob: str) -> re.Pattern[str]:
    glob = glob.lstrip("/")
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)
