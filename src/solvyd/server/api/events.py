import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse, ServerSentEvent

from solvyd.server.api.deps import STREAM_AUTH_RECHECK_SECONDS, AsViewer, Ctx, StillSignedIn
from solvyd.server.services.changes import ChangeFeed

router = APIRouter(prefix="/events", tags=["events"])

# A stream with nothing to say sends a `ping` event after this long, so that proxies keep it
# open and a client can tell a quiet stream from a dead one.
PING_SECONDS = 15.0


async def open_change_feed(ctx: Ctx) -> ChangeFeed:
    """Resolved before the answer starts: the feed listens before the client sees the stream
    open and fetches what it shows, so no change in between goes unannounced."""
    return ChangeFeed(ctx)


@router.get("/stream", response_class=EventSourceResponse, operation_id="stream_events")
async def stream_events(
    _: AsViewer,
    still_signed_in: StillSignedIn,
    feed: Annotated[ChangeFeed, Depends(open_change_feed)],
) -> AsyncIterator[ServerSentEvent]:
    """What to refetch, as Server-Sent Events: `changed` with `{"what": "builds"}` when a build
    was created or changed status (or one of its steps did), `{"what": "workers"}` when a
    worker registered, was drained, resumed or removed, went offline or runs another number of
    builds, `{"what": "deployments"}` when a deployment was registered, approved, rejected,
    started or ended, or a rollback queued. Changes within 200 ms come as one event per topic.
    `ping` (`{}`) after 15 s without one. The stream stops once the viewer's token stops
    working (a reconnect then gets 401) and when the server shuts down."""
    quiet_since = time.monotonic()
    async for changed in feed.follow(tick_seconds=STREAM_AUTH_RECHECK_SECONDS):
        if not await still_signed_in():
            return
        now = time.monotonic()
        for what in changed:
            yield ServerSentEvent(event="changed", data={"what": what})
        if changed:
            quiet_since = now
        elif now - quiet_since >= PING_SECONDS:
            yield ServerSentEvent(event="ping", data={})
            quiet_since = now
