"""One POST of a notification to a receiver over HTTP, judged the way every built-in HTTP
notifier judges it: a 2xx is delivered; a 429, a 5xx, a timeout or a connection error is worth
another attempt; any other answer is final.

The receiver is hostile: the call is bounded as a whole (`asyncio.timeout`: a receiver that
trickles its answer cannot hold the sender), only the start of a refusal's body is read, and
what is kept of it, and of any error, has the values in `hide` masked (a secret URL, a
signing secret), which an error text from httpx or an echoing receiver could carry."""

import asyncio
from collections.abc import Mapping, Sequence

import httpx

from solvyd.server.notify.base import NotificationError, NotifyContext
from solvyd.shared.redaction import Masker

# How much of a refusal's body is read and shown.
MAX_ANSWER_BYTES = 2048
# How much of an error's text is kept.
MAX_ERROR_CHARS = 500


async def post(
    ctx: NotifyContext,
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    *,
    hide: Sequence[str] = (),
    receiver: str = "the receiver",
) -> None:
    """POST `content` to `url`; return once the receiver took it, else raise
    `NotificationError` (never naming `url` nor any of `hide`)."""
    mask = Masker([value for value in (url, *hide) if value])
    try:
        async with asyncio.timeout(ctx.timeout):
            await _post(ctx, url, content, headers, mask, receiver)
    except NotificationError:
        raise
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise NotificationError(f"{receiver} did not answer in time", retryable=True) from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
        raise NotificationError(
            f"{receiver} could not be reached: {_error_text(exc, mask)}", retryable=True
        ) from exc
    except httpx.HTTPError as exc:
        # The request could not be made at all: it would fail the same way every time.
        raise NotificationError(
            f"the request to {receiver} could not be made: {_error_text(exc, mask)}",
            retryable=False,
        ) from exc


async def _post(
    ctx: NotifyContext,
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    mask: Masker,
    receiver: str,
) -> None:
    # Not compressed: a small compressed body can stand for a huge one.
    sent = {"User-Agent": "solvyd", "Accept-Encoding": "identity", **headers}
    async with ctx.http.stream(
        "POST", url, content=content, headers=sent, timeout=ctx.timeout
    ) as response:
        code = response.status_code
        if 200 <= code < 300:
            return
        answer = await _read_answer(response, mask)
    retryable = code == 429 or code >= 500
    text = f"{receiver} answered HTTP {code}"
    if answer:
        text = f"{text}: {answer}"
    raise NotificationError(text[:MAX_ERROR_CHARS], retryable=retryable)


async def _read_answer(response: httpx.Response, mask: Masker) -> str:
    if response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
        return "(a compressed answer, not shown)"
    data = bytearray()
    try:
        async for chunk in response.aiter_raw():
            data += chunk
            if len(data) > MAX_ANSWER_BYTES * 4:
                break
    except httpx.TransportError:
        pass  # the status code says enough
    # Masked whole before it is cut, so that no cut leaves a piece of a secret unmasked.
    text = mask(data.decode("utf-8", errors="replace").replace("\x00", ""))
    return " ".join(text.split())[:MAX_ANSWER_BYTES]


def _error_text(exc: Exception, mask: Masker) -> str:
    return mask(f"{type(exc).__name__}: {exc}".replace("\x00", ""))[:MAX_ERROR_CHARS]
