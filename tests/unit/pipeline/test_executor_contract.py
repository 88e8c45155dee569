"""The executor contract (``solvyd.pipeline.executors.base``), run against every backend.

A backend joins by adding its name to ``BACKENDS`` and its commands to ``SCRIPTS``: each
behaviour the suite needs, written in that backend's own language.
"""

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.docker_engine import TEST_IMAGE, require_checkout_image, require_docker
from tests.support.git_http import serve_git_http
from tests.support.git_repos import make_repo
from tests.support.kube_fake.executor import kube_backend

from solvyd.agent.checkout_program import (
    REQUEST_ENV,
    CheckoutRequest,
    commit_from_line,
    request_json,
)
from solvyd.pipeline.executors import Executor, ExecutorError, create_executor
from solvyd.pipeline.executors.base import WorkspaceFile
from solvyd.pipeline.executors.kubernetes import KubernetesExecutor
from solvyd.protocol import JobSpec, StepSpec

SCRIPTS: dict[str, dict[str, list[str]]] = {
    "local": {
        "two_lines": ["echo one", "echo two"],
        "exit_3": ["echo before", "exit 3", "echo never"],
        "sleep_long": ["echo sleeping", "sleep 300"],
        "show_env": [
            'echo "JOB_VAR=$JOB_VAR"',
            'echo "SHARED=$SHARED"',
            'echo "SOLVYD_STEP_NAME=$SOLVYD_STEP_NAME"',
            'echo "SOLVYD_WORKSPACE=$SOLVYD_WORKSPACE"',
        ],
        "write_files": [
            "mkdir -p dist/sub",
            "echo hello > top.txt",
            "echo abc > dist/sub/deep.bin",
            # Links are never listed nor read: one out of the workspace, one inside it.
            "ln -s /etc/hostname dist/outside",
            "ln -s top.txt inside-link",
            "ln -s /etc dist/linked-dir",
        ],
    },
    "docker": {
        "two_lines": ["echo one", "echo two"],
        "exit_3": ["echo before", "exit 3", "echo never"],
        "sleep_long": ["echo sleeping", "sleep 300"],
        "show_env": [
            'echo "JOB_VAR=$JOB_VAR"',
            'echo "SHARED=$SHARED"',
            'echo "SOLVYD_STEP_NAME=$SOLVYD_STEP_NAME"',
            'echo "SOLVYD_WORKSPACE=$SOLVYD_WORKSPACE"',
        ],
        "write_files": [
            "mkdir -p dist/sub",
            "echo hello > top.txt",
            "echo abc > dist/sub/deep.bin",
            "ln -s /etc/hostname dist/outside",
            "ln -s top.txt inside-link",
            "ln -s /etc dist/linked-dir",
        ],
    },
    "kubernetes": {
        "two_lines": ["echo one", "echo two"],
        "exit_3": ["echo before", "exit 3", "echo never"],
        "sleep_long": ["echo sleeping", "sleep 300"],
        "show_env": [
            'echo "JOB_VAR=$JOB_VAR"',
            'echo "SHARED=$SHARED"',
            'echo "SOLVYD_STEP_NAME=$SOLVYD_STEP_NAME"',
            'echo "SOLVYD_WORKSPACE=$SOLVYD_WORKSPACE"',
        ],
        "write_files": [
            "mkdir -p dist/sub",
            "echo hello > top.txt",
            "echo abc > dist/sub/deep.bin",
            "ln -s /etc/hostname dist/outside",
            "ln -s top.txt inside-link",
            "ln -s /etc dist/linked-dir",
        ],
    },
    "fake": {
        "two_lines": ["echo one", "echo two"],
        "exit_3": ["echo before", "exit 3", "echo never"],
        "sleep_long": ["echo sleeping", "sleep 300"],
        "show_env": ["env JOB_VAR", "env SHARED", "env SOLVYD_STEP_NAME", "env SOLVYD_WORKSPACE"],
        "write_files": ["write top.txt hello", "write dist/sub/deep.bin abc"],
    },
}
BACKENDS = list(SCRIPTS)
# What a backend needs on every step (a container backend: an image).
STEP_FIELDS: dict[str, dict[str, object]] = {
    "docker": {"image": TEST_IMAGE},
    "kubernetes": {"image": TEST_IMAGE},
}
# Where the steps see their workspace, when not at ``workspace(job)`` (a container's mount).
STEP_WORKSPACE: dict[str, str] = {"docker": "/workspace", "kubernetes": "/workspace"}


