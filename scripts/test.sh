#!/usr/bin/env bash
# Sets up, builds and runs every test: the ctest suites (unit, and golden against ../shared,
# which run once per SIMD level this CPU has) and a short libFuzzer run of the GGUF parser.
# Exits non-zero on any failure. FUZZ_SECONDS (default 30) bounds the fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
bash scripts/setup.sh

preset=ci
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs"

FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash scripts/fuzz.sh
