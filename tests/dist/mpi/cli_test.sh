#!/usr/bin/env bash
# `sarathi` under mpirun (pipeline parallelism). Usage: cli_test.sh MPIRUN SARATHI
#  - generate with 2 and 3 stages prints exactly what one process prints (greedy and seeded);
#    serve with 2 stages answers completions exactly as serve alone does;
#  - bench throughput prints a stage table with one column group per stage;
#  - bad --pipeline-parallel-size (no mpirun, not the launcher's process count, more stages than
#    layers), a command without pipeline parallelism under mpirun, a missing model and a stage
#    that fails to load: a clear error and a non-zero exit, every rank gone;
#  - a rank killed mid-run (the last one, or rank 0): every rank exits within seconds, non-zero.
set -u
mpirun=$1
bin=$2
here=$(cd "$(dirname "$0")" && pwd)
run=(bash "$here/mpirun.sh" "$mpirun")  # run N COMMAND...: under mpirun with N processes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
say_fail() { echo "FAIL $*"; fail=1; }

check() {  # check NAME EXPECTED_RC PATTERN -- command... (RC "nz": any non-zero; 60 s at most)
  local name=$1 want_rc=$2 pattern=$3
  shift 4
  local out rc
  out=$(timeout 60 "$@" 2>&1)
  rc=$?
  local rc_ok=0
  if [[ $want_rc == nz ]]; then [[ $rc -ne 0 && $rc -ne 124 ]] && rc_ok=1
  else [[ $rc -eq $want_rc ]] && rc_ok=1; fi
  if [[ $rc_ok -ne 1 ]] || ! grep -qE -- "$pattern" <<<"$out"; then
    say_fail "$name: rc=$rc (want $want_rc), output:"
    echo "$out" | head -30
  else
    echo "ok   $name"
  fi
}

same() {  # same NAME ARGS... : generate alone and with 2 and 3 stages print the same text
  local name=$1
  shift
  local ref got np
  ref=$("$bin" generate -m synthetic:tiny-4l:q8_0 -t 1 "$@" 2>/dev/null)
  [[ -n "$ref" ]] || { say_fail "$name: generate alone printed nothing"; return; }
  for np in 2 3; do
    got=$(timeout 60 "${run[@]}" "$np" "$bin" generate \
      -m synthetic:tiny-4l:q8_0 -t 1 "$@" --pipeline-parallel-size "$np" 2>/dev/null)
    if [[ "$got" == "$ref" ]]; then echo "ok   $name ($np stages)"
    else say_fail "$name ($np stages): got '$got', want '$ref'"; fi
  done
}

same generate-greedy -p "Pipelines of micro-batches" -n 24 --temp 0 --ignore-eos
same generate-seeded -p "Seeded sampling" -n 24 --temp 0.9 --seed 11 --ignore-eos --chunk-size 5

check throughput-stages 0 "s1 compute .* bubble" -- "${run[@]}" 2 "$bin" bench throughput \
  -m synthetic:tiny-4l:q8_0 -t 1 --policies vllm,sarathi --num-prompts 6 --input-len 40 \
  --output-len 8 --pipeline-parallel-size 2
check no-launcher 2 "start it with mpirun -np 2" -- "$bin" generate -m synthetic:tiny -p hi \
  --pipeline-parallel-size 2
check wrong-world-size 2 "needs 3 MPI processes, but the launcher started 2" -- "${run[@]}" 2 "$bin" \
  generate -m synthetic:tiny -p hi --pipeline-parallel-size 3
check more-stages-than-layers 1 "--pipeline-parallel-size 3 is more stages than the model's 2 layers" \
  -- "${run[@]}" 3 "$bin" generate -m synthetic:tiny -p hi --pipeline-parallel-size 3
check alone-command 2 "runs in one process, but an MPI launcher started 2" -- "${run[@]}" 2 "$bin" \
  bench ops -m synthetic:tiny
check missing-model 1 "error: .*nonexistent" -- "${run[@]}" 2 "$bin" generate -m /nonexistent/x.gguf \
  -p hi --pipeline-parallel-size 2

# A GGUF whose last layer lacks a tensor: stage 1 (layers [2, 4)) fails, stage 0 loads.
"$bin" export -m synthetic:tiny-4l:f32 -o "$tmp/broken.gguf" >/dev/null 2>&1 ||
  say_fail "export of the test model failed"
