# Solvyd's server and agent image (docs/deploy-image.md): the UI built in a Node stage, the wheel
# (carrying the UI) built in a Python stage, then installed into a venv in a slim final stage.
#   docker build -t solvyd/solvyd:0.1.0 .     official bases, from Docker Hub
#   scripts/build-image.sh solvyd:latest      no registry: bases made here (scripts/base-images.sh)
#   docker run IMAGE                          the server on 0.0.0.0:8080
#   docker run IMAGE agent --server URL       an agent
# Written for the legacy builder too (no BuildKit-only syntax): some Docker hosts have no buildx.
# Dependency layers come before the source copies, so a change to src/ reinstalls only the wheel.

ARG NODE_IMAGE=node:20-bookworm-slim
ARG PYTHON_IMAGE=python:3.12-slim-bookworm
# The uv that exports uv.lock's requirements and builds the wheel (the Makefile's UV_VERSION).
ARG UV_VERSION=0.13.9

FROM ${NODE_IMAGE} AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/index.html web/vite.config.ts web/tsconfig.json ./
COPY web/public ./public
COPY web/src ./src
RUN npm run build

FROM ${PYTHON_IMAGE} AS wheel
ARG UV_VERSION
# A base without Python (a bare Debian) gets Debian's.
RUN command -v python3 > /dev/null || { apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         python3 python3-venv ca-certificates > /dev/null && rm -rf /var/lib/apt/lists/*; } \
 && python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check --quiet "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock ./
# The runtime dependencies pinned by uv.lock, for the final stage's cached layer.
RUN /opt/uv/bin/uv export --frozen --no-dev --no-hashes --no-emit-project --quiet \
      --output-file /src/requirements.txt
COPY README.md hatch_build.py ./
COPY src ./src
# The UI built above: with web/dist present and no UI sources here, hatch_build.py needs no npm.
COPY --from=web /src/web/dist ./web/dist
RUN /opt/uv/bin/uv build --wheel --out-dir /wheels --quiet

FROM ${PYTHON_IMAGE}
# Python from Debian when the base has none; git for the agent's checkouts.
RUN apt-get update -qq \
 && if command -v python3 > /dev/null; then extra=""; else extra="python3 python3-venv"; fi \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      git ca-certificates $extra > /dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --create-home --home-dir /var/lib/solvyd \
      --shell /usr/sbin/nologin solvyd \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/solvyd/data /var/lib/solvyd/work
COPY --from=wheel /src/requirements.txt /opt/solvyd-requirements.txt
RUN python3 -m venv /opt/solvyd \
 && /opt/solvyd/bin/pip install --no-cache-dir --disable-pip-version-check --quiet \
      -r /opt/solvyd-requirements.txt
COPY --from=wheel /wheels /opt/solvyd-wheels
RUN /opt/solvyd/bin/pip install --no-cache-dir --disable-pip-version-check --quiet --no-deps \
      /opt/solvyd-wheels/solvyd-*.whl \
 && rm -rf /opt/solvyd-wheels
COPY docker/healthcheck.py /opt/solvyd/healthcheck.py

ENV PATH=/opt/solvyd/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SOLVYD_DATA_DIR=/var/lib/solvyd/data \
    SOLVYD_WORK_DIR=/var/lib/solvyd/work \
    SOLVYD_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/solvyd
EXPOSE 8080
# A server's /healthz; an agent's container is healthy while its process runs (healthcheck.py).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/opt/solvyd/bin/python", "/opt/solvyd/healthcheck.py"]
ENTRYPOINT ["solvyd"]
CMD ["server", "--host", "0.0.0.0", "--port", "8080"]
