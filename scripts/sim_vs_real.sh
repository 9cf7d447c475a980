#!/usr/bin/env bash
# Simulated against measured on this CPU (issue: `sarathi simulate` checked against the real
# engine). Same model, same workload, same scheduler settings; the simulator's step times come
# from a profile of this machine (`sarathi bench profile`). For vllm and sarathi-serve:
#   1. profile:  bench profile -> profile.json
#   2. offline:  bench throughput  vs  simulate (all requests at t=0)
#   3. capacity: bench capacity (in process) under the TBT SLO (5x the profile's one-sequence
#                decode step)  vs  simulate --capacity
#   4. online:   sarathi serve + bench serve at 50% and 85% of each policy's measured capacity
#                vs  simulate at the same Poisson rates
# and prints median TTFT, P99 TBT and throughput side by side with the relative error.
# Every timed step runs under flock $LOCK (default /tmp/sarathi-bench.lock) so no two benchmarks
# overlap; the simulations are niced. Results (JSON, logs) go to $OUT (default
# build/sim_vs_real). MODEL (synthetic:llama-160m:q8_0), THREADS (2), PROMPTS_OFFLINE (16),
# PROMPTS_ONLINE (24), SKIP_ONLINE=1 and SKIP_PROFILE=1 (reuse $OUT/profile.json) adjust it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SARATHI:-./build/release/sarathi}
model=${MODEL:-synthetic:llama-160m:q8_0}
threads=${THREADS:-2}
out=${OUT:-build/sim_vs_real}
lock=${LOCK:-/tmp/sarathi-bench.lock}
port=${PORT:-8471}
mkdir -p "$out"

# Scheduler and workload settings shared by every run; the profile's grid covers every step
# (chunks up to vllm's 2048-token prefill steps, decodes up to 16 at up to 448 of context).
# Default budgets: vllm 2048 prompt tokens per step, sarathi-serve 512 (offline) or cut to the
# SLO (capacity, online).
sched=(--max-model-len 512 --max-num-seqs 16 --block-size 16 --num-kv-blocks 1024)
work=(--input-len 128 --range-ratio 0.5 --output-len 32 --seed 1)
# The engine's prefix cache (on by default) has nothing to share among random prompts, and the
# simulator has no token ids: off in the real runs so both account KV blocks alike.
real=(--no-enable-prefix-caching)

if [[ "${SKIP_PROFILE:-0}" != 1 ]]; then
  echo "== 1/4 profile ($model, $threads threads)"
  flock "$lock" "$bin" bench profile -m "$model" -t "$threads" -c 2048 \
    --chunk-tokens 1,2,4,8,16,32,64,128,256,512,1024,2048 --position-chunk 64 \
    --chunk-positions 128,256,384 --decode-batches 1,2,4,8,16 --decode-contexts 16,128,256,448 \
    --hybrid 3:256:128,7:128:64,15:64:256,15:256:32 --repeats 5 --spread-runs 60 \
    --json "$out/profile.json" >"$out/profile.log"
  tail -1 "$out/profile.log"