@dataclass
class Backend:
    name: str
    executor: Executor
    script: dict[str, list[str]]

    def step(self, behaviour: str, name: str = "step", **fields: object) -> StepSpec:
        fields = STEP_FIELDS.get(self.name, {}) | fields
        return StepSpec.model_validate({"name": name, "commands": self.script[behaviour], **fields})


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    name: str = request.param
    if name in ("docker", "kubernetes"):
        require_docker()  # the fake cluster's kubelet runs the pods' containers in Docker
    if name == "kubernetes":
        # An HTTP fake of the Kubernetes API (tests/support/kube_fake), reached through a
        # kubeconfig, with a kubelet that runs the pods' containers as Docker containers.
        async with kube_backend(tmp_path) as kube:
            yield Backend(name, kube.executor, SCRIPTS[name])
        return
    yield Backend(name, create_executor(name, tmp_path / "work"), SCRIPTS[name])


def kube_executor_with_checkout_image(backend: Backend) -> Executor:
    """The kubernetes backend's executor, its checkout image Solvyd's own (python, git)."""
    assert isinstance(backend.executor, KubernetesExecutor)
    settings = dataclasses.replace(
        backend.executor.settings, checkout_image=require_checkout_image()
    )
    return KubernetesExecutor(settings)


def make_job(*steps: StepSpec, env: dict[str, str] | None = None) -> JobSpec:
    return JobSpec(
        build_id=uuid.uuid4(),
        build_number=1,
        job_id=uuid.uuid4(),
        job_name="contract",
        env=env or {},
        steps=list(steps),
    )


async def collect(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines]


async def run_step(executor: Executor, job: JobSpec, step: StepSpec) -> tuple[list[str], int]:
    await executor.start_step(job, step)
    output = asyncio.create_task(collect(executor.stream_output(job, step)))
    code = await asyncio.wait_for(executor.wait_step(job, step), 10)
    lines = await asyncio.wait_for(output, 10)
    await executor.destroy_step(job, step)
    return lines, code


def printed(lines: list[str]) -> list[str]:
    """The step's own output: without the echoed commands (and whatever else a backend adds,
    such as a pull progress line, which never looks like the step's output)."""
    return [line for line in lines if not line.startswith("$ ") and line in ("one", "two")]


async def test_check_available_answers_none(backend: Backend) -> None:
    assert await backend.executor.check_available() is None


async def test_output_arrives_in_order_and_a_clean_exit_is_zero(backend: Backend) -> None:
    step = backend.step("two_lines")
    job = make_job(step)
    await backend.executor.setup_job(job)
    try:
        lines, code = await run_step(backend.executor, job, step)
    finally:
        await backend.executor.teardown_job(job)
    assert code == 0
    assert printed(lines) == ["one", "two"]
    assert lines.index("$ echo one") < lines.index("one") < lines.index("$ echo two")


async def test_first_failing_command_sets_the_exit_code(backend: Backend) -> None:
    step = backend.step("exit_3")
    job = make_job(step)
    await backend.executor.setup_job(job)
    try:
        lines, code = await run_step(backend.executor, job, step)
    finally:
        await backend.executor.teardown_job(job)
    assert code == 3
    assert "before" in lines
    assert "never" not in lines


async def test_step_sees_job_env_step_env_and_its_name_and_workspace(backend: Backend) -> None:
    step = backend.step("show_env", name="env-check", env={"SHARED": "from-step"})
    job = make_job(step, env={"JOB_VAR": "from-job", "SHARED": "from-job"})
    await backend.executor.setup_job(job)
    try:
        lines, code = await run_step(backend.executor, job, step)
    finally:
        await backend.executor.teardown_job(job)
    assert code == 0
    assert "JOB_VAR=from-job" in lines
    assert "SHARED=from-step" in lines
    assert "SOLVYD_STEP_NAME=env-check" in lines
    workspace = STEP_WORKSPACE.get(backend.name) or backend.executor.workspace(job)
    assert f"SOLVYD_WORKSPACE={workspace}" in lines


