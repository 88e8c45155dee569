"""Fuzz every operation of the live OpenAPI document with schemathesis, against a real
`solvyd server` process on SQLite and on PostgreSQL: signed in as an admin, as a viewer, and
as an agent (a worker's token on worker routes, the registration token on registration).

For each operation it sends schemathesis' coverage cases (valid values at their edges: the
longest strings, the largest numbers, NUL characters), then `SOLVYD_FUZZ_MAX_EXAMPLES`
(default 25) random cases, valid and invalid, and `SOLVYD_FUZZ_HOSTILE_EXAMPLES` (default 10)
valid cases with one string (or key) of the body, query or path swapped for text that cannot be
stored or misleads a reader (not as a viewer, whose writes are refused before their bodies matter):
a lone UTF-16 surrogate, a NUL, a right-to-left override (schemathesis writes strings its
codec, UTF-8, can encode, so never a surrogate). Valid ids in the path are swapped for those of a
real job, build and worker, made fresh for each operation, so the fuzzer reaches past "404 not
found". No answer may be a 5xx, and every answer must match the document (the schema of its
status code, its content type). The module takes about 150 s on an idle 2-core machine
(an estimate: about 100 s before the hostile-text cases; much longer under load).

Reproduce a failure with the seed it prints: SOLVYD_FUZZ_SEED=<n>.
"""

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from solvyd.server.auth.passwords import hash_password
from solvyd.server.auth.roles import Role
from solvyd.server.db.models import User
from solvyd.server.db.session import create_database
from tests.support.databases import PostgresDatabases, SqliteDatabases
from tests.support.processes import ADMIN_PASSWORD, AGENT_TOKEN, ServerProcess, start_server

MAX_EXAMPLES = int(os.environ.get("SOLVYD_FUZZ_MAX_EXAMPLES", "25"))
# Cases per operation with one string swapped for hostile text (see HOSTILE_TEXT).
HOSTILE_EXAMPLES = int(os.environ.get("SOLVYD_FUZZ_HOSTILE_EXAMPLES", "10"))
SEED = int(os.environ.get("SOLVYD_FUZZ_SEED", "20261129"))
# Which role fuzzes which database. A viewer's answers hardly depend on the database (most are
# 403 before it is asked), so that run is on PostgreSQL only: the stricter of the two, and the
# one that shows what SQLite lets pass (NUL characters, numbers beyond 32 bits).
RUNS = [
    ("sqlite", "admin"),
    ("sqlite", "agent"),
    ("postgresql", "admin"),
    ("postgresql", "viewer"),
    ("postgresql", "agent"),
]
VIEWER = "fuzz-viewer"
VIEWER_PASSWORD = "fuzz-viewer-password"
PIPELINE = "steps:\n  - name: build\n    commands: [echo hi]\n"
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
SERVER_ENV = {
    # The fuzzer's made-up logins would soon lock out every login from this address, ours
    # included; the throttle has tests of its own.
    "SOLVYD_LOGIN_FAILURES_PER_USER": "1000000",
    "SOLVYD_LOGIN_FAILURES_PER_IP": "1000000",
    # Long polls (claim, cancel-wait, log pages) answer within this, whatever `wait` says.
    "SOLVYD_MAX_CLAIM_WAIT_SECONDS": "0.01",
}

# Each run takes 6-60 s on an idle 2-core machine, two or three times that while the rest of
# the suite runs beside it. Every call has its own 30 s timeout, so this only catches a run
# that hangs between calls. It must never fire in the middle of a run: its exception lands
# inside a Hypothesis example, which then reports a "flaky" case instead of the hang.
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def live_server(
    request: pytest.FixtureRequest,
    sqlite_databases: SqliteDatabases,
    postgres_databases: PostgresDatabases,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerProcess]:
    if request.param == "postgresql":
        url = postgres_databases.require()
    else:
        url = asyncio.run(sqlite_databases.create())
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    server = start_server(url, tmp / "data", tmp, **SERVER_ENV)
    try:
        # After the start: the server makes its admin only in a database with no users.
        asyncio.run(_add_viewer(url))
        yield server
    finally:
        server.process.stop()


