"""Sending commit statuses: claim due outbox rows, send each to its forge after commit, and
record the forge's answer.

Every server process runs the loop (`background.run_commit_status_sender`). A claim holds a
row for a lease (`claimed_until`; SKIP LOCKED on PostgreSQL, and SQLite has one writer), so
two servers never send the same row at once, and a newer state of a build waits until the
older one's request has answered. Timeouts, connection errors, 429 and 5xx are retried with
backoff and jitter for `commit_status_retry_seconds` from the first attempt; another 4xx (a
bad token, an unknown repository) fails at once, and so does a request that cannot be made
(a token that is no valid header value). A failed row keeps the forge's answer, which the build
shows.

Every value from the forge is hostile: each call is bounded as a whole (`asyncio.timeout`, so a
forge that trickles its answer cannot hold the sender), an answer's body is read only up to
`MAX_RESPONSE_BYTES` and only when it is kept (not for a 2xx), and whatever goes wrong with one
row is recorded on that row alone: the others of its batch, and the loop, go on.

The token is read from the job's secret at each send and never logged or stored in a row: it
is masked (with its encoded forms, `shared/redaction.py`) out of what the forge answered and out
of any error, in case either echoes the request."""

import asyncio
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import Build, CommitStatusReport, Job
from solvyd.server.events import COMMIT_STATUSES
from solvyd.server.plugins import server_plugins
from solvyd.server.scm import ForgeProvider, StatusReport, StatusRequest
from solvyd.server.services import outbox_rows
from solvyd.server.services.commit_statuses.forges import repository_from_scm_url
from solvyd.server.services.commit_statuses.outbox import ADDED
from solvyd.server.services.context import ServerContext
from solvyd.server.services.secrets import values_for_job_call
from solvyd.shared.backoff import backoff_delays
from solvyd.shared.clock import utcnow
from solvyd.shared.redaction import Masker

log = structlog.get_logger(__name__)

# Rows one claim takes; their requests go out concurrently.
BATCH = 20
# How much of a forge's answer is read, and kept on a report that was not sent.
MAX_RESPONSE_BYTES = 8192
# How much of an error's text a report keeps.
MAX_ERROR_CHARS = 1000


@dataclass
class _Claimed:
    id: uuid.UUID
    version: int
    build_id: uuid.UUID
    forge: str
    request: StatusRequest | None
    # Why no request could be made (no forge, no repository, no token): fails the row.
    problem: str | None
    token: str | None
    provider: ForgeProvider | None = None


@dataclass
class _Outcome:
    # sent | retry | failed
    verdict: str
    response_status: int | None = None
    response_body: str | None = None
    error: str | None = None


def install_wakeup(ctx: ServerContext) -> Callable[[], None]:
    """Wake this process's sender when a transaction that recorded a report commits, so a
    status goes out at once rather than at the next poll. Returns the undo."""
    return outbox_rows.install_wakeup(ctx, ADDED, COMMIT_STATUSES)


async def send_due_reports(ctx: ServerContext, http: httpx.AsyncClient) -> int:
    """Claim the due rows, send them, record the answers. Returns how many were claimed."""
    claimed = await _claim(ctx)
    if not claimed:
        return 0
    # `_send` never raises: whatever goes wrong is that row's outcome.
    outcomes = await asyncio.gather(*(_send(ctx, http, item) for item in claimed))
    for item, outcome in zip(claimed, outcomes, strict=True):
        try:
            await _record(ctx, item, outcome)
        except Exception as exc:
            # The others' answers are still recorded; this row's lease runs out and it is
            # sent again. Only the type: a database error's text carries the row's values.
            log.error(
                "commit status answer not recorded",
                build_id=str(item.build_id),
                error=type(exc).__name__,
            )
    return len(claimed)


async def seconds_until_due(ctx: ServerContext) -> float | None:
    """When the soonest pending report is due (0 if now); None if there is none. A report
    another sender holds is due when its lease ends (its holder sends the next state itself)."""
    return await outbox_rows.seconds_until_due(ctx, CommitStatusReport)


