"""Which steps each step of a build waits for, so a UI can draw the build as a graph.

The agent reports the graph of the plan it runs (`PUT /builds/{id}/graph`, once per attempt,
after the checkout planned the build): `reported` is that, and it wins. Builds without one
(older rows, an attempt that has not planned yet, an agent too old to report) get a guess
read from the planned job spec the way the agent's runtime reads it (`pipeline/runtime.py`):
a spec where no step names `depends_on` runs in the order listed; otherwise each step waits
for the steps it names, and one that names none starts at once. The repository checkout comes
before every step that waits for nothing else. Steps the spec does not know (a pipeline read
from the repository after the checkout, which the agent plans itself) wait for the step
recorded before them.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from solvyd.protocol import CHECKOUT_STEP


def step_dependencies(
    spec: Mapping[str, Any],
    recorded: Sequence[str],
    reported: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, list[str]]:
    """For each name of `recorded` (a build's steps in position order), the names of the steps
    it waits for. `spec` is the build's job spec as stored (`Build.spec`), `reported` the graph
    the agent reported (`Build.step_graph`)."""
    if reported:
        return _as_reported(reported, recorded)
    planned = _planned(spec)
    checkout = CHECKOUT_STEP in recorded and CHECKOUT_STEP not in planned
    graph: dict[str, list[str]] = {}
    for position, name in enumerate(recorded):
        if name in planned:
            waits_for = planned[name]
            if not waits_for and checkout:
                waits_for = [CHECKOUT_STEP]
        elif checkout and name == CHECKOUT_STEP:
            waits_for = []
        else:
            waits_for = [recorded[position - 1]] if position else []
        graph[name] = waits_for
    return graph


def _planned(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """What each step of the spec waits for, among the spec's own steps."""
    steps = [
        (str(step["name"]), list(step.get("depends_on") or []))
        for step in spec.get("steps") or []
        if isinstance(step, Mapping) and "name" in step
    ]
    names = {name for name, _ in steps}
    if not any(depends_on for _, depends_on in steps):
        return {
            name: [steps[index - 1][0]] if index else [] for index, (name, _) in enumerate(steps)
        }
    return {
        name: [d for d in dict.fromkeys(depends_on) if d in names and d != name]
        for name, depends_on in steps
    }


def _as_reported(
    reported: Sequence[Mapping[str, Any]], recorded: Sequence[str]
) -> dict[str, list[str]]:
    """The reported graph, among the recorded steps; a recorded step it does not name (none
    should be) waits for nothing."""
    known = set(recorded)
    waits_for = {str(step["name"]): list(step.get("depends_on") or []) for step in reported}
    return {name: [d for d in waits_for.get(name, []) if d in known] for name in recorded}