async def _add_viewer(database_url: str) -> None:
    db = create_database(database_url)
    try:
        async with db.transaction() as session:
            hashed = hash_password(VIEWER_PASSWORD)
            session.add(User(username=VIEWER, password_hash=hashed, role=Role.VIEWER))
    finally:
        await db.dispose()


class Login:
    """A user's access token, renewed when the fuzzer has ended its session (it may call
    POST /auth/logout with it)."""

    def __init__(self, http: httpx.Client, username: str, password: str) -> None:
        self.http = http
        self.credentials = {"username": username, "password": password}
        self.token = self._log_in()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def renewed(self) -> "Login":
        if self.http.get("/jobs", headers=self.headers()).status_code == 401:
            self.token = self._log_in()
        return self

    def _log_in(self) -> str:
        response = self.http.post("/auth/login", json=self.credentials)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@dataclass
class Seeds:
    """Real resources for one operation's cases: a job, a finished build, a worker, and a
    build that worker has claimed and runs."""

    job_id: str
    finished_build_id: str
    worker_id: str
    worker_token: str
    running_build_id: str

    @classmethod
    def make(cls, http: httpx.Client, admin: dict[str, str]) -> "Seeds":
        def ok(response: httpx.Response) -> dict[str, Any]:
            assert response.is_success, response.text
            return dict(response.json())

        name = f"fuzz-{uuid.uuid4().hex[:8]}"
        job = ok(http.post("/jobs", headers=admin, json={"name": name, "pipeline": PIPELINE}))
        finished = ok(http.post(f"/jobs/{job['id']}/trigger", headers=admin, json={}))
        ok(http.post(f"/builds/{finished['id']}/cancel", headers=admin))
        worker = ok(
            http.post(
                "/workers/register",
                headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
                json={
                    "name": name,
                    "hostname": "fuzz.example",
                    "ip": "127.0.0.1",
                    "capabilities": {"labels": [], "executors": ["local"], "concurrency": 1},
                },
            )
        )
        ok(http.post(f"/jobs/{job['id']}/trigger", headers=admin, json={}))
        as_worker = {"Authorization": f"Bearer {worker['token']}"}
        # The oldest queued build: ours, or one the fuzzer queued before.
        spec = ok(http.post(f"/workers/{worker['id']}/claim", headers=as_worker, json={"wait": 0}))
        running = spec["build_id"]
        status = {"status": "running"}
        ok(http.put(f"/builds/{running}/status", headers=as_worker, json=status))
        return cls(job["id"], finished["id"], worker["id"], worker["token"], running)

    def id_for(self, name: str, worker_route: bool) -> str | None:
        if name == "job_id":
            return self.job_id
        if name == "worker_id":
            return self.worker_id
        if name == "build_id":
            # A worker acts on the build it runs; users read a finished one, whose log stream
            # ends at once instead of following a build that never finishes.
            return self.running_build_id if worker_route else self.finished_build_id
        return None


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _has_ids(operation: schemathesis.APIOperation) -> bool:
    return any(f"{{{name}}}" in operation.path for name in ("job_id", "build_id", "worker_id"))


def _use_seeds(case: schemathesis.Case, seeds: "Seeds | None", worker_route: bool) -> None:
    """Point the case's (valid) ids at real resources."""
    if seeds is None:
        return
    for name, value in list((case.path_parameters or {}).items()):
        real = seeds.id_for(name, worker_route)
        if real is not None and _is_uuid(value):
            case.path_parameters[name] = real


# Text a JSON body can carry and no database column can store (a lone surrogate, NUL), or
# that shows other than it is (a right-to-left override). The agent's own JSON encoder, like
# `json.dumps`, sends a surrogate as a `\ud800` escape.
HOSTILE_TEXT = ["x\ud800y", "\udfff", "a\x00b", "\x00", "run\u202etxt.exe", "\ud83d"]
# A URL is percent-encoded UTF-8, which holds no surrogate: only these go into query and path.
HOSTILE_URL_TEXT = [
    text for text in HOSTILE_TEXT if not any(0xD800 <= ord(c) < 0xE000 for c in text)
]


