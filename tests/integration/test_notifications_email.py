"""The email notifier against a real SMTP server on loopback (aiosmtpd, tests/support/
smtp_server.py): STARTTLS required, AUTH with a user and password, a certificate made by the
test and trusted through SOLVYD_SMTP_CA_FILE; and smtps:// (TLS from the first byte). A failed
build puts exactly one message in the mailbox, plain text and HTML, with the failed step's last
lines, every value escaped in the HTML and the job's secret masked."""

from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from solvyd.server.settings import ServerSettings
from tests.integration.api_helpers import API, Headers, admin_headers, create_job
from tests.integration.notify_helpers import (
    DEPLOY_TOKEN,
    PUBLIC_URL,
    app_client,
    run_build,
    set_secret,
    settled,
)
from tests.support.smtp_server import SMTP_PASSWORD, SMTP_USER, Mailbox, smtp_server

TO = ["dev@example.test", "ops@example.test"]
HOSTILE = "<script>alert('x')</script> & <b>bold</b>"


def _smtp(
    mailbox: Mailbox, scheme: str = "smtp", query: str = "?starttls=required"
) -> dict[str, Any]:
    return {
        "smtp_url": f"{scheme}://{SMTP_USER}@127.0.0.1:{mailbox.port}{query}",
        "smtp_from": "Solvyd <solvyd@example.test>",
        "smtp_password": SecretStr(SMTP_PASSWORD),
        "smtp_ca_file": mailbox.ca_file,
    }


async def _job(
    http: httpx.AsyncClient, admin: Headers, on: list[str] | None = None
) -> dict[str, Any]:
    job = await create_job(http, admin, branch="main")
    await set_secret(http, admin, job["id"], "DEPLOY_TOKEN", DEPLOY_TOKEN)
    rule: dict[str, Any] = {"type": "email", "to": TO}
    if on is not None:
        rule["on"] = on
    response = await http.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"notifications": [rule]}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_failed_build_mails_one_message_over_starttls_with_auth(
    settings: ServerSettings, tmp_path: Path
) -> None:
    with smtp_server(tmp_path) as mailbox:
        async with app_client(settings, **_smtp(mailbox)) as http:
            admin = await admin_headers(http)
            job = await _job(http, admin)
            build = await run_build(http, admin, job, "failure", error_message=HOSTILE)
            [note] = await settled(http, admin, build["id"])
    assert (note["status"], note["attempts"], note["last_error"]) == ("sent", 1, None)
    assert note["target"] == "email to dev@example.test, ops@example.test"
    [delivered] = mailbox.messages
    assert mailbox.logins == [SMTP_USER]
    assert mailbox.encrypted == [True]
    assert delivered.recipients == TO
    assert delivered.sender == "solvyd@example.test"
    message = delivered.message
    assert message["Subject"] == f"[Solvyd] {job['name']} #{build['number']} failed on main"
    assert message["X-Solvyd-Delivery"] == note["id"]
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    text, markup = plain.get_content(), html.get_content()
    link = f"{PUBLIC_URL}/builds/{build['id']}"
    for body in (text, markup):
        assert link in body
        assert "Last lines of build" in body
        assert "boom: tests failed" in body
        assert "line 12" in body and "line 11" not in body
        assert DEPLOY_TOKEN not in body
    assert HOSTILE in text
    assert "<script>" not in markup
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in markup
    )


async def test_smtps_sends_over_tls_from_the_first_byte(
    settings: ServerSettings, tmp_path: Path
) -> None:
    with smtp_server(tmp_path, implicit_tls=True) as mailbox:
        async with app_client(settings, **_smtp(mailbox, "smtps", "")) as http:
            admin = await admin_headers(http)
            job = await _job(http, admin, on=["success"])
            build = await run_build(http, admin, job, "success")
            [note] = await settled(http, admin, build["id"])
    # Sent: the server's socket speaks nothing but TLS.
    assert note["status"] == "sent"
    assert mailbox.logins == [SMTP_USER]
    [delivered] = mailbox.messages
    assert delivered.message["Subject"].endswith("passed on main")


async def test_the_password_may_come_from_a_global_secret(
    settings: ServerSettings, tmp_path: Path
) -> None:
    """SOLVYD_SMTP_PASSWORD_SECRET names a global secret: the password stays encrypted with the
    other secrets instead of in the server's environment."""
    with smtp_server(tmp_path) as mailbox:
        smtp = {**_smtp(mailbox), "smtp_password": None, "smtp_password_secret": "SMTP_PASS"}
        async with app_client(settings, **smtp) as http:
            admin = await admin_headers(http)
            response = await http.put(
                f"{API}/secrets/SMTP_PASS", headers=admin, json={"value": SMTP_PASSWORD}
            )
            assert response.status_code in (200, 201), response.text
            job = await _job(http, admin)
            build = await run_build(http, admin, job, "failure")
            [note] = await settled(http, admin, build["id"])
    assert (note["status"], note["last_error"]) == ("sent", None)
    assert mailbox.logins == [SMTP_USER]
    assert len(mailbox.messages) == 1


async def test_a_refused_login_fails_at_once_without_the_password(
    settings: ServerSettings, tmp_path: Path
) -> None:
    with smtp_server(tmp_path) as mailbox:
        smtp = {**_smtp(mailbox), "smtp_password": SecretStr("wrong-pass-Xy1")}
        async with app_client(settings, **smtp) as http:
            admin = await admin_headers(http)
            job = await _job(http, admin)
            build = await run_build(http, admin, job, "failure")
            [note] = await settled(http, admin, build["id"])
    assert (note["status"], note["attempts"]) == ("failed", 1)
    assert note["last_error"].startswith("the SMTP server refused the login (535)")
    assert "wrong-pass" not in note["last_error"]
    assert mailbox.messages == []


async def test_a_server_without_a_trusted_certificate_is_retried_not_trusted(
    settings: ServerSettings, tmp_path: Path
) -> None:
    """Without SOLVYD_SMTP_CA_FILE the test's certificate is no one's: the message is not sent
    to a server that cannot prove who it is."""
    with smtp_server(tmp_path) as mailbox:
        smtp = {**_smtp(mailbox), "smtp_ca_file": None}
        async with app_client(settings, notification_retry_seconds=0.0, **smtp) as http:
            admin = await admin_headers(http)
            job = await _job(http, admin)
            build = await run_build(http, admin, job, "failure")
            [note] = await settled(http, admin, build["id"])
    assert note["status"] == "failed"
    assert "certificate" in note["last_error"].lower()
    assert mailbox.messages == []


async def test_email_without_smtp_settings_fails_saying_so(settings: ServerSettings) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin)
        build = await run_build(http, admin, job, "failure")
        [note] = await settled(http, admin, build["id"])
    assert note["status"] == "failed"
    assert note["last_error"] == (
        "email is not set up on this server (SOLVYD_SMTP_URL and SOLVYD_SMTP_FROM)"
    )
