#!/usr/bin/env bash
# scripts/amx_check.sh: on a machine with AMX, runs what scripts/amx_pack.sh packed: every test
# binary (with the exit status, so a crash shows), `bench roofline`, then rounds of interleaved
# step timings of this build against the baseline (if packed): prefill of 512 tokens, one
# decode, 32 decodes at 512 context, per weight type, and this build's hybrid / chunk ratio
# (`bench step-cost`); and the oneDNN comparison if packed.
# Output goes to $OUT/log.txt (default build/amxcheck/log.txt) and to stdout.
#
# Usage: scripts/amx_check.sh        (from the checkout root, build/amxpack.tar.xz present)
#   ROUNDS  interleaved rounds (default 2)
#   TYPES   weight types of synthetic:tinyllama-1.1b (default "bf16 q8_0")
#   THREADS threads per run (default 2)
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$(date +%s)
elapsed() { echo "[$(( $(date +%s) - start ))s]"; }
# A fresh unpack each time, so an older pack's binaries are never timed by mistake.
if [[ -f build/amxpack.tar.xz ]]; then
  rm -rf build/amxpack
  tar -C build -xJf build/amxpack.tar.xz || exit 1
elif [[ ! -d build/amxpack ]]; then
  echo "amx_check: neither build/amxpack.tar.xz nor build/amxpack (run scripts/amx_pack.sh)" >&2
  exit 1
fi
p=build/amxpack
export LD_LIBRARY_PATH="$PWD/$p/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[[ -d $p/shared ]] && export SARATHI_TEST_DATA="$PWD/$p/shared"
out="${OUT:-build/amxcheck}"
mkdir -p "$out"
rounds="${ROUNDS:-2}"
types="${TYPES:-bf16 q8_0}"
threads="${THREADS:-2}"

test_bin() {
  echo "-- $1 $(elapsed)"
  timeout 300 "$p/$1" --gtest_brief=1 > /tmp/amx_check_test.log 2>&1
  echo "exit $?"
  grep -E "FAILED|PASSED|SKIPPED|Failure" /tmp/amx_check_test.log | head -8
}
# One line per step timing: the median and the per-operator times.
step() {
  timeout 120 "$@" 2>&1 | grep -E "median|matmul|attention|floor" | tr -s ' ' | tr '\n' '|'
  echo
}

{
  lscpu | grep -E "Model name|^CPU\(s\)|L2|L3"
  grep -o -w -E "amx_tile|amx_bf16|amx_int8|avx512_bf16|avx512_vnni" /proc/cpuinfo | sort | uniq -c
  uptime
  echo "== tests $(elapsed)"
  for t in kernels_test amx_emulate_test model_test golden_test engine_test; do
    [[ -x $p/$t ]] && test_bin "$t"
  done
  echo "== roofline $(elapsed)"
  timeout 120 "$p/sarathi" bench roofline -t "$threads" --repeats 3 --read-mib 256 --decode-mib 128
  bins=(sarathi)
  [[ -x $p/sarathi_base ]] && bins=(sarathi_base sarathi)
  for r in $(seq 1 "$rounds"); do
    echo "== round $r $(elapsed)"
    for ty in $types; do
      m="synthetic:tinyllama-1.1b:$ty"
      for b in "${bins[@]}"; do
        echo -n "$ty prefill 512, $b: "
        step "$p/$b" bench ops -m "$m" -t "$threads" --chunk 512 --decodes 0 --context 0 --repeats 2
        echo -n "$ty 1 decode, $b: "
        step "$p/$b" bench ops -m "$m" -t "$threads" --chunk 0 --decodes 1 --context 16 --repeats 5 \
          $([[ $b == sarathi ]] && echo --roofline)
        echo -n "$ty 32 decodes at 512, $b: "
        step "$p/$b" bench ops -m "$m" -t "$threads" --chunk 0 --decodes 32 --context 512 --repeats 3 \
          $([[ $b == sarathi ]] && echo --roofline)
      done
      # The SARATHI hybrid step (a 256-token chunk with 31 decodes at 1024 riding along) against
      # the chunk alone: the last column of the B = 32 row.
      echo -n "$ty hybrid / chunk at 1024, sarathi: "
      timeout 180 "$p/sarathi" bench step-cost -m "$m" -t "$threads" --batch-sizes 32 \
        --chunk-sizes 256 --context-lens 1024 --repeats 3 2>&1 | tail -1
    done
  done
  if [[ -x $p/sarathi_onednn_bench ]]; then
    echo "== oneDNN $(elapsed)"
    OMP_NUM_THREADS="$threads" timeout 120 "$p/sarathi_onednn_bench" "$threads"
  fi
  echo "== end $(elapsed)"
} 2>&1 | tee "$out/log.txt"
