#!/usr/bin/env bash
# Known vulnerabilities in the locked dependencies (every group of uv.lock, hashes pinned):
# pip-audit asks PyPI's advisory data about each release. Solvyd itself is not on PyPI and is
# left out. Fails on any vulnerability, and on any release it could not look up (--strict).
#
# PyPI answers per release at https://pypi.org/pypi/<name>/<version>/json. Behind a mirror or
# proxy that serves only the package index, that address is missing and nothing can be
# audited: then this says so loudly and fails only when SOLVYD_AUDIT_REQUIRED=1.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-uv}"

requirements="$(mktemp)"
trap 'rm -f "$requirements"' EXIT
"$UV" export --frozen --quiet --format requirements-txt --no-emit-project --all-groups \
  -o "$requirements"

if ! "$UV" run --frozen python - <<'PY'
import importlib.metadata
import sys
import urllib.request

version = importlib.metadata.version("pip-audit")
url = f"https://pypi.org/pypi/pip-audit/{version}/json"
try:
    with urllib.request.urlopen(url, timeout=15) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except OSError as exc:
    print(f"audit-deps: {url}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
then
  echo "audit-deps: PyPI's per-release advisory data does not answer from this machine;" >&2
  echo "audit-deps: the dependencies were NOT audited for known vulnerabilities." >&2
  [[ "${SOLVYD_AUDIT_REQUIRED:-}" == 1 ]] && exit 1
  exit 0
fi
"$UV" run --frozen pip-audit --strict --require-hashes --disable-pip --progress-spinner off \
  -r "$requirements"
