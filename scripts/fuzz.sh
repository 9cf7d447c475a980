#!/usr/bin/env bash
# scripts/fuzz.sh: builds gguf_fuzz with the `fuzz` preset (clang, libFuzzer, ASan+UBSan), writes
# a seed corpus with gguf_seeds, and fuzzes the GGUF parser for a fixed time.
# Exits non-zero if the build fails or the fuzzer finds a crash (the input is saved under
# <build>/fuzz-work/artifacts/).
#
# Usage: scripts/fuzz.sh [seconds]
#   seconds          run time (default: $FUZZ_SECONDS, else 30)
#   FUZZ_BUILD_DIR   build folder (default: build/fuzz)
#   FUZZ_JOBS        build parallelism (default: 2)
#   FUZZ_MAX_LEN     largest input libFuzzer generates, in bytes (default: 16384)
#   FUZZ_ARGS        extra libFuzzer flags, e.g. "-jobs=4 -seed=1"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-${FUZZ_SECONDS:-30}}"
build="${FUZZ_BUILD_DIR:-$root/build/fuzz}"
jobs="${FUZZ_JOBS:-2}"
max_len="${FUZZ_MAX_LEN:-16384}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
  echo "usage: $0 [seconds]   (a positive whole number, got '$seconds')" >&2
  exit 2
fi

cd "$root"
cmake --preset fuzz -B "$build"
cmake --build "$build" --target gguf_fuzz gguf_seeds -j "$jobs"

work="$build/fuzz-work"
seeds="$work/seeds"
corpus="$work/corpus"       # grows across runs; new interesting inputs land here
artifacts="$work/artifacts"
rm -rf "$seeds"
mkdir -p "$seeds" "$corpus" "$artifacts"
"$build/fuzz/gguf_seeds" "$seeds"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
if "$build/fuzz/gguf_fuzz" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} \
    "$corpus" "$seeds"; then
  echo "fuzz.sh: no crash in ${seconds}s (corpus: $corpus)"
else
  status=$?
  echo "fuzz.sh: gguf_fuzz failed (exit $status); reproducer(s) in $artifacts:" >&2
  ls -l "$artifacts" >&2 || true
  exit "$status"
fi
