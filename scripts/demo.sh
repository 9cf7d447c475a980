#!/usr/bin/env bash
# Sets up, builds (release) and runs the main job on a synthetic model (no download needed).
# Extra arguments go to `sarathi generate`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sarathi
./build/release/sarathi generate -m synthetic:llama-160m:q8_0 --temp 0 -n 48 \
  -p "Chunked prefills let decodes piggyback" "$@"