async def _claim(ctx: ServerContext) -> list[_Claimed]:
    lease = timedelta(seconds=ctx.settings.commit_status_timeout_seconds * 2 + 30)
    async with ctx.db.transaction() as session:
        rows = await outbox_rows.claim_due_rows(ctx, session, CommitStatusReport, lease, BATCH)
        return [await _prepare_or_fail(ctx, session, row) for row in rows]


async def _prepare_or_fail(
    ctx: ServerContext, session: AsyncSession, row: CommitStatusReport
) -> _Claimed:
    """The row's request; a row it cannot be made for fails alone, not its whole batch."""
    try:
        return await _prepare(ctx, session, row)
    except SQLAlchemyError:
        raise  # the database's fault, not the row's: the round is tried again
    except Exception as exc:
        log.error("commit status could not be prepared", build_id=str(row.build_id), exc_info=True)
        return _Claimed(
            id=row.id,
            version=row.version,
            build_id=row.build_id,
            forge=row.forge,
            request=None,
            problem=f"the report could not be made ({type(exc).__name__})",
            token=None,
        )


async def _prepare(ctx: ServerContext, session: AsyncSession, row: CommitStatusReport) -> _Claimed:
    item = _Claimed(
        id=row.id,
        version=row.version,
        build_id=row.build_id,
        forge=row.forge,
        request=None,
        problem=None,
        token=None,
    )
    build = await session.get(Build, row.build_id)
    job = await session.get(Job, build.job_id) if build is not None else None
    forge: dict[str, Any] | None = job.forge if job is not None else None
    if build is None or job is None or not forge:
        item.problem = "the job no longer reports commit statuses (its forge was removed)"
        return item
    repository = forge.get("repository") or repository_from_scm_url(job.scm_url)
    if not repository:
        item.problem = "the job's forge names no repository and its scm_url names none either"
        return item
    name = str(forge.get("token_secret") or "")
    # Whoever last changed the job chose where the token goes (api_url): a protected secret
    # serves only a job an admin changed last, as it does builds (services/secrets.py).
    values, admin_changed = await values_for_job_call(ctx, session, job, build, [name])
    # A token pasted with its line's end: a header value cannot carry it.
    token = values.get(name, "").strip()
    if not token:
        item.problem = f"the secret {name!r} holding the forge's token is not set" + (
            "" if admin_changed else " (or is protected, and an admin did not change the job last)"
        )
        return item
    if not (token.isascii() and token.isprintable()):
        # httpx would refuse it naming the header's value, and its own debug log shows that.
        item.problem = (
            f"the secret {name!r} holding the forge's token has characters an HTTP header "
            "cannot carry (a line break, a control character or a non-ASCII letter)"
        )
        return item
    provider = server_plugins().forges().get(str(forge["type"]))
    if provider is None:
        item.problem = f"no forge named {forge['type']!r} is installed on this server"
        return item
    public_url = ctx.settings.public_url
    row.target_url = f"{public_url.rstrip('/')}/builds/{build.id}" if public_url else None
    item.token = token
    item.provider = provider
    item.request = provider.status_request(
        StatusReport(
            api_url=forge.get("api_url"),
            repository=repository,
            sha=row.commit_sha,
            state=row.state,
            context=row.context,
            description=row.description,
            target_url=row.target_url,
        ),
        token,
    )
    return item


async def _send(ctx: ServerContext, http: httpx.AsyncClient, item: _Claimed) -> _Outcome:
    """Send one report and judge the answer. Never raises (but for cancellation)."""
    if item.request is None:
        return _Outcome("failed", error=item.problem)
    mask = Masker([item.token] if item.token else [])
    timeout = ctx.settings.commit_status_timeout_seconds
    try:
        # httpx's timeout bounds each read; this bounds the call, however the forge trickles.
        async with asyncio.timeout(timeout):
            return await _post(http, item, timeout, mask)
    except (TimeoutError, httpx.TimeoutException):
        return _Outcome("retry", error="the forge did not answer in time")
    except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
        return _Outcome("retry", error=_error_text(exc, mask))
    except Exception as exc:
        # The request could not be made (a token that is no valid header value, a URL httpx
        # refuses): it would fail the same way every time.
        return _Outcome("failed", error=f"the status could not be sent: {_error_text(exc, mask)}")


