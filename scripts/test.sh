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
stages=() stage_start=$SECONDS
stage() {  # starts a stage: closes the previous one's timing, prints the new one's title
  ((${#stages[@]} == 0)) || stages[-1]+=$'\t'"$((SECONDS - stage_start))"
  stages+=("$1") stage_start=$SECONDS
  echo "== $1"
}
timings() {
  stage "done"
  local s
  echo "test.sh: timings (m:ss)"
  for s in "${stages[@]::${#stages[@]}-1}"; do
    printf '  %-50s %3d:%02d\n' "${s%$'\t'*}" "$((${s##*$'\t'} / 60))" "$((${s##*$'\t'} % 60))"
  done
  printf '  %-50s %3d:%02d\n' total "$((SECONDS / 60))" "$((SECONDS % 60))"
}
trap timings EXIT

stage "setup"
bash scripts/setup.sh

stage "release build (-Werror)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
stage "release: all tests"
ctest --preset ci -j "$jobs"

if [[ "${SARATHI_SKIP_SANITIZERS:-0}" != 1 ]]; then
  stage "ASan+UBSan build"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  stage "ASan+UBSan: unit tests"
  ASAN_OPTIONS=detect_leaks=1 ctest --preset asan -L unit -j "$jobs"

  stage "TSan: thread pool and async engine"
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j "$jobs" --target core_test engine_test
  ./build/tsan/tests/core_test --gtest_filter='ThreadPool*'
  ./build/tsan/tests/engine_test --gtest_filter='AsyncEngine*'
fi

# A fixed seed keeps CI reproducible; run scripts/fuzz.sh by hand to explore further.
stage "fuzz (${FUZZ_SECONDS:-30} s per target)"
FUZZ_ARGS="${FUZZ_ARGS:--seed=1}" bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}" all
