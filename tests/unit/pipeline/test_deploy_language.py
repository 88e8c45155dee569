"""`deploy:` on a step: what the language takes, what it refuses (with the line and the
field), and the `DeploySpec` the plan makes of it, its image expanded with the build's
variables."""

import dataclasses
import json
import re
import textwrap
import uuid
from pathlib import Path

import pytest

from solvyd.agent.repo_pipeline import RepoPipelineError, plan_from_text
from solvyd.pipeline.config import PipelineError, parse_pipeline
from solvyd.pipeline.plan import BuildContext, PlanRefused, expand_variables, plan_job

CONTEXT = BuildContext(
    build_id=uuid.uuid4(),
    build_number=7,
    job_id=uuid.uuid4(),
    job_name="web",
    commit_sha="a" * 40,
    branch="main",
    job_env={"REGISTRY": "registry.example/team"},
)


def yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(yaml(text))
    return [(item.line, item.field, item.message) for item in caught.value.errors]


def test_a_kubernetes_deploy_step_plans_with_its_image_expanded() -> None:
    config = parse_pipeline(
        yaml(
            """
            steps:
              - name: build
                commands: [make]
              - name: ship
                env: {TAG: "b${SOLVYD_BUILD_NUMBER}"}
                deploy:
                  environment: production
                  approval: required
                  rollback: auto
                  rollout_timeout: 2m
                  kubernetes:
                    namespace: web
                    deployment: app
                    container: main
                    image: "${REGISTRY}/app:${SOLVYD_COMMIT_SHA}-$TAG"
            """
        )
    )
    step = plan_job(config, CONTEXT).steps[1]
    assert step.commands == []
    assert step.deploy is not None
    assert step.deploy.environment == "production"
    assert step.deploy.approval == "required"
    assert step.deploy.rollback == "auto"
    assert step.deploy.rollout_timeout_seconds == 120
    target = step.deploy.kubernetes
    assert target is not None
    assert (target.namespace, target.deployment, target.container) == ("web", "app", "main")
    # The step's own env is expanded as written ("b${...}" stays: the shell would expand it
    # again, the server does not).
    assert target.image == f"registry.example/team/app:{'a' * 40}-b${{SOLVYD_BUILD_NUMBER}}"


def test_a_script_deploy_keeps_its_commands_and_its_version() -> None:
    config = parse_pipeline(
        yaml(
            """
            steps:
              - name: ship
                commands: [./deploy.sh]
                deploy: {environment: staging, version: "v$SOLVYD_BUILD_NUMBER"}
            """
        )
    )
    step = plan_job(config, CONTEXT).steps[0]
    assert step.commands == ["./deploy.sh"]
    assert step.deploy is not None
    assert step.deploy.kubernetes is None
    assert step.deploy.version == "v7"
    assert step.deploy.rollback == "manual"
    assert step.deploy.approval is None


def test_a_kubernetes_deploy_step_runs_without_an_image_anywhere() -> None:
    config = parse_pipeline(
        yaml(
            """
            steps:
              - name: ship
                deploy:
                  environment: staging
                  kubernetes: {namespace: web, deployment: app, image: app:1}
            """
        )
    )
    assert plan_job(config, CONTEXT).steps_without_image() == []


def test_expansion_reads_like_a_shell() -> None:
    env = {"A": "1", "B_2": "two"}
    assert expand_variables("x$A-${B_2}-$$A-${MISSING}.", env) == "x1-two-$A-."
    assert expand_variables("no variables", env) == "no variables"


def test_commands_with_a_kubernetes_target_are_refused_where_they_are() -> None:
    found = problems(
        """
        steps:
          - name: ship
            commands: [kubectl apply -f x]
            deploy:
              environment: staging
              kubernetes: {namespace: web, deployment: app, image: "app:1"}
        """
    )
    assert len(found) == 1
    line, field, message = found[0]
    assert (line, field) == (3, "steps[0].commands")
    assert "has no commands" in message


def test_a_script_deploy_without_commands_is_refused() -> None:
    assert problems(
        """
        steps:
          - name: ship
            deploy: {environment: staging}
        """
    ) == [(2, "steps[0].commands", "field required")]


