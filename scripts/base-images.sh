#!/usr/bin/env bash
# Make the container image's base images here, without any registry (docs/deploy-image.md):
#   solvyd-base/debian:bookworm   a Debian bookworm minbase root (debootstrap), `docker import`ed
#   solvyd-base/python:bookworm   that + Debian's python3 and python3-venv (3.11)
#   solvyd-base/node:20-bookworm  that debian base + this machine's Node.js 20 (the files of its
#                                 Debian package `nodejs`, NodeSource's 20.x: bookworm's own
#                                 nodejs is 18 and the UI's vite needs Node >= 20.19)
# Idempotent: an image that already exists is left alone, so the minutes of debootstrap are paid
# once per machine. The Dockerfile takes them as
#   --build-arg NODE_IMAGE=solvyd-base/node:20-bookworm --build-arg PYTHON_IMAGE=solvyd-base/python:bookworm
set -euo pipefail

DEBIAN_IMAGE="${SOLVYD_BASE_DEBIAN:-solvyd-base/debian:bookworm}"
PYTHON_IMAGE="${SOLVYD_BASE_PYTHON:-solvyd-base/python:bookworm}"
NODE_IMAGE="${SOLVYD_BASE_NODE:-solvyd-base/node:20-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HOST_CA_BUNDLE="${SOLVYD_BASE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
IMAGE_CA_BUNDLE=/etc/ssl/solvyd-host-ca-bundle.crt

# One run at a time: CI starts this in the background and the image test runs it again, which
# then waits here and finds the images made.
exec 9> "${TMPDIR:-/tmp}/solvyd-base-images.lock"
flock 9

have() { docker image inspect "$1" > /dev/null 2>&1; }
say() { echo "base-images: $*" >&2; }
# `docker build`, its output shown only when it fails (the legacy builder's notices are noise).
build() {
  docker build --quiet --force-rm "$@" > "$work/build.log" 2>&1 || {
    tail -n 30 "$work/build.log" >&2
    return 1
  }
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! have "$DEBIAN_IMAGE"; then
  command -v debootstrap > /dev/null || { say "no debootstrap (apt-get install debootstrap)"; exit 1; }
  say "debootstrap bookworm from $MIRROR (a few minutes, once)"
  root="$work/root"
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" > "$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
  }
  # The image's apt sees the same suites a stock Debian image does; no package lists shipped.
  cat > "$root/etc/apt/sources.list" << EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
  # The images built from these bases trust what this machine trusts: its HTTPS may go through
  # a proxy whose CA is only in its bundle (npm ci and pip install in `docker build` need it).
  # Kept apart from Debian's own bundle, which the ca-certificates package rewrites.
  mkdir -p "$root$(dirname "$IMAGE_CA_BUNDLE")"
  cp "$HOST_CA_BUNDLE" "$root$IMAGE_CA_BUNDLE"
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "ENV SSL_CERT_FILE=$IMAGE_CA_BUNDLE" \
    --change "ENV NODE_EXTRA_CA_CERTS=$IMAGE_CA_BUNDLE" \
    --change "ENV PIP_CERT=$IMAGE_CA_BUNDLE" \
    --change 'CMD ["/bin/bash"]' - "$DEBIAN_IMAGE" > /dev/null
  say "built $DEBIAN_IMAGE"
fi

if ! have "$PYTHON_IMAGE"; then
  build --tag "$PYTHON_IMAGE" --build-arg "BASE=$DEBIAN_IMAGE" - << 'EOF'
ARG BASE
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-venv ca-certificates > /dev/null \
 && rm -rf /var/lib/apt/lists/*
EOF
  say "built $PYTHON_IMAGE"
fi

if ! have "$NODE_IMAGE"; then
  node_version="$(dpkg-query -W -f '${Version}' nodejs 2> /dev/null || true)"
  case "$node_version" in
    2[0-9].* | [3-9][0-9].*) ;;
    *)
      say "needs Debian package nodejs >= 20 on this machine (found '${node_version:-none}')"
      exit 1
      ;;
  esac
  # The package's own files (not its directories: the base has /usr, /usr/bin...), as a tar the
  # build unpacks over the Debian root. Node itself needs only libc and libstdc++ (in minbase).
  # npm and corepack are taken whole as they are now: a global `npm install -g npm` replaces
  # the package's npm with files dpkg does not list.
  mkdir -p "$work/ctx"
  dpkg-query -L nodejs | while read -r path; do
    if [[ "$path" != /usr/lib/node_modules/* && (-f "$path" || -L "$path") ]]; then
      printf '%s\n' "${path#/}"
    fi
  done > "$work/files"
  tar -C / -cf "$work/ctx/nodejs.tar" --no-recursion -T "$work/files"
  tar -C / -rf "$work/ctx/nodejs.tar" usr/lib/node_modules/npm usr/lib/node_modules/corepack
  cat > "$work/ctx/Dockerfile" << 'EOF'
ARG BASE
FROM ${BASE}
ADD nodejs.tar /
RUN node --version && npm --version
EOF
  build --tag "$NODE_IMAGE" --build-arg "BASE=$DEBIAN_IMAGE" "$work/ctx"
  say "built $NODE_IMAGE (Node.js $node_version from this machine's package)"
fi
