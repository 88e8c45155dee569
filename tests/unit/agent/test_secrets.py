"""The agent's handling of a build's secrets: which names it asks for, which steps get which
value (only those that asked, in copies), and the line a step gets for a name not set."""

import uuid

from solvyd.agent.secrets import missing_notices, requested, with_secrets
from solvyd.protocol import JobSpec, SecretsReply, StepSpec


def _spec() -> JobSpec:
    return JobSpec(
        build_id=uuid.uuid4(),
        build_number=1,
        job_id=uuid.uuid4(),
        job_name="j",
        env={"SHARED": "1"},
        steps=[
            StepSpec(name="deploy", commands=["x"], env={"A": "a"}, secrets=["KEY", "TOKEN"]),
            StepSpec(name="test", commands=["y"], env={"A": "a"}),
            StepSpec(name="publish", commands=["z"], secrets=["TOKEN"]),
        ],
    )


def test_the_names_asked_for_are_collected_once() -> None:
    assert requested(_spec()) == ["KEY", "TOKEN"]
    assert requested(_spec().model_copy(update={"steps": []})) == []


def test_only_the_steps_that_ask_get_a_value_and_the_plan_is_not_changed() -> None:
    spec = _spec()
    before = spec.model_dump()
    planned = with_secrets(spec, {"KEY": "k-value", "TOKEN": "t-value"})

    deploy, test, publish = planned.steps
    # Apart from the plain env (executors give both to the step; secret_env is never sent).
    assert deploy.secret_env == {"KEY": "k-value", "TOKEN": "t-value"}
    assert deploy.env == test.env == {"A": "a"}
    assert test.secret_env == {}
    assert publish.secret_env == {"TOKEN": "t-value"}
    assert planned.env == {"SHARED": "1"}
    assert "k-value" not in planned.model_dump_json()
    # The original plan (the one the agent keeps for the build) holds no value.
    assert spec.model_dump() == before
    assert "k-value" not in spec.model_dump_json()
    assert deploy.secret_env is not spec.steps[0].secret_env


def test_a_missing_name_is_left_unset_and_noted_in_the_steps_that_asked() -> None:
    spec = _spec()
    reply = SecretsReply(values={"TOKEN": "t-value"}, missing=["KEY"])
    planned = with_secrets(spec, reply.values)
    assert "KEY" not in planned.steps[0].secret_env
    assert missing_notices(spec, reply).lines == {"deploy": ["[solvyd: secret KEY is not set]"]}


def test_withheld_secrets_say_why() -> None:
    reply = SecretsReply(missing=["KEY", "TOKEN"], reason="not for forks")
    notices = missing_notices(_spec(), reply)
    assert notices.for_step("deploy") == [
        "[solvyd: secret KEY is not set: not for forks]",
        "[solvyd: secret TOKEN is not set: not for forks]",
    ]
    assert notices.for_step("publish") == ["[solvyd: secret TOKEN is not set: not for forks]"]
    assert notices.for_step("test") == []
