#!/usr/bin/env bash
# Regenerate the web UI's API types from the server's OpenAPI document: web/openapi.json (a
# test checks it matches the server) and web/src/api/schema.d.ts (tsc checks the UI against it).
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.tools/bin/uv}
"$UV" run --frozen python - > web/openapi.json <<'PY'
import json

from solvyd.server.app import create_app
from solvyd.server.settings import ServerSettings

print(json.dumps(create_app(ServerSettings()).openapi(), indent=1, sort_keys=True))
PY
(cd web && npx --no-install openapi-typescript openapi.json -o src/api/schema.d.ts > /dev/null)
echo "web/openapi.json and web/src/api/schema.d.ts regenerated"
