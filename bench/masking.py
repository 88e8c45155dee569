"""The log masker's throughput: lines per second through `shared.redaction.Masker`.

The masker sits on the agent's log path (every line a step prints) and on the server's ingest,
so its cost per line is the cost of a log line. The benchmark builds one masker with 20 secrets
of 10 to 200 characters (what a job with many credentials has), then masks a fixed corpus of
ordinary build output (compiler and test lines, paths, hashes, URLs, long base64 blobs) in
which a few lines hold a secret or one of its forms. It reports lines/s and the time to build
the masker (done once per build), in CPU time of this process (so other load on the machine
matters less). Pure CPU, no server: run it A/B with each checkout's own
interpreter on the same machine, e.g. `other/.venv/bin/python bench/masking.py`.
Prints one JSON line on stdout.
Usage: python bench/masking.py [--secrets 20] [--lines 200000] [--repeat 5]
"""

import argparse
import base64
import hashlib
import json
import random
import statistics
import time

from solvyd.shared.redaction import Masker

_WORDS = [
    *("compiling", "building", "linking", "test", "passed", "failed", "warning", "error"),
    *("ok", "collected", "items", "src", "lib", "module", "function", "return", "value"),
    *("none", "true", "false", "import", "from", "install", "requirement", "already"),
    *("satisfied", "downloading", "wheel", "step", "cache", "hit", "miss", "layer"),
    *("pushing", "digest", "sha256", "elapsed"),
]


def _secrets(count: int, rng: random.Random) -> list[str]:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/+=.:@ '\"\\"
    lengths = [10, 16, 24, 32, 40, 48, 49, 57, 64, 100, 200]
    return [
        "".join(rng.choice(alphabet) for _ in range(lengths[i % len(lengths)]))
        for i in range(count)
    ]


def _corpus(lines: int, secrets: list[str], rng: random.Random) -> list[str]:
    corpus = []
    for i in range(lines):
        kind = i % 10
        if kind < 5:
            text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 14)))
        elif kind == 5:
            path = f"src/solvyd/pkg_{i % 97}/module_{i % 13}.py"
            text = f"{path}:{i % 400}: note: {rng.choice(_WORDS)}"
        elif kind == 6:
            text = f"digest: sha256:{hashlib.sha256(str(i).encode()).hexdigest()}"
        elif kind == 7:
            text = base64.b64encode(rng.randbytes(57)).decode()  # a line of `base64` output
        elif kind == 8:
            text = f"GET https://example.com/api/v1/items/{i}?page={i % 7} 200 {i % 1000}ms"
        else:
            text = f"[{i:08d}] \x1b[32mPASSED\x1b[0m tests/unit/test_{i % 50}.py::test_case_{i}"
        if i % 1000 == 999:
            text += f" leaked {secrets[i % len(secrets)]}"
        corpus.append(text)
    return corpus


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secrets", type=int, default=20)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(14)
    secrets = _secrets(args.secrets, rng)
    corpus = _corpus(args.lines, secrets, rng)

    started = time.process_time()
    masker = Masker(secrets)
    build_seconds = time.process_time() - started

    rates = []
    masked = 0
    for _ in range(args.repeat):
        started = time.process_time()
        out = [masker(line) for line in corpus]
        rates.append(len(corpus) / (time.process_time() - started))
        masked = sum(1 for a, b in zip(corpus, out, strict=True) if a != b)
    print(
        json.dumps(
            {
                "benchmark": "masking",
                "secrets": args.secrets,
                "lines": args.lines,
                "lines_per_second_median": round(statistics.median(rates)),
                "lines_per_second_max": round(max(rates)),
                "masker_build_ms": round(build_seconds * 1000, 1),
                "lines_masked": masked,
            }
        )
    )


if __name__ == "__main__":
    main()
