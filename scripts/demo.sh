#!/usr/bin/env bash
# Sets up, builds (release) and runs the main job: `sarathi bench throughput` comparing the
# prefill-first `vllm` policy with stall-free `sarathi-serve` on a synthetic model of a real
# shape (random weights; no download). Extra arguments go to `sarathi bench throughput`
# (e.g. --policies vllm,orca,sarathi,sarathi-serve --num-prompts 32).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sarathi
./build/release/sarathi bench throughput -m synthetic:llama-160m:q8_0 \
  --policies vllm,sarathi-serve --num-prompts 8 --input-len 128 --output-len 32 \
  --kv-cache-memory 256MiB "$@"
