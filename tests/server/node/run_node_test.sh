#!/usr/bin/env bash
# Starts `sarathi serve` (tiny synthetic model) on a free port, installs the pinned OpenAI Node
# SDK (npm ci) and runs the node test against it, then stops the server with SIGTERM.
# Usage: run_node_test.sh path/to/sarathi. Skips (exit 0 with a message) without node/npm.
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node/npm not installed (scripts/setup.sh installs them); OpenAI SDK test not run"
  exit 0
fi
if [[ ! -d $here/node_modules/openai ]] || [[ $here/package-lock.json -nt $here/node_modules ]]; then
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
fi
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
  console.log(s.address().port); s.close(); });')
log=$(mktemp)
"$bin" serve -m synthetic:tiny:q8_0 --served-model-name tiny --port "$port" --threads 1 \
  --kv-cache-memory 64MiB 2>"$log" &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT
for _ in $(seq 1 300); do
  if curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$log"; echo "serve exited"; exit 1; fi
  sleep 0.1
done
cd "$here"
SARATHI_BASE_URL="http://127.0.0.1:$port" SARATHI_MODEL=tiny node --test openai_sdk.test.js