offset=$(grep -obUa "blk.3.ffn_down.weight" "$tmp/broken.gguf" | head -1 | cut -d: -f1)
if [[ -n "$offset" ]]; then
  printf 'X' | dd of="$tmp/broken.gguf" bs=1 seek=$((offset + 20)) conv=notrunc status=none
  check stage-fails-to-load 1 \
    "pipeline stage 1 \(rank 1, layers \[2, 4\)\) failed to load: .*missing tensor blk.3.ffn_down.weight" \
    -- "${run[@]}" 2 "$bin" generate -m "$tmp/broken.gguf" -p hi --pipeline-parallel-size 2
else
  say_fail "no tensor name found in the exported model"
fi

# serve with 2 stages answers exactly as serve alone (greedy and seeded completions).
serve_answers() {  # serve_answers NP LOG: starts serve (under mpirun if NP > 1), prints answers
  local np=$1 log=$2 pid port="" i body
  if [[ $np -gt 1 ]]; then
    "${run[@]}" "$np" "$bin" serve -m synthetic:tiny-4l:q8_0 -t 1 \
      --port 0 --pipeline-parallel-size "$np" >"$log" 2>&1 &
  else
    "$bin" serve -m synthetic:tiny-4l:q8_0 -t 1 --port 0 >"$log" 2>&1 &
  fi
  pid=$!
  for i in $(seq 1 300); do
    port=$(grep -oE "listening on http://127.0.0.1:[0-9]+" "$log" | grep -oE "[0-9]+$")
    if [[ -n "$port" ]] && curl -sf "http://127.0.0.1:$port/health" >/dev/null; then break; fi
    sleep 0.1
  done
  for body in '{"prompt": [5, 80, 17, 230, 41], "max_tokens": 16, "temperature": 0}' \
              '{"prompt": "pipelines", "max_tokens": 16, "temperature": 0.8, "seed": 5}'; do
    curl -s "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
      -d "$body" | grep -oE '"text": *"[^"]*"'
  done
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "serve still running 10 s after SIGTERM"; kill -9 "$pid"; fi
  wait "$pid" 2>/dev/null
}
alone=$(serve_answers 1 "$tmp/serve1.log")
piped=$(serve_answers 2 "$tmp/serve2.log")
if [[ -n "$alone" && "$alone" == "$piped" && $(grep -c text <<<"$alone") -eq 2 ]]; then
  echo "ok   serve-2-stages"
else
  say_fail "serve-2-stages: alone '$alone', with 2 stages '$piped'"
  tail -5 "$tmp/serve2.log"
fi

# A rank that dies mid-run: every rank exits within seconds, non-zero, and says why.
kill_rank() {  # kill_rank NAME RANK
  local name=$1 victim_rank=$2 log="$tmp/kill$2.log" pid child victim="" start rc i state
  "${run[@]}" 2 "$bin" bench throughput -m synthetic:tiny-4l:q8_0 -t 1 --policies sarathi-serve \
    --num-prompts 100000 --input-len 64 --output-len 64 --pipeline-parallel-size 2 \
    >"$log" 2>&1 &
  pid=$!
  local ranks=()
  for i in $(seq 1 100); do
    ranks=()
    for child in $(pgrep -P "$pid"); do
      if tr '\0' '\n' <"/proc/$child/environ" 2>/dev/null | grep -q '^OMPI_COMM_WORLD_RANK='; then
        ranks+=("$child")
        if tr '\0' '\n' <"/proc/$child/environ" | grep -q "^OMPI_COMM_WORLD_RANK=$victim_rank\$"; then
          victim=$child
        fi
      fi
    done
    [[ ${#ranks[@]} -eq 2 && -n "$victim" ]] && break
    sleep 0.1
  done
  if [[ -z "$victim" ]]; then
    say_fail "$name: rank $victim_rank of the run never appeared"
    kill -9 "$pid" 2>/dev/null
    return
  fi
  sleep 3  # well into the run
  kill -9 "$victim"
  start=$SECONDS
  for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say_fail "$name: still running 20 s after rank $victim_rank was killed"
    kill -9 "$pid" "${ranks[@]}" 2>/dev/null
    return
  fi
  wait "$pid"
  rc=$?
  local left=0
  # A rank still running (a zombie is gone: a container's init may never reap it).
  for child in "${ranks[@]}"; do
    state=$(ps -o stat= -p "$child" 2>/dev/null)
    [[ -n $state && $state != Z* ]] && left=1
  done
  if [[ $rc -ne 0 && $left -eq 0 ]] && grep -qE "exited on signal 9|stopped by SIGTERM" "$log"; then
    echo "ok   $name (every rank gone $((SECONDS - start)) s after the kill, exit $rc)"
  else
    say_fail "$name: exit $rc, ranks left: $left, output:"
    tail -12 "$log"
  fi
}
kill_rank rank-1-dies 1
kill_rank rank-0-dies 0
exit $fail
