"""Plain-text downloads streamed to the client, gzip-compressed when it says it accepts that."""

import asyncio
import zlib
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import StreamingResponse

# Compress in pieces of about this much text: large enough to compress well, small enough
# that the first bytes leave early.
_CHUNK_BYTES = 256 * 1024


def _accepts_gzip(request: Request) -> bool:
    return any(
        part.split(";")[0].strip() == "gzip"
        for part in request.headers.get("accept-encoding", "").split(",")
    )


async def _encoded(chunks: AsyncIterator[str], compress: bool) -> AsyncIterator[bytes]:
    # wbits 16 + 15: the gzip container, which is what Content-Encoding: gzip means.
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS) if compress else None
    pending: list[bytes] = []
    size = 0
    async for chunk in chunks:
        data = chunk.encode()
        pending.append(data)
        size += len(data)
        if size >= _CHUNK_BYTES:
            block = b"".join(pending)
            pending, size = [], 0
            # In a thread (zlib lets go of the GIL): several downloads compressing at once
            # would otherwise hold the event loop for milliseconds per block each.
            yield await asyncio.to_thread(compressor.compress, block) if compressor else block
    block = b"".join(pending)
    if compressor:
        yield compressor.compress(block) + compressor.flush()
    elif block:
        yield block


def text_stream_response(request: Request, chunks: AsyncIterator[str]) -> StreamingResponse:
    compress = _accepts_gzip(request)
    headers = {"Vary": "Accept-Encoding"}
    if compress:
        headers["Content-Encoding"] = "gzip"
    return StreamingResponse(
        _encoded(chunks, compress), media_type="text/plain; charset=utf-8", headers=headers
    )
