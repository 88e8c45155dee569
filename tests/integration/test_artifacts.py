"""Artifacts through the API (in-process app, SQLite and PostgreSQL), and the S3 store against a
real S3-speaking HTTP server (moto's standalone server on loopback)."""

import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from solvyd.server.app import create_app
from solvyd.server.artifacts import ArtifactNotFound
from solvyd.server.artifacts.s3 import S3ArtifactStore
from solvyd.server.services.artifacts import TooLarge, validate_name
from solvyd.server.services.errors import InvalidInput
from solvyd.server.settings import ServerSettings
from tests.integration.api_helpers import (
    API,
    Headers,
    Worker,
    admin_headers,
    assert_error,
    create_job,
    register_worker,
    running_build,
    set_status,
)
from tests.support.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Endpoint, s3_server

MiB = 1024 * 1024


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


async def _running_build(http: httpx.AsyncClient, admin: Headers) -> tuple[Worker, str]:
    worker, build = await running_build(http, admin, await create_job(http, admin))
    return worker, str(build["id"])


def _url(build_id: str, name: str = "") -> str:
    return f"{API}/builds/{build_id}/artifacts" + (f"/{name}" if name else "")


async def _upload(
    http: httpx.AsyncClient, worker: Worker, build_id: str, name: str, data: bytes
) -> httpx.Response:
    return await http.put(_url(build_id, name), headers=worker.headers, content=data)


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


# --- upload, list, download -------------------------------------------------------------------


