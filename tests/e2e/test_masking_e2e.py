"""Masking end to end, the forms a step really prints: a real agent runs real shell and
python3 steps that print secrets wrapped in base64 (`base64` at 76 characters, `openssl base64`
at 64, after prefixes of 0 to 2 bytes), quoted by bash and Python, split by a colour code, and
as the name of an artifact. Neither the stored log (as stored and as the `strip_ansi` download),
the artifacts API, the download's `Content-Disposition`, nor the server's or the agent's own
output holds any of it."""

import base64
import json
import random
import re
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi
from tests.support.processes import Process, ServerProcess, start_agent

pytestmark = pytest.mark.e2e

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+=.:@"
_rng = random.Random(uuid.uuid4().int)
# Long values for base64: their names say their length in bytes.
LONG = {f"LONG_{n}": "".join(_rng.choice(_ALPHABET) for _ in range(n)) for n in (49, 57, 100, 200)}
QUOTED = 'it\'s a "quoted" \\ value with $dollar, `ticks` and \u00e9t\u00e9 ' + uuid.uuid4().hex
NAME = f"artifact-{uuid.uuid4().hex[:12]}"
SECRETS = {**LONG, "QUOTED": QUOTED, "ART_NAME": NAME}

_WRAPPERS = ("base64", "openssl base64")
_PREFIXES = ("", "u", "us")
COMMANDS = [
    *(
        f"printf '{prefix}%s!' \"${name}\" | {wrapper}"
        for name in LONG
        for wrapper in _WRAPPERS
        for prefix in _PREFIXES
    ),
    # Steps run under sh; these need bash.
    *(
        f"bash -c {shlex.quote(script)}"
        for script in (
            "declare -p QUOTED; set | grep -a '^QUOTED='; printf '%q\\n' \"$QUOTED\"",
            "LC_ALL=C; declare -p QUOTED; set | grep -a '^QUOTED='",
            'printf "colour: %s\\033[0m%s\\n" "${LONG_100:0:10}" "${LONG_100:10}"',
            'printf "\\033[32mgreen\\033[0m %s\\033[1m%s\\033[0m done\\n" '
            '"${QUOTED:0:12}" "${QUOTED:12}"',
        )
    ),
    'python3 -c \'import json, os; s = os.environ["QUOTED"]; '
    "print(repr(s), json.dumps(s), ascii(s), repr(s.encode())); print(os.environ)'",
    'mkdir -p dist && echo built > "dist/$ART_NAME.txt" && ls dist',
]
BASE64_COMMANDS = len(LONG) * len(_WRAPPERS) * len(_PREFIXES)
PIPELINE = {
    "artifacts": ["dist/*"],
    "steps": [{"name": "leak", "secrets": sorted(SECRETS), "commands": COMMANDS}],
}


def _fragments(value: str) -> list[str]:
    """The base64 characters a value's bytes alone decide, at each byte offset and alphabet."""
    data = value.encode()
    found = []
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            encoded = encode(b"\0" * offset + data).decode()
            found.append(encoded[-(-8 * offset // 6) : 8 * (offset + len(data)) // 6])
    return found


def _quoted(value: str) -> list[str]:
    inner = [
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        ascii(value)[1:-1],
        repr(value.encode())[2:-1],
        shlex.quote(value)[1:-1],
        re.sub(r'([\\"$`])', r"\\\1", value),
    ]
    words = [word for word in re.split(r"[\s\"'\\`$,]", value) if len(word) >= 6]
    return [value, *inner, *words]


def _leaks(text: str) -> list[str]:
    """What of a secret `text` shows, by kind (never the value itself, so a failure prints
    nothing secret)."""
    leaks = []
    for name, value in SECRETS.items():
        if any(form in text for form in _quoted(value)):
            leaks.append(f"{name}: a raw or quoted form")
        for fragment in _fragments(value):
            pieces = {fragment[i : i + 8] for i in range(len(fragment) - 7)}
            if any(piece in text for piece in pieces):
                leaks.append(f"{name}: 8 base64 characters of it")
                break
    return leaks


def _decodes_to_a_secret(log: str) -> bool:
    """Whether the base64 lines that follow one another, joined, give a secret back."""
    block: list[str] = []
    for line in [*log.splitlines(), ""]:
        if re.fullmatch(r"[A-Za-z0-9+/=*]+", line):
            block.append(line)
            continue
        joined = "".join(block)
        block = []
        for fill in range(4):
            text = joined.replace("***", "A" * fill).rstrip("=")
            text += "A" * (-len(text) % 4)
            decoded = base64.b64decode(text) if text else b""
            if any(value[2:-2].encode() in decoded for value in LONG.values()):
                return True
    return False


@pytest.fixture
def agent(server: ServerProcess, log_dir: Path, tmp_path: Path) -> Iterator[Process]:
    process = start_agent(server.url, log_dir, tmp_path / "work", name="masking-agent")
    yield process
    process.stop()


def test_what_steps_print_wrapped_quoted_or_coloured_is_masked(
    server: ServerProcess, api: UserApi, agent: Process
) -> None:
    job = api.create_job(f"masking-{uuid.uuid4().hex[:8]}", json.dumps(PIPELINE))
    for name, value in SECRETS.items():
        response = api.http.put(f"/jobs/{job['id']}/secrets/{name}", json={"value": value})
        assert response.status_code == 201, response.text
    build = api.trigger(job["id"])
    finished = api.wait_for_finish(build["id"], timeout=90)
    assert finished["status"] == "success", api.log_text(build["id"])[-3000:]

    stored = api.log_text(build["id"])
    stripped = api.http.get(
        f"/builds/{build['id']}/logs", params={"format": "text", "strip_ansi": "true"}
    ).text
    # The steps did print them (masked), and colours outside the secrets stayed.
    assert stored.count("***") >= BASE64_COMMANDS
    assert 'declare -x QUOTED="***"' in stored
    assert "colour: ***\n" in stripped
    # The reset inside the value went with it; the colours around it stayed.
    assert "\x1b[32mgreen\x1b[0m ***\x1b[0m done" in stored.splitlines()
    assert "uploaded dist/***.txt" in stored
    for where, text in (("stored log", stored), ("strip_ansi download", stripped)):
        assert _leaks(text) == [], where
    assert not _decodes_to_a_secret(stripped)

    artifacts = api.http.get(f"/builds/{build['id']}/artifacts").json()["items"]
    assert [item["name"] for item in artifacts] == ["dist/***.txt"]
    download = api.http.get(f"/builds/{build['id']}/artifacts/dist/***.txt")
    assert download.status_code == 200 and download.content == b"built\n"
    assert _leaks(download.headers["content-disposition"]) == []
    assert _leaks(json.dumps(artifacts)) == []

    assert "dist/***.txt" in agent.output()
    assert _leaks(agent.output()) == [], "the agent's output"
    assert _leaks(server.process.output()) == [], "the server's output"