async def _post(http: httpx.AsyncClient, item: _Claimed, timeout: float, mask: Masker) -> _Outcome:
    request = item.request
    assert request is not None  # noqa: S101 - _send checked
    # Not compressed: a small compressed body can stand for a huge one.
    headers = {**request.headers, "Accept-Encoding": "identity"}
    async with http.stream(
        "POST", request.url, json=request.body, headers=headers, timeout=timeout
    ) as response:
        code = response.status_code
        if 200 <= code < 300:
            # The body says nothing a report keeps: not read, so it cannot be big or slow.
            return _Outcome("sent", response_status=code)
        body = await _read_answer(response, item.token, mask)
    if item.provider is not None and item.provider.already_in_state(request, code, body):
        return _Outcome("sent", response_status=code, response_body=body)
    verdict = "retry" if code == 429 or code >= 500 else "failed"
    return _Outcome(
        verdict,
        response_status=code,
        response_body=body,
        error=f"the forge answered HTTP {code}",
    )


async def _read_answer(response: httpx.Response, token: str | None, mask: Masker) -> str:
    """The start of the answer's body, as text, with the token masked.

    A little more than is kept is read, so that the token (in any of its encoded forms, at
    most ~8 characters per character of it) is still whole where the kept text ends; when the
    body went on further, that margin is dropped after masking, and with it any piece of the
    token the cut left."""
    if response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
        return "(a compressed answer, not shown)"
    margin = 8 * len(token) + 8 if token else 0
    limit = MAX_RESPONSE_BYTES + margin
    data = bytearray()
    cut = False
    try:
        async for chunk in response.aiter_raw():
            data += chunk
            if len(data) > limit:
                cut = True
                break
    except httpx.TransportError:
        cut = True  # the status code was all it said in full
    # NUL: PostgreSQL's text cannot hold it.
    text = mask(data.decode("utf-8", errors="replace").replace("\x00", ""))
    if cut and margin:
        text = text[:-margin]
    return text[:MAX_RESPONSE_BYTES]


async def _record(ctx: ServerContext, item: _Claimed, outcome: _Outcome) -> None:
    result = await _store(ctx, item, outcome)
    if result is None:
        return
    ctx.metrics.commit_statuses.labels(item.forge, result).inc()
    if result == "failed":
        log.warning(
            "commit status not sent",
            build_id=str(item.build_id),
            forge=item.forge,
            error=outcome.error,
            response_status=outcome.response_status,
        )


async def _store(ctx: ServerContext, item: _Claimed, outcome: _Outcome) -> str | None:
    """The attempt's result as recorded: sent, retry (later) or failed; None if the row is
    gone (its build was deleted) or a newer state replaces this one (it goes out next)."""
    now = utcnow()
    settings = ctx.settings
    async with ctx.db.transaction() as session:
        row = await session.scalar(
            sa.select(CommitStatusReport).where(CommitStatusReport.id == item.id).with_for_update()
        )
        if row is None:
            return None
        row.claimed_until = None
        if row.version != item.version:
            # A newer state came while this one was in flight: it goes out now, after it.
            row.next_attempt_at = now
            session.info[ADDED] = True
            return None
        row.attempts += 1
        row.response_status = outcome.response_status
        row.response_body = outcome.response_body
        row.last_error = outcome.error
        if outcome.verdict == "sent":
            row.status = "sent"
            return "sent"
        first = row.first_attempt_at or now
        window = timedelta(seconds=settings.commit_status_retry_seconds)
        if outcome.verdict == "retry" and now - first < window:
            row.next_attempt_at = now + timedelta(seconds=_delay(ctx, row.attempts))
            return "retry"
        row.status = "failed"
    return "failed"


def _delay(ctx: ServerContext, attempts: int) -> float:
    delays = backoff_delays(
        base=ctx.settings.commit_status_backoff_seconds,
        cap=ctx.settings.commit_status_backoff_max_seconds,
    )
    return next(itertools.islice(delays, max(0, attempts - 1), None))


def _error_text(exc: Exception, mask: Masker) -> str:
    """`exc` for a report: httpx's messages name the URL, and one about a header names its
    value (the token): masked, then cut."""
    text = mask(f"{type(exc).__name__}: {exc}".replace("\x00", ""))
    return text[:MAX_ERROR_CHARS]