@pytest.mark.parametrize(
    ("deploy", "field", "words"),
    [
        ("{environment: staging, colour: red}", "steps[0].deploy.colour", "unknown field"),
        ("{environment: Staging!}", "steps[0].deploy.environment", "pattern"),
        ("{environment: staging, approval: maybe}", "steps[0].deploy.approval", "required"),
        ("{environment: staging, rollback: auto}", "steps[0].deploy.rollback", "kubernetes"),
        ("{environment: staging, rollout_timeout: 2d}", "steps[0].deploy.rollout_timeout", "'2d'"),
        (
            "{environment: staging, kubernetes: {namespace: web, deployment: app, image: x, "
            "replicas: 3}}",
            "steps[0].deploy.kubernetes.replicas",
            "unknown field",
        ),
        (
            "{environment: staging, kubernetes: {namespace: Web_1, deployment: app, image: x}}",
            "steps[0].deploy.kubernetes.namespace",
            "pattern",
        ),
        ("{kubernetes: {}}", "steps[0].deploy.environment", "field required"),
    ],
)
def test_bad_deploy_settings_are_refused_with_their_field(
    deploy: str, field: str, words: str
) -> None:
    found = problems(
        f"""
        steps:
          - name: ship
            commands: [./deploy.sh]
            deploy: {deploy}
        """
    )
    assert any(item[1] == field and words in item[2] for item in found), found
    assert all(item[0] is not None for item in found)


def test_the_documented_deploy_pipelines_are_valid() -> None:
    root = Path(__file__).resolve().parents[3]
    blocks = [
        block
        for page in ("docs/deployments.md", "docs/pipelines.md")
        for block in re.findall(r"```yaml\n(.*?)```", (root / page).read_text(), re.DOTALL)
        if "deploy:" in block and "steps:" in block
    ]
    assert len(blocks) == 2
    for block in blocks:
        config = parse_pipeline(block)
        assert any(step.deploy is not None for step in config.steps)


@pytest.mark.parametrize(
    ("image", "version", "field", "problem"),
    [
        ("$UNSET", None, "deploy.kubernetes.image", "it is empty"),
        ("web:$LONG", None, "deploy.kubernetes.image", "longer than 1000 characters"),
        ("web:1", "$LONG", "deploy.version", "longer than 1000 characters"),
    ],
)
def test_a_deploy_value_the_variables_make_invalid_refuses_the_plan_naming_it(
    image: str, version: str | None, field: str, problem: str
) -> None:
    deploy = {"environment": "staging", "kubernetes": {"namespace": "n", "deployment": "d"}}
    deploy["kubernetes"]["image"] = image  # type: ignore[index]
    if version is not None:
        deploy["version"] = version
    config = parse_pipeline(json.dumps({"steps": [{"name": "ship", "deploy": deploy}]}))
    context = dataclasses.replace(CONTEXT, job_env={"LONG": "x" * 1001})
    with pytest.raises(PlanRefused) as refused:
        plan_job(config, context)
    assert f"step 'ship': {field} as the build's variables expand it" in str(refused.value)
    assert problem in str(refused.value)
    assert "x" * 100 not in str(refused.value)


def test_the_agent_planning_from_the_repository_refuses_it_as_a_pipeline_error() -> None:
    """Not a raw ValidationError (which the agent would report as an infrastructure error and
    the server retry): RepoPipelineError, which fails the build with the reason."""
    text = yaml(
        """
        steps:
          - name: ship
            deploy:
              environment: staging
              kubernetes: {namespace: n, deployment: d, image: "$UNSET"}
        """
    )
    spec = plan_job(parse_pipeline("steps: [{name: a, commands: [x]}]"), CONTEXT)
    spec = spec.model_copy(update={"steps": [], "pipeline_path": ".solvyd.yml"})
    with pytest.raises(RepoPipelineError) as refused:
        plan_from_text(spec, text, "b" * 40)
    assert ".solvyd.yml: step 'ship': deploy.kubernetes.image" in str(refused.value)
