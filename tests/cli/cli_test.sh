#!/usr/bin/env bash
# Smoke tests of the sarathi binary: usage, generate on a synthetic model (argument and stdin
# prompts), deterministic greedy output, clear errors for bad input. Usage: cli_test.sh SARATHI
set -u
bin=$1
fail=0
check() {  # check NAME EXPECTED_RC PATTERN -- command...
  local name=$1 want_rc=$2 pattern=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [[ $rc -ne $want_rc ]] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: rc=$rc (want $want_rc), output:"
    echo "$out" | head -20
    fail=1
  else
    echo "ok   $name"
  fi
}

check help 0 "generate" -- "$bin" --help
check generate-help 0 "--top-p" -- "$bin" generate --help
check generate 0 "generation: +8 tokens" -- "$bin" generate -m synthetic:tiny -p "hello" -n 8 --temp 0 -t 2
check stdin 0 "prompt: +[0-9]+ tokens" -- bash -c "echo 'from stdin' | '$bin' generate -m synthetic:tiny -n 4 -t 1"
a=$("$bin" generate -m synthetic:tiny -p "same" -n 12 --temp 0.9 --seed 7 2>/dev/null)
b=$("$bin" generate -m synthetic:tiny -p "same" -n 12 --temp 0.9 --seed 7 2>/dev/null)
if [[ "$a" != "$b" ]]; then echo "FAIL seeded output differs"; fail=1; else echo "ok   seeded-determinism"; fi
check missing-model 1 "error: .*nonexistent" -- "$bin" generate -m /nonexistent/x.gguf -p hi
check bad-synthetic 1 "unknown synthetic shape" -- "$bin" generate -m synthetic:huge -p hi
check bad-kv-type 2 "kv-type must be" -- "$bin" generate -m synthetic:tiny -p hi --kv-type q4_0
check bad-dtype 1 "dtype must be" -- "$bin" generate -m synthetic:tiny -p hi --dtype q4_0
check dtype-bf16 0 "generation: +4 tokens" -- "$bin" generate -m synthetic:tiny:f16 -p hi -n 4 --temp 0 -t 2 --dtype bfloat16
check dtype-ops 0 "weights bf16" -- "$bin" bench ops -m synthetic:tiny:f16 --dtype bf16 --chunk 8 --decodes 1 --context 8 --repeats 1
check bad-temp 105 "temp" -- "$bin" generate -m synthetic:tiny -p hi --temp -1
check long-prompt 1 "context" -- "$bin" generate -m synthetic:tiny -c 16 -p "this prompt is longer than sixteen bytes"
check ops-floor 0 "memory floor: weights .* GB per step at .*x the floor" -- "$bin" bench ops -m synthetic:tiny --chunk 0 --decodes 2 --context 8 --repeats 1 --roofline --read-mib 64
check ops-matmul-rate 0 "matmuls \(logits included\): .* GOP/s" -- "$bin" bench ops -m synthetic:tiny --chunk 8 --decodes 0 --context 0 --repeats 1 --roofline
check roofline 0 "instruction peak" -- "$bin" bench roofline -t 1 --repeats 1 --read-mib 64 --decode-mib 4
check step-cost 0 "hyb/chk" -- "$bin" bench step-cost -m synthetic:tiny --batch-sizes 1,4 --chunk-sizes 16 --context-lens 32 --repeats 1
check capacity-no-mode 2 "give -m MODEL" -- "$bin" bench capacity
check capacity-bad-slo 2 "tbt-slo must be" -- "$bin" bench capacity -m synthetic:tiny --tbt-slo abc
check capacity 0 "capacity \(req/s\): vllm [<0-9][^ ]* sarathi-serve [<0-9]" -- "$bin" bench capacity -m synthetic:tiny -t 1 --num-prompts 4 --input-len 32 --output-len 8 --max-probes 2 --start-rate 40
check throughput-slo 0 "step-cost model \(20 probe steps" -- "$bin" bench throughput -m synthetic:tiny -t 1 --policies sarathi-serve --tbt-slo strict --num-prompts 4 --input-len 32 --output-len 8
# vllm's token budget is the whole context: the prefill-cost probe stops at the longest prompt
# (it timed 65,536-token prefills here before, minutes on one core).
check throughput-long-context 0 "^vllm " -- timeout 120 "$bin" bench throughput -m synthetic:tiny -t 1 -c 65536 --policies vllm --num-prompts 2 --input-len 32 --output-len 4
check throughput-bad-slo 2 "tbt-slo" -- "$bin" bench throughput -m synthetic:tiny --tbt-slo fast
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check profile 0 "wrote .*prof.json" -- "$bin" bench profile -m synthetic:tiny -t 1 -c 256 --chunk-tokens 1,8,64 --position-chunk 16 --chunk-positions 64 --decode-batches 1,4 --decode-contexts 16,128 --hybrid 3:64:32 --repeats 1 --spread-runs 2 --json "$tmp/prof.json"
check simulate-cpu 0 "sarathi-serve +16 " -- "$bin" simulate --profile "cpu:$tmp/prof.json" --num-prompts 16 --input-len 40 --output-len 8 --request-rate 50 --json "$tmp/sim.json" --report "$tmp/sim.html"
check simulate-json 0 "\"median_ttft_ms\"" -- cat "$tmp/sim.json"
check simulate-report 0 "batch composition" -- cat "$tmp/sim.html"
check simulate-capacity 0 "capacity \(req/s\): vllm [0-9.]+ sarathi-serve [0-9.]+" -- "$bin" simulate --profile "cpu:$tmp/prof.json" --num-prompts 40 --input-len 40 --output-len 8 --tbt-slo strict --capacity --max-probes 4
check simulate-bad-profile 2 "profile must be" -- "$bin" simulate --profile foo
check simulate-no-prefix-cache 109 "not expected: --enable-prefix-caching" -- "$bin" simulate --profile foo --enable-prefix-caching
check simulate-tp-on-cpu 2 "need a GPU profile" -- "$bin" simulate --profile "cpu:$tmp/prof.json" --tp 2
vidur="$(dirname "$0")/../../../shared/profiles/vidur"
if [[ -d "$vidur" ]]; then
  check simulate-gpu 0 "Llama-2-70b-hf on a100.*TP 2 PP 2" -- "$bin" simulate --profile a100:llama-2-70b --tp 2 --pp 2 --profile-dir "$vidur" --replicas 2 --router least-outstanding --num-prompts 50 --dataset "$vidur/processed_traces/splitwise_code.csv" --arrival trace
else
  echo "skip simulate-gpu: no ../shared/profiles/vidur"
fi
exit $fail