async def test_upload_list_and_download_byte_for_byte(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    worker, build_id = await _running_build(client, admin)
    data = os.urandom(300_000)
    # Streamed (chunked, no Content-Length), as a large file would be.
    response = await client.put(
        _url(build_id, "dist/app.tar.gz"), headers=worker.headers, content=_chunks(data)
    )
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["name"] == "dist/app.tar.gz"
    assert record["size_bytes"] == len(data)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    await _upload(client, worker, build_id, "report.txt", b"all good\n")

    listed = (await client.get(_url(build_id), headers=admin)).json()["items"]
    assert [(a["name"], a["size_bytes"]) for a in listed] == [
        ("dist/app.tar.gz", len(data)),
        ("report.txt", 9),
    ]
    assert listed[0]["content_type"] in ("application/gzip", "application/x-tar")
    assert listed[1]["content_type"] == "text/plain"
    assert listed[0]["created_at"]

    download = await client.get(_url(build_id, "dist/app.tar.gz"), headers=admin)
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["content-length"] == str(len(data))
    assert download.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert download.headers["accept-ranges"] == "bytes"
    assert 'filename="app.tar.gz"' in download.headers["content-disposition"]


async def test_reupload_replaces_the_artifact(client: httpx.AsyncClient, admin: Headers) -> None:
    worker, build_id = await _running_build(client, admin)
    assert (await _upload(client, worker, build_id, "out.bin", b"first")).status_code == 200
    store_dir = client.app.state.ctx.settings.resolved_artifact_dir()  # type: ignore[attr-defined]
    assert len([p for p in store_dir.rglob("*") if p.is_file()]) == 1
    assert (await _upload(client, worker, build_id, "out.bin", b"second!")).status_code == 200
    listed = (await client.get(_url(build_id), headers=admin)).json()["items"]
    assert [(a["name"], a["size_bytes"]) for a in listed] == [("out.bin", 7)]
    assert (await client.get(_url(build_id, "out.bin"), headers=admin)).content == b"second!"
    # The replaced bytes are gone from the store.
    assert len([p for p in store_dir.rglob("*") if p.is_file()]) == 1


async def test_empty_artifact(client: httpx.AsyncClient, admin: Headers) -> None:
    worker, build_id = await _running_build(client, admin)
    assert (await _upload(client, worker, build_id, "empty.log", b"")).status_code == 200
    download = await client.get(_url(build_id, "empty.log"), headers=admin)
    assert download.status_code == 200
    assert download.content == b""
    assert download.headers["content-length"] == "0"


# --- ranges ----------------------------------------------------------------------------------


async def test_ranges(client: httpx.AsyncClient, admin: Headers) -> None:
    worker, build_id = await _running_build(client, admin)
    data = bytes(range(256)) * 4000  # 1,024,000 bytes
    await _upload(client, worker, build_id, "blob.bin", data)
    size = len(data)

    async def get(range_header: str) -> httpx.Response:
        return await client.get(
            _url(build_id, "blob.bin"), headers={**admin, "Range": range_header}
        )

    first = await get("bytes=10-19")
    assert first.status_code == 206
    assert first.content == data[10:20]
    assert first.headers["content-range"] == f"bytes 10-19/{size}"
    assert first.headers["content-length"] == "10"

    open_ended = await get("bytes=1000000-")
    assert open_ended.status_code == 206
    assert open_ended.content == data[1_000_000:]
    assert open_ended.headers["content-range"] == f"bytes 1000000-{size - 1}/{size}"

    suffix = await get("bytes=-100")
    assert suffix.status_code == 206
    assert suffix.content == data[-100:]
    assert suffix.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"

    past_end = await get(f"bytes=5-{size + 500}")  # the end is clipped to the size
    assert past_end.status_code == 206
    assert past_end.content == data[5:]

    unsatisfiable = await get(f"bytes={size}-")
    assert_error(unsatisfiable, 416, "range_not_satisfiable")
    assert unsatisfiable.headers["content-range"] == f"bytes */{size}"

    # Several ranges or a malformed header: the whole artifact (RFC 9110 allows ignoring them).
    for ignored in ("bytes=0-1,5-6", "bytes=abc", "items=0-5"):
        whole = await get(ignored)
        assert whole.status_code == 200, ignored
        assert whole.content == data


# --- refusals --------------------------------------------------------------------------------


async def test_size_limit_is_refused_with_413(client: httpx.AsyncClient, admin: Headers) -> None:
    worker, build_id = await _running_build(client, admin)
    client.app.state.ctx.settings.max_artifact_bytes = 1000  # type: ignore[attr-defined]
    # Declared too large: refused before the body is read.
    assert_error(await _upload(client, worker, build_id, "big.bin", b"x" * 1001), 413, "too_large")
    # Streamed without a length: refused once the limit is passed, nothing kept.
    response = await client.put(
        _url(build_id, "big.bin"), headers=worker.headers, content=_chunks(b"x" * 5000, 100)
    )
    message = assert_error(response, 413, "too_large")
    assert "1000" in message
    assert (await client.get(_url(build_id), headers=admin)).json()["items"] == []
    store_dir = client.app.state.ctx.settings.resolved_artifact_dir()  # type: ignore[attr-defined]
    assert not [p for p in store_dir.rglob("*") if p.is_file()]
    # At the limit is fine.
    assert (await _upload(client, worker, build_id, "ok.bin", b"x" * 1000)).status_code == 200


@pytest.mark.parametrize(
    "raw_name",
    ["%2E%2E/etc/passwd", "dist/%2E%2E/%2E%2E/x", "/etc/passwd", "dist%5Cx.bin", "a%00b", "a//b"],
)
async def test_bad_names_are_refused_with_422(
    client: httpx.AsyncClient, admin: Headers, raw_name: str
) -> None:
    worker, build_id = await _running_build(client, admin)
    response = await client.put(
        f"{API}/builds/{build_id}/artifacts/{raw_name}", headers=worker.headers, content=b"x"
    )
    assert_error(response, 422, "invalid")
    assert (await client.get(_url(build_id), headers=admin)).json()["items"] == []


@pytest.mark.parametrize(
    "name", ["", "..", "../x", "a/../b", "/abs", "C:/x", "a\\b", "a\x00b", "a//b", "./a", "a\nb"]
)
def test_validate_name_refuses(name: str) -> None:
    with pytest.raises(InvalidInput):
        validate_name(name)


@pytest.mark.parametrize("name", ["a", "dist/app.tar.gz", "reports/unit/junit.xml", "a b/ü.txt"])
def test_validate_name_accepts(name: str) -> None:
    assert validate_name(name) == name


async def test_only_the_worker_holding_the_build_may_upload(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    _, build_id = await _running_build(client, admin)
    other = await register_worker(client)
    assert_error(await _upload(client, other, build_id, "x.bin", b"x"), 403, "forbidden")
    # Users download; they do not upload.
    response = await client.put(_url(build_id, "x.bin"), headers=admin, content=b"x")
    assert_error(response, 403)
    assert_error(await client.get(_url(build_id)), 401)
    unknown = str(uuid.uuid4())
    assert_error(await client.get(_url(unknown), headers=admin), 404)


async def test_a_finished_build_takes_no_more_artifacts(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    worker, build_id = await _running_build(client, admin)
    await _upload(client, worker, build_id, "kept.bin", b"kept")
    assert (await set_status(client, worker, build_id, "success")).status_code == 200
    assert_error(await _upload(client, worker, build_id, "late.bin", b"late"), 409, "conflict")
    # Still downloadable.
    assert (await client.get(_url(build_id, "kept.bin"), headers=admin)).content == b"kept"
    assert_error(await client.get(_url(build_id, "missing.bin"), headers=admin), 404)


# --- the S3 store against a real S3 endpoint -------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Endpoint]:
    with s3_server() as endpoint:
        yield endpoint


def _store(s3: S3Endpoint, bucket: str) -> S3ArtifactStore:
    return S3ArtifactStore(
        bucket,
        endpoint_url=s3.url,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        prefix="solvyd",
    )


async def _read(store: S3ArtifactStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.open(key, start, end)])


async def test_s3_store_put_open_range_delete(s3: S3Endpoint, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    store = _store(s3, bucket)
    try:
        data = os.urandom(100_000)
        source = tmp_path / "f.bin"
        source.write_bytes(data)
        await store.put("builds/b1/from-file", source, len(data))
        await store.put("builds/b1/from-stream", _chunks(data, 7000), None)
        for key in ("builds/b1/from-file", "builds/b1/from-stream"):
            assert await store.size(key) == len(data)
            assert await _read(store, key) == data
            assert await _read(store, key, 10, 20) == data[10:20]
            assert await _read(store, key, 99_990) == data[99_990:]
        # Stored under the prefix.
        keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
        assert sorted(keys) == ["solvyd/builds/b1/from-file", "solvyd/builds/b1/from-stream"]

        await store.delete("builds/b1/from-file")
        await store.delete("builds/b1/from-file")  # idempotent
        with pytest.raises(ArtifactNotFound):
            await store.size("builds/b1/from-file")
        with pytest.raises(ArtifactNotFound):
            await _read(store, "builds/b1/from-file")
    finally:
        await store.close()


async def test_s3_store_failing_stream_stores_nothing(s3: S3Endpoint) -> None:
    bucket = s3.new_bucket()
    store = _store(s3, bucket)

    async def too_big() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise TooLarge("too big")

    try:
        with pytest.raises(TooLarge):
            await store.put("builds/b2/partial", too_big(), None)
        with pytest.raises(ArtifactNotFound):
            await store.size("builds/b2/partial")
    finally:
        await store.close()


async def test_s3_store_uploads_a_large_file_in_parts(s3: S3Endpoint, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    store = _store(s3, bucket)
    try:
        data = os.urandom(21 * MiB)
        source = tmp_path / "big.bin"
        source.write_bytes(data)
        await store.put("builds/b3/file", source, len(data))
        await store.put("builds/b3/stream", _chunks(data, 256 * 1024), None)
        raw = s3.client()
        for key in ("builds/b3/file", "builds/b3/stream"):
            head = raw.head_object(Bucket=bucket, Key=f"solvyd/{key}")
            # A multipart object's ETag is "<md5 of the parts' md5s>-<number of parts>".
            assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
            assert head["ContentLength"] == len(data)
            assert hashlib.sha256(await _read(store, key)).digest() == hashlib.sha256(data).digest()
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def _app_client(settings: ServerSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def test_api_round_trip_with_the_s3_store(settings: ServerSettings, s3: S3Endpoint) -> None:
    bucket = s3.new_bucket()
    s3_settings = settings.model_copy(
        update={
            "artifact_store": "s3",
            "s3_bucket": bucket,
            "s3_endpoint_url": s3.url,
            "s3_region": REGION,
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SecretStr(SECRET_KEY),
        }
    )
    async with _app_client(s3_settings) as http:
        admin = await admin_headers(http)
        worker, build_id = await _running_build(http, admin)
        data = os.urandom(200_000)
        response = await http.put(
            _url(build_id, "dist/out.bin"), headers=worker.headers, content=_chunks(data)
        )
        assert response.status_code == 200, response.text
        assert (await _upload(http, worker, build_id, "dist/out.bin", data)).status_code == 200
        download = await http.get(_url(build_id, "dist/out.bin"), headers=admin)
        assert download.content == data
        assert download.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
        ranged = await http.get(
            _url(build_id, "dist/out.bin"), headers={**admin, "Range": "bytes=-1000"}
        )
        assert ranged.status_code == 206
        assert ranged.content == data[-1000:]
    # The bytes are in the bucket, not on the server's disk; the replaced upload was deleted.
    objects: list[dict[str, Any]] = s3.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert len(objects) == 1 and objects[0]["Size"] == len(data)
    assert not (settings.data_dir / "artifacts").exists()
