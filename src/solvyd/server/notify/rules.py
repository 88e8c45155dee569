"""A job's notification rules: their common keys checked and filled in, and which rules a
build's event matches. Pure: no database, no HTTP.

A rule is `{"type", "on"?, "branches"?, ...the type's own settings}`. `on` words:
- `started`: the build began to run (every attempt that runs);
- `success`: it passed (a fix too); `fixed`: it passed and the job's previous finished build
  of the same branch (cancelled ones left out) failed or errored;
- `failure`: it failed, its steps' doing *or* the infrastructure's (`error`: a lost worker, an
  executor fault, a timeout), since whoever watches a job wants to hear of both;
- `cancelled`: it was cancelled;
- `always`: every finished build, whatever its end (not `started`: say it too for that).

`branches` are globs (fnmatch, `*` matches `/` too, like the job's `branches`), matched against
the branch the build built: a pull request's build against its source branch, and a tag's
build, which is on no branch, is matched only by a rule without `branches`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from solvyd.server.notify.registry import notifier_for, notifier_types

MAX_RULES = 20
MAX_BRANCH_GLOBS = 50
ON_WORDS = ("failure", "fixed", "success", "started", "cancelled", "always")
DEFAULT_ON = ("failure", "fixed")
# What each outcome of a build answers to, besides its own word.
_MATCHED_BY = {
    "started": {"started"},
    "success": {"success", "always"},
    "fixed": {"fixed", "success", "always"},
    "failure": {"failure", "always"},
    "error": {"failure", "always"},
    "cancelled": {"cancelled", "always"},
}


@dataclass(frozen=True)
class RuleProblem:
    index: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"rule {self.index}, {self.key}: {self.message}"


def check_rules(rules: Any) -> tuple[list[dict[str, Any]], list[RuleProblem]]:
    """The rules with `on` and `branches` filled in, and every problem found (none: valid)."""
    if not isinstance(rules, list):
        return [], [RuleProblem(0, "notifications", "must be a list of rules")]
    if len(rules) > MAX_RULES:
        return [], [RuleProblem(MAX_RULES, "notifications", f"at most {MAX_RULES} rules")]
    checked: list[dict[str, Any]] = []
    problems: list[RuleProblem] = []
    for index, rule in enumerate(rules):
        rule_checked, rule_problems = _check_rule(index, rule)
        checked.append(rule_checked)
        problems += rule_problems
    return checked, problems


def _check_rule(index: int, rule: Any) -> tuple[dict[str, Any], list[RuleProblem]]:
    if not isinstance(rule, dict):
        return {}, [RuleProblem(index, "rule", "must be an object")]
    problems: list[RuleProblem] = []
    kind = rule.get("type")
    notifier = notifier_for(kind) if isinstance(kind, str) else None
    if notifier is None:
        known = ", ".join(notifier_types())
        problems.append(RuleProblem(index, "type", f"must be one of {known}"))
    on = rule.get("on", list(DEFAULT_ON))
    if (
        not isinstance(on, list)
        or not on
        or not all(isinstance(word, str) and word in ON_WORDS for word in on)
    ):
        problems.append(
            RuleProblem(index, "on", f"must be a non-empty list of {', '.join(ON_WORDS)}")
        )
        on = []
    branches = rule.get("branches", [])
    if not isinstance(branches, list) or len(branches) > MAX_BRANCH_GLOBS:
        problems.append(
            RuleProblem(index, "branches", f"must be a list of at most {MAX_BRANCH_GLOBS} globs")
        )
        branches = []
    for glob in branches:
        if not _branch_glob(glob):
            problems.append(
                RuleProblem(
                    index,
                    "branches",
                    "each glob is 1 to 255 characters with no space or control character",
                )
            )
            break
    if notifier is not None:
        for message in notifier.rule_problems(rule):
            key = _key_of(message)
            text = message.split(":", 1)[1].strip() if key != "rule" else message
            problems.append(RuleProblem(index, key, text))
    checked = {**rule, "on": list(dict.fromkeys(on)), "branches": list(branches)}
    return checked, problems


def _branch_glob(glob: Any) -> bool:
    return (
        isinstance(glob, str)
        and 0 < len(glob) <= 255
        and not any(ch.isspace() or not ch.isprintable() for ch in glob)
    )


def _key_of(message: str) -> str:
    """A notifier's problem names its key first ("to: ..."), as the built-ins do."""
    head, sep, _ = message.partition(":")
    return head if sep and head and " " not in head else "rule"


def rule_matches(rule: Mapping[str, Any], outcome: str, branch: str | None) -> bool:
    """Whether `rule` asks to hear of a build that ended (or started) as `outcome`."""
    if not set(rule.get("on") or DEFAULT_ON) & _MATCHED_BY.get(outcome, set()):
        return False
    globs = rule.get("branches") or []
    if not globs:
        return True
    return branch is not None and any(fnmatchcase(branch, glob) for glob in globs)