async def test_destroying_a_running_step_ends_it_quickly(backend: Backend) -> None:
    step = backend.step("sleep_long")
    job = make_job(step)
    executor = backend.executor
    await executor.setup_job(job)
    try:
        await executor.start_step(job, step)
        output = asyncio.create_task(collect(executor.stream_output(job, step)))
        waiting = asyncio.create_task(executor.wait_step(job, step))
        await asyncio.sleep(0.3)
        assert not waiting.done()

        began = time.monotonic()
        await asyncio.wait_for(executor.destroy_step(job, step), 5)
        assert time.monotonic() - began < 2.5

        await asyncio.wait_for(waiting, 5)  # the code is meaningless after destroy
        lines = await asyncio.wait_for(output, 5)
        assert "sleeping" in lines
    finally:
        await executor.teardown_job(job)


async def test_destroy_keeps_the_output_already_written(backend: Backend) -> None:
    step = backend.step("two_lines")
    job = make_job(step)
    await backend.executor.setup_job(job)
    try:
        await backend.executor.start_step(job, step)
        assert await asyncio.wait_for(backend.executor.wait_step(job, step), 10) == 0
        await backend.executor.destroy_step(job, step)
        lines = await asyncio.wait_for(collect(backend.executor.stream_output(job, step)), 5)
        assert printed(lines) == ["one", "two"]
    finally:
        await backend.executor.teardown_job(job)


async def test_destroy_before_start_and_twice_is_safe(backend: Backend) -> None:
    never, ran = backend.step("two_lines", name="never"), backend.step("two_lines", name="ran")
    job = make_job(never, ran)
    await backend.executor.setup_job(job)
    try:
        await backend.executor.destroy_step(job, never)
        await backend.executor.destroy_step(job, never)
        _, code = await run_step(backend.executor, job, ran)  # which destroyed it once
        assert code == 0
        await backend.executor.destroy_step(job, ran)
    finally:
        await backend.executor.teardown_job(job)


async def test_wait_for_a_step_never_started_is_an_executor_error(backend: Backend) -> None:
    step = backend.step("two_lines")
    job = make_job(step)
    await backend.executor.setup_job(job)
    try:
        with pytest.raises(ExecutorError):
            await backend.executor.wait_step(job, step)
    finally:
        await backend.executor.teardown_job(job)


async def test_teardown_is_idempotent_and_safe_without_setup(backend: Backend) -> None:
    job = make_job(backend.step("two_lines"))
    await backend.executor.teardown_job(job)
    await backend.executor.setup_job(job)
    await backend.executor.teardown_job(job)
    await backend.executor.teardown_job(job)


async def test_teardown_ends_a_step_still_running(backend: Backend) -> None:
    step = backend.step("sleep_long")
    job = make_job(step)
    await backend.executor.setup_job(job)
    await backend.executor.start_step(job, step)
    output = asyncio.create_task(collect(backend.executor.stream_output(job, step)))
    await asyncio.sleep(0.2)
    await asyncio.wait_for(backend.executor.teardown_job(job), 5)
    await asyncio.wait_for(output, 5)


async def test_two_jobs_set_up_and_run_at_once(backend: Backend) -> None:
    first, second = make_job(backend.step("two_lines")), make_job(backend.step("two_lines"))
    executor = backend.executor
    await asyncio.gather(executor.setup_job(first), executor.setup_job(second))
    try:
        if backend.name != "kubernetes":  # a pod's volume: no directory on this machine
            assert executor.workspace(first) != executor.workspace(second)
        results = await asyncio.gather(
            run_step(executor, first, first.steps[0]), run_step(executor, second, second.steps[0])
        )
        for lines, code in results:
            assert code == 0
            assert printed(lines) == ["one", "two"]
    finally:
        await asyncio.gather(executor.teardown_job(first), executor.teardown_job(second))


async def test_list_workspace_finds_the_files_a_step_wrote_and_no_link(backend: Backend) -> None:
    step = backend.step("write_files")
    job = make_job(step)
    await backend.executor.setup_job(job)
    try:
        _, code = await run_step(backend.executor, job, step)
        assert code == 0
        listed = await backend.executor.list_workspace(job)
    finally:
        await backend.executor.teardown_job(job)
    assert listed == [WorkspaceFile("dist/sub/deep.bin", 4), WorkspaceFile("top.txt", 6)]