fi
sim=(nice -n 19 "$bin" simulate --profile "cpu:$out/profile.json")
# The TBT SLO: 5x the profiled one-sequence decode step (Sarathi-Serve's strict SLO).
slo_ms=$(python3 -c "
import json; j = json.load(open('$out/profile.json'))
print(round(5e3 * [d['seconds'] for d in j['decode'] if d['batch'] == 1 and d['context'] == 16][0], 3))")
echo "TBT SLO ${slo_ms} ms"

echo "== 2/4 offline: bench throughput vs simulate"
flock "$lock" "$bin" bench throughput -m "$model" -t "$threads" -c 512 "${sched[@]}" "${real[@]}" \
  --policies vllm,sarathi-serve --num-prompts "${PROMPTS_OFFLINE:-16}" "${work[@]}" \
  --json "$out/real_offline.json" | tail -3
"${sim[@]}" "${sched[@]}" --policies vllm,sarathi-serve --num-prompts "${PROMPTS_OFFLINE:-16}" \
  "${work[@]}" --json "$out/sim_offline.json" | tail -3

echo "== 3/4 capacity under the TBT SLO: bench capacity vs simulate --capacity"
flock "$lock" "$bin" bench capacity -m "$model" -t "$threads" -c 512 "${sched[@]}" "${real[@]}" \
  --policies vllm,sarathi-serve --tbt-slo "$slo_ms" --num-prompts 12 --max-probes 6 \
  --start-rate 0.5 "${work[@]}" --json "$out/real_capacity.json" | tail -1
"${sim[@]}" "${sched[@]}" --policies vllm,sarathi-serve --tbt-slo "$slo_ms" --capacity \
  --num-prompts 12 --max-probes 6 --start-rate 0.5 --tolerance 0.1 "${work[@]}" \
  --json "$out/sim_capacity.json" | tail -1

if [[ "${SKIP_ONLINE:-0}" != 1 ]]; then
  echo "== 4/4 online: sarathi serve + bench serve vs simulate, at 50% and 85% of capacity"
  for policy in vllm sarathi-serve; do
    cap=$(python3 -c "
import json; j = json.load(open('$out/real_capacity.json'))
print([c['capacity_req_s'] for c in j['curves'] if c['label'] == '$policy'][0])")
    for frac in 0.5 0.85; do
      rate=$(python3 -c "print(round($cap * $frac, 4) if $cap > 0 else 0)")
      if [[ "$rate" == 0 ]]; then
        echo "$policy: capacity 0 here, no online run"
        continue
      fi
      tag="${policy}_${frac}"
      # One flock for the server's whole life: loading, calibration and the load test.
      flock "$lock" bash -c "
        '$bin' serve -m '$model' -t '$threads' -c 512 --port $port --policy $policy \
          --tbt-slo $slo_ms ${sched[*]} ${real[*]} >'$out/serve_$tag.log' 2>&1 &
        server=\$!
        for i in \$(seq 600); do
          curl -sf http://127.0.0.1:$port/health >/dev/null && break
          sleep 0.5
        done
        '$bin' bench serve --base-url http://127.0.0.1:$port --endpoint completions \
          --num-prompts ${PROMPTS_ONLINE:-24} --request-rate $rate --random-input-len 128 \
          --random-range-ratio 0.5 --random-output-len 32 --seed 1 --ignore-eos \
          --json '$out/real_online_$tag.json' >'$out/bench_$tag.log' 2>&1
        kill -TERM \$server
        wait \$server || true"
      "${sim[@]}" "${sched[@]}" --policies "$policy" --tbt-slo "$slo_ms" \
        --num-prompts "${PROMPTS_ONLINE:-24}" --request-rate "$rate" "${work[@]}" \
        --json "$out/sim_online_$tag.json" >/dev/null
    done
  done
fi

echo "== simulated vs measured"
python3 - "$out" <<'EOF'
import json, os, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) else None
def row(what, real, sim):
    err = (sim / real - 1) * 100 if real else float('nan')
    print(f"{what:44s} {real:12.4g} {sim:12.4g} {err:+8.1f}%")
print(f"{'':44s} {'measured':>12s} {'simulated':>12s} {'error':>9s}")
ro, so = load('real_offline.json'), load('sim_offline.json')
for rp in ro['policies']:
    sp = [p for p in so['policies'] if p['policy'] == rp['policy']][0]
    n = rp['policy']
    row(f"offline {n}: median TTFT (s)", rp['ttft_s']['p50'], sp['ttft_s']['p50'])
    row(f"offline {n}: P99 TBT (ms)", rp['tbt_s']['p99'] * 1e3, sp['tbt_s']['p99'] * 1e3)
    row(f"offline {n}: throughput (tok/s)", rp['e2e_tokens_per_s'], sp['e2e_tokens_per_s'])
rc, sc = load('real_capacity.json'), load('sim_capacity.json')
for c in rc['curves']:
    s = [x for x in sc['capacity']['curves'] if x['label'] == c['label']][0]
    row(f"capacity {c['label']} (req/s)", c['capacity_req_s'], s['capacity_req_s'])
for policy in ('vllm', 'sarathi-serve'):
    for frac in ('0.5', '0.85'):
        r, s = load(f'real_online_{policy}_{frac}.json'), load(f'sim_online_{policy}_{frac}.json')
        if not r or not s:
            continue
        sp = s['policies'][0]
        tag = f"online {policy} @{float(frac) * 100:.0f}%"
        row(f"{tag}: median TTFT (ms)", r['median_ttft_ms'], sp['median_ttft_ms'])
        row(f"{tag}: P99 TBT (ms)", r['p99_itl_ms'], sp['p99_itl_ms'])
        row(f"{tag}: throughput (tok/s)", r['total_token_throughput'], sp['total_token_throughput'])
EOF
