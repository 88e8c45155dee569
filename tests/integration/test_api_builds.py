"""Builds through the API: trigger, worker registration and claims, status, logs, cancel, lists."""

import asyncio
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from solvyd.protocol import JobSpec
from tests.integration.api_helpers import (
    API,
    FINISHED,
    Headers,
    admin_headers,
    assert_error,
    bearer,
    claim,
    claim_build,
    create_job,
    get_build,
    post_logs,
    register_worker,
    running_build,
    set_status,
    timed,
    trigger,
    unique,
)
from tests.support.processes import AGENT_TOKEN


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


@pytest.fixture
async def job(client: httpx.AsyncClient, admin: Headers) -> dict[str, Any]:
    return await create_job(client, admin, env={"JOB_VAR": "from-job"}, branch="main")


# --- trigger ---------------------------------------------------------------------------------


async def test_trigger_queues_a_numbered_build(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    response = await client.post(f"{API}/jobs/{job['id']}/trigger", headers=admin, json={})
    assert response.status_code == 201, response.text
    first = response.json()
    assert uuid.UUID(first["id"])
    assert first["number"] == 1
    assert first["status"] == "queued"
    assert first["job_id"] == job["id"]
    assert first["branch"] == "main"  # the job's default
    assert [s["name"] for s in first["steps"]] == ["build", "test"]
    assert {s["status"] for s in first["steps"]} == {"pending"}
    assert first["worker_id"] is None
    assert first["started_at"] is None

    second = await trigger(client, admin, job["id"], branch="dev", commit_sha="abc1234")
    assert second["number"] == 2
    assert second["id"] != first["id"]
    fetched = await get_build(client, admin, second["id"])
    assert (fetched["branch"], fetched["commit_sha"]) == ("dev", "abc1234")
    assert fetched["status"] == "queued"
    assert datetime.fromisoformat(fetched["queued_at"]).utcoffset() is not None

    no_body = await client.post(f"{API}/jobs/{job['id']}/trigger", headers=admin)
    assert no_body.status_code == 201, no_body.text
    assert no_body.json()["number"] == 3


async def test_unknown_job_or_build_is_404(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.post(f"{API}/jobs/{uuid.uuid4()}/trigger", headers=admin, json={})
    assert_error(response, 404, "not_found")
    response = await client.get(f"{API}/builds/{uuid.uuid4()}", headers=admin)
    assert_error(response, 404, "not_found")


async def test_build_numbers_are_per_job(client: httpx.AsyncClient, admin: Headers) -> None:
    one = await create_job(client, admin)
    two = await create_job(client, admin)
    await trigger(client, admin, one["id"])
    assert (await trigger(client, admin, two["id"]))["number"] == 1
    assert (await trigger(client, admin, one["id"]))["number"] == 2


# --- workers ---------------------------------------------------------------------------------


async def test_register_with_the_agent_token(client: httpx.AsyncClient) -> None:
    body = {"name": unique("w"), "capabilities": {"labels": []}}
    missing = await client.post(f"{API}/workers/register", json=body)
    assert_error(missing, 401, "unauthorized")
    wrong = await client.post(f"{API}/workers/register", headers=bearer("nope"), json=body)
    assert_error(wrong, 401, "unauthorized")

    response = await client.post(
        f"{API}/workers/register",
        headers=bearer(AGENT_TOKEN),
        json={"name": unique("w"), "hostname": "h", "ip": "10.0.0.1", "capabilities": {}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert uuid.UUID(body["id"])
    assert body["token"]
    assert datetime.fromisoformat(body["registered_at"]).utcoffset() is not None


async def test_register_then_reregister_upserts_by_name(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    first = await register_worker(client, "builder-1", labels=["linux"])
    again = await register_worker(
        client, "builder-1", labels=["linux", "gpu"], concurrency=3, worker_token=first.token
    )
    assert again.id == first.id
    assert uuid.UUID(again.id)
    assert again.token != first.token

    workers = (await client.get(f"{API}/workers", headers=admin)).json()["items"]
    assert len(workers) == 1
    assert workers[0]["id"] == first.id
    assert workers[0]["labels"] == ["gpu", "linux"]
    assert workers[0]["concurrency"] == 3
    assert workers[0]["status"] == "online"

    # The old token died with the old registration.
    response = await client.post(
        f"{API}/workers/{first.id}/heartbeat", headers=first.headers, json={}
    )
    assert_error(response, 401, "unauthorized")


async def test_reregistering_hands_back_what_the_old_process_held(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    """The agent restarted: a build it ran is lost; retried if the job allows, else `error`."""
    once = await create_job(client, admin, max_retries=0)
    twice = await create_job(client, admin, max_retries=1)
    old = await register_worker(client, "restarting", concurrency=3)
    doomed = await trigger(client, admin, once["id"])
    retried = await trigger(client, admin, twice["id"])
    claimed_only = await trigger(client, admin, once["id"])
    for _ in range(3):
        await claim_build(client, old)
    for build in (doomed, retried):
        await set_status(client, old, build["id"], "running")

    new = await register_worker(client, "restarting", concurrency=3, worker_token=old.token)
    assert new.id == old.id

    lost = await get_build(client, admin, doomed["id"])
    assert (lost["status"], lost["error_message"]) == ("error", "worker restarted")
    again = await get_build(client, admin, retried["id"])
    assert (again["status"], again["attempt"], again["worker_id"]) == ("queued", 2, None)
    assert {s["status"] for s in again["steps"]} == {"pending"}
    # The retry waits out its backoff before any worker may take it.
    assert again["not_before"] is not None
    assert "backoff" in again["waiting_reason"]
    unstarted = await get_build(client, admin, claimed_only["id"])
    assert (unstarted["status"], unstarted["worker_id"]) == ("queued", None)

    assert (await claim_build(client, new))["build_id"] == claimed_only["id"]
    assert (await claim(client, new, wait=0)).status_code == 204


async def test_heartbeat_says_when_work_is_waiting(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker = await register_worker(client)
    url = f"{API}/workers/{worker.id}/heartbeat"
    idle = await client.post(url, headers=worker.headers, json={"current_builds": 0})
    assert idle.status_code == 200, idle.text
    assert idle.json() == {"has_work": False, "cancelled_builds": []}

    await trigger(client, admin, job["id"])
    busy = await client.post(
        url, headers=worker.headers, json={"current_builds": 0, "health_status": "healthy"}
    )
    assert busy.json()["has_work"] is True

    before = datetime.fromisoformat(
        (await client.get(f"{API}/workers", headers=admin)).json()["items"][0]["last_heartbeat"]
    )
    await asyncio.sleep(0.01)
    await client.post(url, headers=worker.headers, json={"current_builds": 1})
    listed = (await client.get(f"{API}/workers", headers=admin)).json()["items"][0]
    assert datetime.fromisoformat(listed["last_heartbeat"]) > before
    assert listed["current_builds"] == 1


# --- claims ----------------------------------------------------------------------------------


async def test_claim_returns_the_job_spec(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"], commit_sha="deadbeef", env={"TRIG": "yes"})
    response = await claim(client, worker, wait=1)
    assert response.status_code == 200, response.text
    spec = JobSpec.model_validate(response.json())
    assert str(spec.build_id) == build["id"]
    assert spec.build_number == 1
    assert str(spec.job_id) == job["id"]
    assert spec.job_name == job["name"]
    assert spec.branch == "main"
    assert spec.commit_sha == "deadbeef"
    assert [s.name for s in spec.steps] == ["build", "test"]
    assert spec.steps[0].commands == ["echo hi"]
    env = spec.env
    assert env["CI"] == "true"
    assert env["SOLVYD"] == "true"
    assert env["SOLVYD_BUILD_ID"] == build["id"]
    assert env["SOLVYD_BUILD_NUMBER"] == "1"
    assert env["SOLVYD_JOB_ID"] == job["id"]
    assert env["SOLVYD_JOB_NAME"] == job["name"]
    assert env["SOLVYD_BRANCH"] == "main"
    assert env["SOLVYD_COMMIT_SHA"] == "deadbeef"
    assert env["JOB_VAR"] == "from-job"
    assert env["TRIG"] == "yes"

    held = await get_build(client, admin, build["id"])
    assert held["worker_id"] == worker.id
    assert held["status"] == "queued"  # claimed, not yet started

    # A trigger cannot override the system variables.
    build = await trigger(client, admin, job["id"], env={"CI": "false", "SOLVYD_BUILD_ID": "x"})
    await set_status(client, worker, held["id"], "running")
    await set_status(client, worker, held["id"], "success")
    spec = JobSpec.model_validate(await claim_build(client, worker))
    assert spec.env["CI"] == "true"
    assert spec.env["SOLVYD_BUILD_ID"] == build["id"]


async def test_claim_with_nothing_queued_answers_204_after_wait(
    client: httpx.AsyncClient,
) -> None:
    worker = await register_worker(client)
    response, elapsed = await timed(claim(client, worker, wait=0.2), 5)
    assert response.status_code == 204
    assert response.content == b""
    assert 0.2 <= elapsed < 2.0


async def test_a_waiting_claim_is_woken_by_a_trigger(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker = await register_worker(client)
    waiting = asyncio.create_task(claim(client, worker, wait=10))
    await asyncio.sleep(0.2)  # let the claim find the queue empty and start waiting
    assert not waiting.done()
    build = await trigger(client, admin, job["id"])
    response, elapsed = await timed(waiting, 5)
    assert response.status_code == 200, response.text
    assert response.json()["build_id"] == build["id"]
    assert elapsed < 1.0


async def test_claims_go_oldest_first(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker = await register_worker(client, concurrency=3)
    builds = [await trigger(client, admin, job["id"]) for _ in range(3)]
    claimed = [(await claim_build(client, worker))["build_id"] for _ in range(3)]
    assert claimed == [b["id"] for b in builds]


async def test_labels_decide_who_may_claim(client: httpx.AsyncClient, admin: Headers) -> None:
    gpu_job = await create_job(client, admin, labels=["gpu"])
    plain = await register_worker(client, labels=["linux"])
    gpu = await register_worker(client, labels=["gpu", "linux"])
    build = await trigger(client, admin, gpu_job["id"])

    assert (await claim(client, plain, wait=0)).status_code == 204
    heartbeat = await client.post(
        f"{API}/workers/{plain.id}/heartbeat", headers=plain.headers, json={}
    )
    assert heartbeat.json()["has_work"] is False

    spec = await claim_build(client, gpu)
    assert spec["build_id"] == build["id"]
    assert spec["labels"] == ["gpu"]

    # A build without labels runs on any worker, labelled or not.
    unlabelled = await trigger(client, admin, (await create_job(client, admin))["id"])
    assert (await claim_build(client, plain))["build_id"] == unlabelled["id"]


async def test_worker_concurrency_is_respected(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker = await register_worker(client, concurrency=2)
    builds = [await trigger(client, admin, job["id"]) for _ in range(3)]
    first = await claim_build(client, worker)
    await claim_build(client, worker)
    assert (await claim(client, worker, wait=0)).status_code == 204

    # A finished build frees its slot.
    await set_status(client, worker, first["build_id"], "running")
    await set_status(client, worker, first["build_id"], "success")
    third = await claim_build(client, worker)
    assert third["build_id"] == builds[2]["id"]


async def test_the_seed_polling_path_assigns_and_lists(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(
        client,
        admin,
        pipeline=None,
        build_config={"image": "alpine", "commands": ["echo seed"]},
        scm_url="https://example.com/repo.git",
        branch="main",
    )
    worker = await register_worker(client, concurrency=2)
    builds = [await trigger(client, admin, job["id"], commit_sha=f"5ba0000{i}") for i in range(3)]
    url = f"{API}/workers/{worker.id}/builds"

    response = await client.get(url, headers=worker.headers)
    assert response.status_code == 200, response.text
    listed = response.json()["builds"]
    assert [b["id"] for b in listed] == [b["id"] for b in builds[:2]]
    first = listed[0]
    assert first["job_id"] == job["id"]
    assert first["job_name"] == job["name"]
    assert first["scm_url"] == "https://example.com/repo.git"
    assert first["branch"] == "main"
    assert first["commit_sha"] == "5ba00000"
    assert first["build_config"] == {"image": "alpine", "commands": ["echo seed"]}
    assert first["spec"]["steps"][0]["commands"] == ["echo seed"]
    assert (await get_build(client, admin, builds[0]["id"]))["worker_id"] == worker.id

    # Asking again assigns nothing new (no free slot) and lists the same two.
    again = (await client.get(url, headers=worker.headers)).json()["builds"]
    assert [b["id"] for b in again] == [b["id"] for b in builds[:2]]

    # A started build is no longer listed; nor is the slot it holds given away.
    await set_status(client, worker, builds[0]["id"], "running")
    after_start = (await client.get(url, headers=worker.headers)).json()["builds"]
    assert [b["id"] for b in after_start] == [builds[1]["id"]]

    other = await register_worker(client)
    response = await client.get(url, headers=other.headers)
    assert_error(response, 403, "forbidden")


# --- status ----------------------------------------------------------------------------------


async def test_running_then_success(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    running = await get_build(client, admin, build["id"])
    assert running["status"] == "running"
    assert running["started_at"] is not None
    assert running["completed_at"] is None
    # Repeating the status (a retried report) changes nothing.
    again = await set_status(client, worker, build["id"], "running")
    assert again.status_code == 200, again.text
    assert (await get_build(client, admin, build["id"]))["started_at"] == running["started_at"]

    response = await set_status(client, worker, build["id"], "success", exit_code=0)
    assert response.status_code == 200, response.text
    # The answer is a small acknowledgement, not the build re-read.
    assert response.json() == {
        "id": build["id"],
        "status": "success",
        "attempt": 1,
        "stop": False,
    }

    done = await get_build(client, admin, build["id"])
    assert done["status"] == "success"
    assert done["exit_code"] == 0
    assert done["worker_id"] == worker.id
    started = datetime.fromisoformat(done["started_at"])
    completed = datetime.fromisoformat(done["completed_at"])
    assert completed >= started
    assert done["duration_seconds"] == pytest.approx((completed - started).total_seconds())
    # Steps the agent never reported are closed with the build.
    assert {s["status"] for s in done["steps"]} == {"skipped"}


async def test_reported_times_and_failure_details_are_kept(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await claim_build(client, worker)
    await set_status(client, worker, build["id"], "running", started_at="2030-01-01T00:00:00Z")
    response = await set_status(
        client,
        worker,
        build["id"],
        "failure",
        completed_at="2030-01-01T00:01:30Z",
        exit_code=2,
        error_message="step build exited 2",
        duration_seconds=90,
    )
    assert response.status_code == 200, response.text
    done = await get_build(client, admin, build["id"])
    assert done["status"] == "failure"
    assert done["exit_code"] == 2
    assert done["error_message"] == "step build exited 2"
    assert datetime.fromisoformat(done["started_at"]) == datetime.fromisoformat(
        "2030-01-01T00:00:00+00:00"
    )
    assert datetime.fromisoformat(done["completed_at"]) == datetime.fromisoformat(
        "2030-01-01T00:01:30+00:00"
    )
    assert done["duration_seconds"] == 90


async def test_a_negative_duration_is_kept_as_zero_and_nan_refused(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    """An agent whose clock stepped back reports a negative span: the build's final report is
    still taken, its duration 0. NaN is no duration at all: refused, and nothing changes."""
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await claim_build(client, worker)
    await set_status(client, worker, build["id"], "running")
    refused = await client.put(
        f"/api/v1/builds/{build['id']}/status",
        headers={**worker.headers, "Content-Type": "application/json"},
        content=b'{"status": "success", "duration_seconds": NaN}',
    )
    assert refused.status_code == 422, refused.text
    assert (await get_build(client, admin, build["id"]))["status"] == "running"
    response = await set_status(client, worker, build["id"], "success", duration_seconds=-3.5)
    assert response.status_code == 200, response.text
    done = await get_build(client, admin, build["id"])
    assert done["status"] == "success"
    assert done["duration_seconds"] == 0


async def test_finished_is_final(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    await set_status(client, worker, build["id"], "success")
    for status in ("running", "failure", "queued"):
        response = await set_status(client, worker, build["id"], status)
        assert_error(response, 409, "conflict")
    assert (await get_build(client, admin, build["id"]))["status"] == "success"


async def test_status_comes_from_the_holding_worker_only(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    _, build = await running_build(client, admin, job)
    intruder = await register_worker(client)
    response = await set_status(client, intruder, str(uuid.uuid4()), "running")
    assert_error(response, 404, "not_found")
    response = await set_status(client, intruder, build["id"], "success")
    assert_error(response, 403, "forbidden")
    unclaimed = await trigger(client, admin, job["id"])
    response = await set_status(client, intruder, unclaimed["id"], "running")
    assert_error(response, 403, "forbidden")
    assert (await get_build(client, admin, build["id"]))["status"] == "running"


async def test_status_body_with_a_bad_status_is_422(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    response = await set_status(client, worker, build["id"], "exploded")
    message = assert_error(response, 422, "invalid")
    assert "status" in message
    missing = await client.put(
        f"{API}/builds/{build['id']}/status", headers=worker.headers, json={}
    )
    assert_error(missing, 422, "invalid")


async def test_a_claimed_build_may_be_handed_back(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    leaving = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await claim_build(client, leaving)
    response = await set_status(client, leaving, build["id"], "queued")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "queued"
    assert (await get_build(client, admin, build["id"]))["worker_id"] is None
    other = await register_worker(client)
    assert (await claim_build(client, other))["build_id"] == build["id"]


# --- steps -----------------------------------------------------------------------------------


async def test_step_status_updates(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    url = f"{API}/builds/{build['id']}/steps/build"
    running = await client.put(url, headers=worker.headers, json={"status": "running"})
    assert running.status_code == 200, running.text
    assert running.json()["status"] == "running"
    assert running.json()["started_at"] is not None

    done = await client.put(url, headers=worker.headers, json={"status": "failure", "exit_code": 3})
    assert done.status_code == 200, done.text

    steps = {s["name"]: s for s in (await get_build(client, admin, build["id"]))["steps"]}
    assert steps["build"]["status"] == "failure"
    assert steps["build"]["exit_code"] == 3
    assert steps["build"]["completed_at"] is not None
    assert steps["test"]["status"] == "pending"

    again = await client.put(url, headers=worker.headers, json={"status": "running"})
    assert_error(again, 409, "conflict")
    skip_ahead = await client.put(
        f"{API}/builds/{build['id']}/steps/test", headers=worker.headers, json={"status": "success"}
    )
    assert_error(skip_ahead, 409, "conflict")


async def test_a_step_the_agent_adds_is_recorded_last(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    response = await client.put(
        f"{API}/builds/{build['id']}/steps/upload",
        headers=worker.headers,
        json={"status": "running"},
    )
    assert response.status_code == 200, response.text
    steps = (await get_build(client, admin, build["id"]))["steps"]
    assert [s["name"] for s in steps] == ["build", "test", "upload"]


# --- logs ------------------------------------------------------------------------------------


async def test_the_same_log_batch_is_stored_once(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    first = await post_logs(client, worker, build["id"], 0, ["hello", "world"])
    assert first.status_code == 200, first.text
    assert first.json() == {"seq": 0, "stored": True}
    retry = await post_logs(client, worker, build["id"], 0, ["hello", "world"])
    assert retry.status_code == 200, retry.text
    assert retry.json() == {"seq": 0, "stored": False}

    page = (await client.get(f"{API}/builds/{build['id']}/logs", headers=admin)).json()
    assert [line["text"] for line in page["lines"]] == ["hello", "world"]
    assert {line["seq"] for line in page["lines"]} == {0}
    assert page["lines"][0]["step"] == "build"


async def test_logs_come_back_in_seq_order_and_as_text(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    # Sent out of order, as a retrying shipper might.
    await post_logs(client, worker, build["id"], 2, ["c1"], step="test")
    await post_logs(client, worker, build["id"], 0, ["a1", "a2"])
    await post_logs(client, worker, build["id"], 1, ["b1"])

    page = (await client.get(f"{API}/builds/{build['id']}/logs", headers=admin)).json()
    assert [(line["seq"], line["text"]) for line in page["lines"]] == [
        (0, "a1"),
        (0, "a2"),
        (1, "b1"),
        (2, "c1"),
    ]
    assert page["next_after"] == 2
    assert page["finished"] is False

    text = await client.get(
        f"{API}/builds/{build['id']}/logs", headers=admin, params={"format": "text"}
    )
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == "a1\na2\nb1\nc1\n"

    only_test = await client.get(
        f"{API}/builds/{build['id']}/logs",
        headers=admin,
        params={"format": "text", "step": "test"},
    )
    assert only_test.text == "c1\n"


async def test_log_pages_resume_after_a_seq(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    for seq in range(5):
        await post_logs(client, worker, build["id"], seq, [f"line {seq}"])
    url = f"{API}/builds/{build['id']}/logs"

    later = (await client.get(url, headers=admin, params={"after": 2})).json()
    assert [line["text"] for line in later["lines"]] == ["line 3", "line 4"]

    seen: list[str] = []
    after = -1
    for _ in range(10):
        page = (await client.get(url, headers=admin, params={"after": after, "limit": 2})).json()
        if not page["lines"]:
            break
        seen.extend(line["text"] for line in page["lines"])
        after = page["next_after"]
    assert seen == [f"line {i}" for i in range(5)]
    assert after == 4
    assert page["finished"] is False

    await set_status(client, worker, build["id"], "success")
    page = (await client.get(url, headers=admin, params={"after": 4})).json()
    assert (page["finished"], page["status"], page["lines"]) == (True, "success", [])


async def test_a_log_reader_waiting_is_woken_by_a_batch(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    reader = asyncio.create_task(
        client.get(f"{API}/builds/{build['id']}/logs", headers=admin, params={"wait": 10})
    )
    await asyncio.sleep(0.2)
    assert not reader.done()
    await post_logs(client, worker, build["id"], 0, ["live"])
    response, elapsed = await timed(reader, 5)
    assert [line["text"] for line in response.json()["lines"]] == ["live"]
    assert elapsed < 1.0


async def test_log_batches_are_checked(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    intruder = await register_worker(client)
    assert_error(await post_logs(client, intruder, build["id"], 0, ["no"]), 403, "forbidden")
    assert_error(await post_logs(client, worker, str(uuid.uuid4()), 0, ["x"]), 404, "not_found")
    assert_error(await post_logs(client, worker, build["id"], -1, ["x"]), 422, "invalid")
    response = await client.get(f"{API}/builds/{uuid.uuid4()}/logs", headers=admin)
    assert_error(response, 404, "not_found")
    text = await client.get(
        f"{API}/builds/{build['id']}/logs", headers=admin, params={"format": "text"}
    )
    assert text.text == ""


# --- cancel ----------------------------------------------------------------------------------


async def test_cancel_a_queued_build(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    build = await trigger(client, admin, job["id"])
    response = await client.post(f"{API}/builds/{build['id']}/cancel", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": build["id"], "status": "cancelled"}

    cancelled = await get_build(client, admin, build["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["completed_at"] is not None
    assert {s["status"] for s in cancelled["steps"]} == {"cancelled"}

    worker = await register_worker(client)
    assert (await claim(client, worker, wait=0)).status_code == 204
    heartbeat = await client.post(
        f"{API}/workers/{worker.id}/heartbeat", headers=worker.headers, json={}
    )
    assert heartbeat.json()["has_work"] is False


async def test_cancel_a_claimed_build_before_it_starts(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await claim_build(client, worker)
    await client.post(f"{API}/builds/{build['id']}/cancel", headers=admin)
    response = await set_status(client, worker, build["id"], "running")
    assert_error(response, 409, "conflict")
    assert (await get_build(client, admin, build["id"]))["status"] == "cancelled"


async def test_cancel_a_running_build_wakes_the_cancel_watcher(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    url = f"{API}/builds/{build['id']}/cancel-wait"

    quiet = await client.get(url, headers=worker.headers, params={"wait": 0.05})
    assert quiet.json() == {"cancelled": False}

    watcher = asyncio.create_task(client.get(url, headers=worker.headers, params={"wait": 10}))
    await asyncio.sleep(0.2)
    assert not watcher.done()
    cancel = await client.post(f"{API}/builds/{build['id']}/cancel", headers=admin)
    assert cancel.status_code == 200, cancel.text
    response, elapsed = await timed(watcher, 5)
    assert response.json() == {"cancelled": True}
    assert elapsed < 1.0

    # Asking again answers at once; the agent's own "cancelled" report is a no-op.
    again, quick = await timed(client.get(url, headers=worker.headers, params={"wait": 10}), 5)
    assert again.json() == {"cancelled": True}
    assert quick < 1.0
    assert (await set_status(client, worker, build["id"], "cancelled")).status_code == 200

    heartbeat = await client.post(
        f"{API}/workers/{worker.id}/heartbeat",
        headers=worker.headers,
        json={"current_builds": 1, "build_ids": [build["id"]]},
    )
    assert heartbeat.json()["cancelled_builds"] == [build["id"]]
    assert (await get_build(client, admin, build["id"]))["status"] == "cancelled"


async def test_cancel_a_finished_build_is_409(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    await set_status(client, worker, build["id"], "success")
    response = await client.post(f"{API}/builds/{build['id']}/cancel", headers=admin)
    assert_error(response, 409, "conflict")
    again = await client.post(f"{API}/builds/{build['id']}/cancel", headers=admin)
    assert_error(again, 409, "conflict")
    assert (await get_build(client, admin, build["id"]))["status"] == "success"
    response = await client.post(f"{API}/builds/{uuid.uuid4()}/cancel", headers=admin)
    assert_error(response, 404, "not_found")


# --- listing ---------------------------------------------------------------------------------


async def test_list_builds_pages_newest_first(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    created = [await trigger(client, admin, job["id"]) for _ in range(5)]
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(f"{API}/builds", headers=admin, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [b["id"] for b in seen]
    assert len(ids) == len(set(ids)) == 5
    assert set(ids) == {b["id"] for b in created}
    assert [b["number"] for b in seen] == [5, 4, 3, 2, 1]


async def test_list_builds_filters(client: httpx.AsyncClient, admin: Headers) -> None:
    one = await create_job(client, admin)
    two = await create_job(client, admin)
    a1 = await trigger(client, admin, one["id"], branch="main")
    a2 = await trigger(client, admin, one["id"], branch="feature")
    b1 = await trigger(client, admin, two["id"], branch="main")
    await client.post(f"{API}/builds/{a2['id']}/cancel", headers=admin)

    async def ids(**params: Any) -> set[str]:
        response = await client.get(f"{API}/builds", headers=admin, params=params)
        assert response.status_code == 200, response.text
        return {b["id"] for b in response.json()["items"]}

    assert await ids() == {a1["id"], a2["id"], b1["id"]}
    assert await ids(job_id=one["id"]) == {a1["id"], a2["id"]}
    assert await ids(job_id=two["id"]) == {b1["id"]}
    assert await ids(status="cancelled") == {a2["id"]}
    assert await ids(status="queued") == {a1["id"], b1["id"]}
    assert await ids(status="queued", job_id=one["id"]) == {a1["id"]}
    assert await ids(branch="main") == {a1["id"], b1["id"]}
    assert await ids(job_id=str(uuid.uuid4())) == set()
    # A job's build by its number, as the UI names it (`job#2`).
    assert await ids(job_id=one["id"], number=2) == {a2["id"]}
    assert await ids(job_id=two["id"], number=2) == set()

    items = (await client.get(f"{API}/builds", headers=admin)).json()["items"]
    assert {b["job_name"] for b in items} == {one["name"], two["name"]}

    worker = await register_worker(client)
    assert (await claim_build(client, worker))["build_id"] == a1["id"]
    assert await ids(worker_id=worker.id) == {a1["id"]}


async def test_list_builds_refuses_bad_parameters(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    for params in (
        {"status": "exploded"},
        {"limit": 0},
        {"limit": 201},
        {"cursor": "junk"},
        {"number": 0},
        {"number": 2**31},
    ):
        response = await client.get(f"{API}/builds", headers=admin, params=params)
        assert_error(response, 422, "invalid")


async def test_a_running_build_may_end_in_success_failure_or_error(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker = await register_worker(client, concurrency=4)
    ends = sorted(FINISHED - {"cancelled"})
    for end in ends:
        build = await trigger(client, admin, job["id"])
        await claim_build(client, worker)
        await set_status(client, worker, build["id"], "running")
        response = await set_status(client, worker, build["id"], end, error_message=end)
        assert response.status_code == 200, response.text
    listed = (await client.get(f"{API}/builds", headers=admin)).json()["items"]
    assert sorted(b["status"] for b in listed) == ends
