#!/usr/bin/env bash
# Sets up, builds and runs every test:
#   1. the release build with -Werror and all ctest suites (unit, and golden against ../shared,
#      which run once per SIMD level this CPU has);
#   2. the unit suites again under ASan+UBSan;
#   3. the threaded parts (thread pool, async engine) under TSan;
#   4. a short libFuzzer run of each fuzz target.
# Exits non-zero on any failure. FUZZ_SECONDS (default 30) bounds each fuzz run;
# SARATHI_SKIP_SANITIZERS=1 skips steps 2-3.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
bash scripts/setup.sh

echo "== release build (-Werror) and all tests"
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
ctest --preset ci -j "$jobs"

if [[ "${SARATHI_SKIP_SANITIZERS:-0}" != 1 ]]; then
  echo "== ASan+UBSan: unit tests"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1 ctest --preset asan -L unit -j "$jobs"

  echo "== TSan: thread pool and async engine"
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j "$jobs" --target core_test engine_test
  ./build/tsan/tests/core_test --gtest_filter='ThreadPool*'
  ./build/tsan/tests/engine_test --gtest_filter='AsyncEngine*'
fi

# A fixed seed keeps CI reproducible; run scripts/fuzz.sh by hand to explore further.
FUZZ_ARGS="${FUZZ_ARGS:--seed=1}" bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}" all