@dataclass
class _Slot:
    """Where one string of a case is: a value or a key of `container`."""

    container: dict[str, Any] | list[Any]
    key: Any
    is_key: bool
    in_url: bool


def _string_slots(value: Any, in_url: bool, slots: list[_Slot]) -> None:
    if isinstance(value, dict):
        for key, item in list(value.items()):
            if isinstance(key, str):
                slots.append(_Slot(value, key, is_key=True, in_url=in_url))
            if isinstance(item, str):
                slots.append(_Slot(value, key, is_key=False, in_url=in_url))
            else:
                _string_slots(item, in_url, slots)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                slots.append(_Slot(value, index, is_key=False, in_url=in_url))
            else:
                _string_slots(item, in_url, slots)


def _with_hostile_text(case: schemathesis.Case, position: int, choice: int) -> bool:
    """Swap one string of the case (the `position`-th, wrapping) for hostile text; False if
    the case has no string to swap."""
    slots: list[_Slot] = []
    _string_slots(case.body, False, slots)
    _string_slots(case.query, True, slots)
    # Keys of a query or path are the schema's own names, not the caller's text.
    slots = [slot for slot in slots if not (slot.in_url and slot.is_key)]
    path_slots: list[_Slot] = []
    _string_slots(case.path_parameters, True, path_slots)
    slots += [slot for slot in path_slots if not slot.is_key]
    if not slots:
        return False
    slot = slots[position % len(slots)]
    texts = HOSTILE_URL_TEXT if slot.in_url else HOSTILE_TEXT
    text = texts[choice % len(texts)]
    container = slot.container
    if slot.is_key:
        assert isinstance(container, dict)
        container[f"{slot.key}{text}"] = container.pop(slot.key)
    else:
        container[slot.key] = f"{container[slot.key]}{text}"
    return True


def _described(exc: BaseException, depth: int = 0) -> str:
    """The exception and, for a group (Hypothesis' "flaky" reports are groups), what is in
    it: the report alone does not say what failed."""
    text = f"{'  ' * depth}{type(exc).__name__}: {exc}"
    if isinstance(exc, BaseExceptionGroup):
        text += "".join(f"\n{_described(inner, depth + 1)}" for inner in exc.exceptions)
    return text


# Read after each operation's cases, as an admin.
LISTS = ["/jobs", "/builds", "/workers", "/users", "/secrets", "/tokens", "/audit"]

# Streams that answer for as long as the viewer stays: no answer to check, only a timeout.
# Their own tests read them (tests/integration/test_events_stream.py).
ENDLESS = {"stream_events"}


