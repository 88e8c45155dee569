"""The delivery log: a row per request, written without the secrets it carried."""

import functools
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import WebhookDelivery, WebhookDeliveryJob
from solvyd.server.plugins import server_plugins
from solvyd.server.scm import ForgeProvider
from solvyd.shared.clock import utcnow
from solvyd.shared.text import replace_unstorable

# Never stored: they carry credentials. Every forge's secret and signature headers are
# dropped whichever endpoint received the request: a GitLab token sent to /hooks/github is
# still a GitLab webhook's secret, and a signature kept beside its body would let whoever
# reads the log send that body again, validly signed, under a new delivery id.
_ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie"})


@functools.cache
def secret_headers() -> frozenset[str]:
    """Those and every installed forge's (built in or a plugin's), read once: the plugins are
    loaded at start."""
    forges = server_plugins().forges().values()
    return _ALWAYS_SECRET | {name.lower() for forge in forges for name in forge.secret_headers}


# A request nobody verified keeps this much of its body: enough to see what was sent, not
# enough for anyone on the network to fill the database.
UNVERIFIED_BODY_BYTES = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024


def stored_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    kept: dict[str, str] = {}
    size = 0
    for name, value in headers:
        lowered = name.lower()
        if lowered in secret_headers():
            continue
        size += len(name) + len(value)
        if size > MAX_HEADER_BYTES:
            break
        kept[replace_unstorable(lowered)] = replace_unstorable(value)
    return kept


def stored_body(body: bytes, *, verified: bool) -> tuple[str, bool]:
    """The body as text for the log, and whether it was cut."""
    cut = not verified and len(body) > UNVERIFIED_BODY_BYTES
    if cut:
        body = body[:UNVERIFIED_BODY_BYTES]
    return replace_unstorable(body.decode("utf-8", errors="replace")), cut


@dataclass
class Delivery:
    """A request being answered, until its row is written."""

    forge: ForgeProvider
    event: str | None
    delivery_id: str | None
    headers: dict[str, str]
    body: bytes
    received_at: Any = field(default_factory=utcnow)
    replay_of: uuid.UUID | None = None

    @classmethod
    def of(cls, forge: ForgeProvider, headers: Mapping[str, str], body: bytes) -> "Delivery":
        event = forge.event_name(headers)
        return cls(
            forge=forge,
            event=None if event is None else replace_unstorable(event[:200]),
            delivery_id=_clean(forge.delivery_id(headers)),
            headers=stored_headers(headers.items()),
            body=body,
        )

    def dedup_key(self, job_ids: Iterable[uuid.UUID]) -> str | None:
        """What makes a request a redelivery: the same forge and delivery id, verified by the
        same jobs' secrets. The jobs are part of it because a delivery id need not name one
        request: GitHub's names the event, sent alike by every webhook of the repository and its
        organization, each with its own secret (its own jobs); one job set's delivery must not
        answer for another's. A digest, so that any delivery id fits the column."""
        if self.delivery_id is None or self.replay_of is not None:
            return None
        jobs = ",".join(sorted(str(job_id) for job_id in job_ids))
        raw = f"{self.forge.name}\n{self.delivery_id}\n{jobs}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def row(
        self,
        *,
        outcome: str,
        status_code: int,
        reason: str | None,
        verified: bool,
        job_ids: list[uuid.UUID] | None = None,
        build_ids: list[uuid.UUID] | None = None,
        ignored: list[dict[str, str]] | None = None,
    ) -> WebhookDelivery:
        text, cut = stored_body(self.body, verified=verified)
        return WebhookDelivery(
            id=uuid.uuid4(),
            forge=self.forge.name,
            event=self.event,
            delivery_id=self.delivery_id,
            # Only a delivery a job's secret verified holds its key (see WebhookDelivery).
            dedup_key=self.dedup_key(job_ids or []) if verified else None,
            received_at=self.received_at,
            outcome=outcome,
            reason=None if reason is None else replace_unstorable(reason),
            status_code=status_code,
            job_ids=[str(j) for j in job_ids or []],
            build_ids=[str(b) for b in build_ids or []],
            ignored=ignored or [],
            headers=self.headers,
            body=text,
            body_truncated=cut,
            replay_of=self.replay_of,
        )


def add_row(session: AsyncSession, row: WebhookDelivery, job_ids: Iterable[uuid.UUID]) -> None:
    session.add(row)
    session.add_all(
        WebhookDeliveryJob(delivery_id=row.id, job_id=job_id, received_at=row.received_at)
        for job_id in dict.fromkeys(job_ids)
    )


def _clean(value: str | None) -> str | None:
    return None if value is None else replace_unstorable(value[:200])
