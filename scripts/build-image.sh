#!/usr/bin/env bash
# Build Solvyd's image here, where no registry is reachable: the bases made by
# scripts/base-images.sh (once per machine), then the Dockerfile (docs/deploy-image.md).
#   scripts/build-image.sh [TAG]      (default solvyd:latest)
# Extra `docker build` arguments may follow the tag, e.g. --network host.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${1:-solvyd:latest}"
shift || true

# One build at a time (CI starts one in the background, the image test another): the second
# waits here, then finds every layer cached.
exec 9> "${TMPDIR:-/tmp}/solvyd-build-image.lock"
flock 9

scripts/base-images.sh
docker build --force-rm \
  --build-arg NODE_IMAGE="${SOLVYD_BASE_NODE:-solvyd-base/node:20-bookworm}" \
  --build-arg PYTHON_IMAGE="${SOLVYD_BASE_PYTHON:-solvyd-base/python:bookworm}" \
  --tag "$TAG" "$@" .
