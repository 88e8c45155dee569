"""The masker of a build's log: the values its job spec says to hide, and the values of the
secrets the build can read.

A build whose steps ask for no secret (and whose steps the server planned) costs nothing more
than before: no query, a masker shared through an LRU cache. A build that may read secrets has
their values loaded and decrypted once per (build, attempt) and kept for `SECRETS_TTL_SECONDS`,
so a batch costs a dictionary lookup; the TTL bounds how long a secret changed meanwhile goes
unmasked here (the agent masks what it was given in any case; this is the safety net). The
compiled masker itself is kept in `_spec_masker`'s LRU, keyed by the values, for as long as it
stays among the 256 most recent: decrypted values live on in this process's memory that long,
beside the key that decrypts them all anyway.
"""

import functools
import time
import uuid
from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import Build
from solvyd.server.services import secrets
from solvyd.server.services.builds.secrets import asked_for
from solvyd.server.services.context import ServerContext
from solvyd.shared.redaction import Masker

SECRETS_TTL_SECONDS = 10.0
SECRETS_CACHE_SIZE = 512


async def build_masker(ctx: ServerContext, session: AsyncSession, build: Build) -> Masker:
    mask = tuple(build.spec.get("mask") or ())
    names = asked_for(build.spec)
    if names is not None and not names:
        return _spec_masker(mask)
    key = (build.id, build.attempt)
    masker = _with_secrets.get(key)
    if masker is None:
        # `names` None: a pipeline from the repository, whose steps the server never saw. Its
        # agent may have been given any of the job's or the global secrets, so all their values
        # are masked.
        values = await secrets.secret_values(session, secrets.secret_box(ctx), build.job_id, names)
        # Through the LRU too: the TTL makes this run every 10 s of a build's log, and building
        # a masker (thousands of base64 pieces for long secrets) costs far more than a lookup.
        masker = _spec_masker(tuple(sorted({*mask, *values.values()})))
        _with_secrets.put(key, masker)
    return masker


@functools.lru_cache(maxsize=256)
def _spec_masker(values: tuple[str, ...]) -> Masker:
    # Cached: building one compiles a regex, and every batch of a build asks for the same one.
    # Never mutated after this (no `add`), so sharing it between batches is safe.
    return Masker(values)


class _TtlCache:
    """A small LRU whose entries also expire. Used from the event loop only, with no await
    between a lookup and its use, so it needs no lock."""

    def __init__(self, size: int, ttl: float) -> None:
        self._size = size
        self._ttl = ttl
        self._entries: OrderedDict[tuple[uuid.UUID, int], tuple[float, Masker]] = OrderedDict()

    def get(self, key: tuple[uuid.UUID, int]) -> Masker | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, masker = entry
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return masker

    def put(self, key: tuple[uuid.UUID, int], masker: Masker) -> None:
        self._entries[key] = (time.monotonic() + self._ttl, masker)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


_with_secrets = _TtlCache(SECRETS_CACHE_SIZE, SECRETS_TTL_SECONDS)
