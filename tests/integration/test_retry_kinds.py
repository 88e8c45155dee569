"""The automatic retry decision through the API: an agent's `error` report is retried by its
`error_kind` (infrastructure and agent_stopped: yes; timeout: no), never by the words of its
`error_message`; a report without a kind (an older agent) keeps the old reading of the words."""

from typing import Any

import httpx
import pytest

from tests.integration.api_helpers import (
    Headers,
    admin_headers,
    assert_error,
    claim_build,
    create_job,
    get_build,
    register_worker,
    set_status,
    trigger,
)


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


async def _end_running_build(
    client: httpx.AsyncClient, admin: Headers, **report: Any
) -> tuple[str, httpx.Response]:
    """A build of a job with retries left, running on a worker, ended `error` by `report`."""
    job = await create_job(client, admin, max_retries=2)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    assert (await claim_build(client, worker))["build_id"] == build["id"]
    assert (await set_status(client, worker, build["id"], "running")).status_code == 200
    return build["id"], await set_status(client, worker, build["id"], "error", **report)


@pytest.mark.parametrize(
    ("report", "retried"),
    [
        ({"error_kind": "infrastructure", "error_message": "the docker engine went away"}, True),
        (
            {
                "error_kind": "agent_stopped",
                "error_message": "the agent stopped before the build finished",
            },
            True,
        ),
        ({"error_kind": "timeout", "error_message": "step 'test' timed out after 5s"}, False),
        # The kind decides, whatever the words: an infrastructure fault that says "timed out"
        # is retried, a timeout whose message does not say so is not.
        ({"error_kind": "infrastructure", "error_message": "pulling the image timed out"}, True),
        ({"error_kind": "timeout", "error_message": "executor failed: infrastructure"}, False),
        ({"error_kind": "timeout"}, False),
        # An agent older than `error_kind`: its words are all there is.
        ({"error_message": "executor failed: no docker"}, True),
        ({"error_message": "build timed out after 1s"}, False),
        ({}, True),
    ],
    ids=[
        "infrastructure",
        "agent-stopped",
        "timeout",
        "infrastructure-saying-timed-out",
        "timeout-saying-infrastructure",
        "timeout-without-message",
        "old-agent-fault",
        "old-agent-timeout",
        "old-agent-no-message",
    ],
)
async def test_an_error_is_retried_by_its_kind(
    client: httpx.AsyncClient, admin: Headers, report: dict[str, Any], retried: bool
) -> None:
    build_id, response = await _end_running_build(client, admin, **report)

    assert response.status_code == 200, response.text
    build = await get_build(client, admin, build_id)
    if retried:
        assert (build["status"], build["attempt"], build["worker_id"]) == ("queued", 2, None)
        assert build["not_before"] is not None  # after the backoff
        assert build["error_message"] is None
    else:
        assert (build["status"], build["attempt"]) == ("error", 1)
        assert build["error_message"] == report.get("error_message")


async def test_the_retry_budget_holds_whatever_the_kind(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, max_retries=0)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await claim_build(client, worker)
    await set_status(client, worker, build["id"], "running")
    response = await set_status(
        client, worker, build["id"], "error", error_kind="infrastructure", error_message="boom"
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["attempt"]) == ("error", 1)


async def test_an_unknown_kind_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    build_id, response = await _end_running_build(
        client, admin, error_kind="cosmic_rays", error_message="boom"
    )
    assert_error(response, 422, "invalid")
    build = await get_build(client, admin, build_id)
    assert (build["status"], build["attempt"], build["error_message"]) == ("running", 1, None)


async def test_a_kind_on_a_build_that_did_not_error_is_ignored(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, max_retries=2)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await claim_build(client, worker)
    await set_status(client, worker, build["id"], "running")
    response = await set_status(
        client, worker, build["id"], "failure", exit_code=1, error_kind="infrastructure"
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["attempt"]) == ("failure", 1)
