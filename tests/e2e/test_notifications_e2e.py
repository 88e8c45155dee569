"""Notifications through the real thing: a `solvyd server` process set up for email by its
environment (SOLVYD_SMTP_*), a real agent running a real step that prints a secret and fails,
and a real SMTP server on loopback (aiosmtpd with STARTTLS and AUTH). The failed build puts
exactly one message in the mailbox, with the failing step's last lines and the secret masked;
nothing of it is in the server's own output either."""

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi
from tests.support.processes import Process, ServerProcess, start_agent, start_server
from tests.support.smtp_server import SMTP_PASSWORD, SMTP_USER, Mailbox, smtp_server

pytestmark = pytest.mark.e2e

DEPLOY_TOKEN = f"deploy-{uuid.uuid4().hex}"
PIPELINE = {
    "steps": [
        {
            "name": "deploy",
            "secrets": ["DEPLOY_TOKEN"],
            "commands": [
                'for i in $(seq 1 40); do echo "line $i"; done',
                'echo "pushing with $DEPLOY_TOKEN"',
                "echo 'deploy refused: 403' && exit 3",
            ],
        }
    ]
}


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    with smtp_server(tmp_path) as box:
        yield box


@pytest.fixture
def mail_server(
    database_url: str, tmp_path: Path, log_dir: Path, mailbox: Mailbox
) -> Iterator[ServerProcess]:
    process = start_server(
        database_url,
        tmp_path / "server-data",
        log_dir,
        SOLVYD_SMTP_URL=f"smtp://{SMTP_USER}@localhost:{mailbox.port}?starttls=required",
        SOLVYD_SMTP_FROM="ci@example.test",
        SOLVYD_SMTP_PASSWORD=SMTP_PASSWORD,
        SOLVYD_SMTP_CA_FILE=str(mailbox.ca_file),
        SOLVYD_PUBLIC_URL="https://ci.example.test",
    )
    try:
        yield process
    finally:
        process.process.stop()


@pytest.fixture
def agent(mail_server: ServerProcess, log_dir: Path, tmp_path: Path) -> Iterator[Process]:
    process = start_agent(mail_server.url, log_dir, tmp_path / "work", name="notify-agent")
    yield process
    process.stop()


@pytest.fixture
def api(mail_server: ServerProcess) -> Iterator[UserApi]:
    user_api = UserApi(mail_server)
    yield user_api
    user_api.http.close()


def test_a_failing_build_mails_one_message_with_its_last_lines_and_no_secret(
    mail_server: ServerProcess, api: UserApi, agent: Process, mailbox: Mailbox
) -> None:
    job = api.create_job(f"notify-{uuid.uuid4().hex[:8]}", json.dumps(PIPELINE))
    response = api.http.put(f"/jobs/{job['id']}/secrets/DEPLOY_TOKEN", json={"value": DEPLOY_TOKEN})
    assert response.status_code == 201, response.text
    rules = [{"type": "email", "to": ["team@example.test"]}]
    response = api.http.patch(f"/jobs/{job['id']}", json={"notifications": rules})
    assert response.status_code == 200, response.text

    build = api.trigger(job["id"])
    finished = api.wait_for_finish(build["id"], timeout=60)
    assert finished["status"] == "failure", api.log_text(build["id"])[-2000:]
    [delivered] = mailbox.wait_for(1)
    deadline = time.monotonic() + 10
    while api.build(build["id"])["notifications"][0]["status"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)  # a second message would have come by now
    assert len(mailbox.messages) == 1
    [note] = api.build(build["id"])["notifications"]
    assert (note["status"], note["attempts"], note["outcome"]) == ("sent", 1, "failure")

    assert delivered.recipients == ["team@example.test"]
    assert mailbox.encrypted == [True]
    message = delivered.message
    assert message["Subject"] == f"[Solvyd] {job['name']} #{build['number']} failed"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    for body in (plain.get_content(), html.get_content()):
        assert "Last lines of deploy" in body
        assert "deploy refused: 403" in body
        assert "line 40" in body
        assert f"https://ci.example.test/builds/{build['id']}" in body
        assert DEPLOY_TOKEN not in body
        assert "pushing with ***" in body
    text = plain.get_content().replace("\r\n", "\n")
    tail = text.split("Last lines of deploy:\n\n", 1)[1].splitlines()
    # The step's last 30 lines as the log has them (its commands echoed among them).
    logged = [line for line in api.log_text(build["id"]).splitlines() if line.strip()]
    assert [line.removeprefix("    ") for line in tail] == logged[-30:]
    assert DEPLOY_TOKEN not in message.as_string()
    assert DEPLOY_TOKEN not in mail_server.process.output()