class Fuzzer:
    """One role's run against one server: every operation, its coverage cases, then random
    ones; failures are collected, not raised, so one run reports them all."""

    def __init__(self, server: ServerProcess, role: str) -> None:
        self.server = server
        self.role = role
        # Ours, for logins and seeds; one client, as making one costs more than a request.
        self.http = httpx.Client(base_url=f"{server.url}/api/v1", timeout=30)
        self.users = {
            "admin": Login(self.http, "admin", ADMIN_PASSWORD),
            "viewer": Login(self.http, VIEWER, VIEWER_PASSWORD),
        }
        self.connection = requests.Session()  # the fuzzer's, kept alive across its calls
        config = schemathesis.Config.from_dict({"seed": SEED})
        self.schema = schemathesis.openapi.from_url(
            f"{server.url}/api/v1/openapi.json", config=config
        )
        self.calls = 0
        self.failures: list[str] = []

    def run(self) -> None:
        with contextlib.closing(self.http), self.connection:
            for result in self.schema.get_all_operations():
                operation = result.ok()
                if operation.definition.raw.get("operationId") in ENDLESS:
                    continue
                access = operation.definition.raw.get("x-solvyd-access", "")
                if self.role == "agent" and access not in ("worker", "agent-registration"):
                    continue  # an agent's tokens open only these; the user roles try the rest
                self.operation(operation, access)

    def operation(self, operation: schemathesis.APIOperation, access: str) -> None:
        admin = self.users["admin"].renewed().headers()
        seeds = (
            Seeds.make(self.http, admin) if self.role == "agent" or _has_ids(operation) else None
        )
        headers = self._headers(access, seeds)

        def call(case: schemathesis.Case) -> None:
            _use_seeds(case, seeds, worker_route=access == "worker")
            self.calls += 1
            case.call_and_validate(
                session=self.connection,
                base_url=self.server.url,
                headers=headers,
                timeout=30,
                checks=CHECKS,
            )

        # Valid values at their edges (the longest string, the largest number, a NUL in a
        # text): where the schema lets through what the code cannot take. Invalid values come
        # from the random cases. A viewer is refused most writes before their bodies matter:
        # random cases are enough there, and keep the run short.
        if self.role != "viewer":
            coverage = self.schema.iter_coverage_cases(
                operation,
                generation_modes=[GenerationMode.POSITIVE],
                generation_config=self.schema.config.generation_for(operation=operation),
            )
            for case in coverage:
                try:
                    call(case)
                except (Exception, BaseExceptionGroup) as exc:
                    self.failures.append(f"--- {operation.label} (coverage)\n{_described(exc)}")
                    break

        @seed(SEED)
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            )
        )
        def random_cases(case: schemathesis.Case) -> None:
            call(case)

        try:
            random_cases()
        except (Exception, BaseExceptionGroup) as exc:
            self.failures.append(f"--- {operation.label} (random)\n{_described(exc)}")

        # Valid cases but for one string: the edge must refuse it (422), or, in a log line,
        # store it replaced; never a 500, and never a value saved that breaks a later read.
        # A viewer's writes are refused before their bodies matter (as for the coverage cases).
        if self.role == "viewer":
            return

        @seed(SEED)
        @settings(
            max_examples=HOSTILE_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(GenerationMode.POSITIVE),
            position=st.integers(min_value=0, max_value=1000),
            choice=st.integers(min_value=0, max_value=len(HOSTILE_TEXT) - 1),
        )
        def hostile_cases(case: schemathesis.Case, position: int, choice: int) -> None:
            if _with_hostile_text(case, position, choice):
                call(case)

        try:
            hostile_cases()
        except (Exception, BaseExceptionGroup) as exc:
            self.failures.append(f"--- {operation.label} (hostile text)\n{_described(exc)}")
        self._lists_still_answer(operation)

    def _lists_still_answer(self, operation: schemathesis.APIOperation) -> None:
        """What the cases saved must not break a later read (a job saved with a lone surrogate
        once made `GET /jobs` answer 500 for everyone)."""
        admin = self.users["admin"].renewed().headers()
        for path in LISTS:
            response = self.http.get(path, headers=admin)
            if response.status_code != 200:
                self.failures.append(
                    f"--- GET {path} after {operation.label}: {response.status_code}"
                )

    def _headers(self, access: str, seeds: Seeds | None) -> dict[str, str]:
        if self.role != "agent":
            return self.users[self.role].renewed().headers()
        assert seeds is not None
        token = AGENT_TOKEN if access == "agent-registration" else seeds.worker_token
        return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("live_server", "role"), RUNS, indirect=["live_server"], scope="module")
def test_no_input_makes_the_server_fail(live_server: ServerProcess, role: str) -> None:
    fuzzer = Fuzzer(live_server, role)
    started = time.monotonic()
    fuzzer.run()
    elapsed = time.monotonic() - started
    print(f"\n{role}: {fuzzer.calls} calls in {elapsed:.1f}s, seed {SEED}")
    assert not fuzzer.failures, f"seed {SEED}\n\n" + "\n\n".join(fuzzer.failures)
    assert fuzzer.calls > 0
