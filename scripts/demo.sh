#!/usr/bin/env bash
# Sets up, builds (release) and runs the main job: serving to a latency target on a synthetic
# model of a real shape (random weights; no download), prefill-first `vllm` against stall-free,
# SLO-driven `sarathi-serve`, on the same engine:
#   1. `sarathi bench capacity`: the highest Poisson request rate at which each policy keeps
#      P99 time-between-tokens within Sarathi-Serve's strict SLO (5x the one-sequence decode
#      step, measured here) and the median scheduling delay within 2 s;
#   2. `sarathi bench throughput` at sarathi-serve's measured capacity, for both policies:
#      TBT p99 / max, TTFT and throughput side by side under the same load.
# Every figure printed is measured in this run. About 3 minutes on 2 cores once built.
# DEMO_MODEL (default synthetic:llama-160m:q8_0) and DEMO_THREADS (default: all cores) change
# the model and threads; extra arguments go to both benchmarks (e.g. --input-len 512).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sarathi

model=${DEMO_MODEL:-synthetic:llama-160m:q8_0}
threads=${DEMO_THREADS:-0}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(-m "$model" -t "$threads" --input-len 256 --output-len 32 --kv-cache-memory 512MiB)

echo
echo "== 1/2: capacity under the strict TBT SLO (bench capacity)"
./build/release/sarathi bench capacity "${common[@]}" --policies vllm,sarathi-serve \
  --num-prompts 12 --max-probes 5 --json "$out/capacity.json" "$@"

# The SLO and sarathi-serve's capacity, from the JSON just written (the last curve's capacity).
slo_ms=$(grep -o '"tbt_slo_ms": [0-9.e+-]*' "$out/capacity.json" | head -1 | awk '{print $2}')
rate=$(grep -o '"capacity_req_s": [0-9.e+-]*' "$out/capacity.json" | tail -1 | awk '{print $2}')
if ! awk -v r="$rate" 'BEGIN { exit !(r > 0) }'; then
  echo "sarathi-serve met the SLO at no probed rate on this machine now; comparing at 1 req/s"
  rate=1
fi

echo
echo "== 2/2: the same Poisson load, ${rate} req/s (sarathi-serve's capacity), TBT SLO ${slo_ms} ms"
./build/release/sarathi bench throughput "${common[@]}" --policies vllm,sarathi-serve \
  --num-prompts 48 --request-rate "$rate" --tbt-slo "$slo_ms" "$@"