async def test_read_workspace_file_streams_its_bytes(backend: Backend) -> None:
    step = backend.step("write_files")
    job = make_job(step)
    await backend.executor.setup_job(job)
    try:
        await run_step(backend.executor, job, step)
        top = [chunk async for chunk in backend.executor.read_workspace_file(job, "top.txt")]
        deep = b"".join(
            [
                chunk
                async for chunk in backend.executor.read_workspace_file(job, "dist/sub/deep.bin")
            ]
        )
    finally:
        await backend.executor.teardown_job(job)
    assert b"".join(top) == b"hello\n"
    assert deep == b"abc\n"


@pytest.mark.parametrize(
    "path", ["missing.txt", "dist/outside", "inside-link", "dist/linked-dir/hostname", "../x"]
)
async def test_reading_what_is_not_a_listed_file_is_an_executor_error(
    backend: Backend, path: str
) -> None:
    step = backend.step("write_files")
    job = make_job(step)
    await backend.executor.setup_job(job)
    try:
        await run_step(backend.executor, job, step)
        with pytest.raises(ExecutorError):
            async for _ in backend.executor.read_workspace_file(job, path):
                pass
    finally:
        await backend.executor.teardown_job(job)


# Under CI=true the docker case may wait for the checkout image's build (see
# require_checkout_image).
@pytest.mark.timeout(900)
async def test_a_builtin_checkout_step_checks_out_and_names_the_commit(
    backend: Backend, tmp_path: Path
) -> None:
    executor = backend.executor
    if backend.name == "docker":
        executor = create_executor(
            "docker", tmp_path / "work", checkout_image=require_checkout_image()
        )
    repo = make_repo(tmp_path / "repos")
    request = CheckoutRequest(scm_url=repo.file_url, branch="main")
    stack = contextlib.ExitStack()
    if backend.name == "kubernetes":
        # A pod fetches over the network: the repository is served over HTTP.
        executor = kube_executor_with_checkout_image(backend)
        server = stack.enter_context(serve_git_http(repo.root))
        request = CheckoutRequest(scm_url=server.url(repo.name), branch="main")
    if backend.name == "fake":
        # The fake checks nothing out: it prints the line the program ends with.
        request = CheckoutRequest(scm_url=repo.file_url, commit_sha=repo.commits["third"])
    step = StepSpec(
        name="checkout",
        builtin="checkout",
        commands=[],
        env={REQUEST_ENV: request_json(request)},
    )
    job = make_job(step)
    await executor.setup_job(job)
    try:
        lines, code = await run_step(executor, job, step)
        listed = {item.path for item in await executor.list_workspace(job)}
        version = b""
        if backend.name != "fake":
            version = b"".join(
                [chunk async for chunk in executor.read_workspace_file(job, "version.txt")]
            )
    finally:
        await executor.teardown_job(job)
        await executor.aclose()
        stack.close()
    assert code == 0, lines
    assert lines[-1] == f"solvyd-checkout: commit {repo.commits['third']}"
    assert commit_from_line(lines[-1]) == repo.commits["third"]
    if backend.name != "fake":
        assert version == b"version 3\n"
        assert {".solvyd.yml", "version.txt"} <= listed


@pytest.mark.timeout(900)
# The fake's checkout is scripted: it cannot fail to fetch.
@pytest.mark.parametrize("backend", [name for name in BACKENDS if name != "fake"], indirect=True)
async def test_a_failing_builtin_checkout_says_why_last(backend: Backend, tmp_path: Path) -> None:
    executor = backend.executor
    if backend.name == "docker":
        executor = create_executor(
            "docker", tmp_path / "work", checkout_image=require_checkout_image()
        )
    if backend.name == "kubernetes":
        executor = kube_executor_with_checkout_image(backend)
    missing = (tmp_path / "missing.git").as_uri()
    request = CheckoutRequest(scm_url=missing)
    step = StepSpec(
        name="checkout", builtin="checkout", commands=[], env={REQUEST_ENV: request_json(request)}
    )
    job = make_job(step)
    await executor.setup_job(job)
    try:
        lines, code = await run_step(executor, job, step)
    finally:
        await executor.teardown_job(job)
        await executor.aclose()
    assert code != 0
    assert "does not appear to be a git repository" in lines[-1], lines
