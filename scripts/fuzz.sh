#!/usr/bin/env bash
# scripts/fuzz.sh: builds the libFuzzer targets with the `fuzz` preset (clang, libFuzzer,
# ASan+UBSan), writes seed corpora, and fuzzes each chosen target for a fixed time:
#   gguf     the GGUF parser (seeds written by gguf_seeds)
#   request  the server's request parsers and Jinja chat templates (seeds written below)
# Exits non-zero if the build fails or a fuzzer finds a crash (the input is saved under
# <build>/fuzz-work[-<target>]/artifacts/).
#
# Usage: scripts/fuzz.sh [seconds] [gguf|request|all]
#   seconds          run time per target (default: $FUZZ_SECONDS, else 30)
#   target           which fuzzer(s) to run (default: $FUZZ_TARGET, else gguf)
#   FUZZ_BUILD_DIR   build folder (default: build/fuzz)
#   FUZZ_JOBS        build parallelism (default: 2)
#   FUZZ_MAX_LEN     largest input libFuzzer generates, in bytes (default: 16384)
#   FUZZ_ARGS        extra libFuzzer flags, e.g. "-jobs=4 -seed=1"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-${FUZZ_SECONDS:-30}}"
target="${2:-${FUZZ_TARGET:-gguf}}"
build="${FUZZ_BUILD_DIR:-$root/build/fuzz}"
jobs="${FUZZ_JOBS:-2}"
max_len="${FUZZ_MAX_LEN:-16384}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
  echo "usage: $0 [seconds] [gguf|request|all]   (seconds > 0, got '$seconds')" >&2
  exit 2
fi
case "$target" in
  gguf) targets=(gguf) ;;
  request) targets=(request) ;;
  all) targets=(gguf request) ;;
  *) echo "usage: $0 [seconds] [gguf|request|all]   (unknown target '$target')" >&2; exit 2 ;;
esac

cd "$root"
cmake --preset fuzz -B "$build"
build_targets=()
for t in "${targets[@]}"; do
  case "$t" in
    gguf) build_targets+=(gguf_fuzz gguf_seeds) ;;
    request) build_targets+=(request_fuzz) ;;
  esac
done
cmake --build "$build" --target "${build_targets[@]}" -j "$jobs"

# Request seeds: a mode byte (even: request body, odd: template text) and the payload.
write_request_seeds() {
  local dir="$1" i=0
  local bodies=(
    '{"model": "m", "prompt": "Hello", "max_tokens": 8, "temperature": 0.7, "stop": ["\n"]}'
    '{"prompt": [[1, 2], [3]], "n": 2, "logprobs": 3, "echo": true, "logit_bias": {"5": -100}}'
    '{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}], "stream": true, "stream_options": {"include_usage": true}, "logprobs": true, "top_logprobs": 2}'
    '{"prompt": "x", "add_special_tokens": false}'
    '{"tokens": [1, 2, 3]}'
  )
  local templates=(
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
    "{%- set ns = namespace(found=false) -%}{%- for m in messages if m.role != 'tool' -%}{%- set ns.found = true -%}{{- m.content | trim | tojson(indent=2) }}{{ loop.index }}{% else %}none{%- endfor %}{{ tools | selectattr('type', 'equalto', 'function') | map(attribute='function.name') | join(', ') }}{{ (n // 3) ~ (f * 2) ~ big }}{{ 'a,b'.split(',')[::-1] }}"
  )
  for b in "${bodies[@]}"; do printf '\x00%s' "$b" > "$dir/body-$((i++))"; done
  for t in "${templates[@]}"; do printf '\x01%s' "$t" > "$dir/template-$((i++))"; done
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

run_fuzzer() {
  local name="$1" work="$2"
  local seeds="$work/seeds" corpus="$work/corpus" artifacts="$work/artifacts"
  rm -rf "$seeds"
  mkdir -p "$seeds" "$corpus" "$artifacts"  # corpus grows across runs
  case "$name" in
    gguf) "$build/fuzz/gguf_seeds" "$seeds" ;;
    request) write_request_seeds "$seeds" ;;
  esac
  local status=0
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$build/fuzz/${name}_fuzz" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} \
      "$corpus" "$seeds" || status=$?
  if [[ "$status" -eq 0 ]]; then
    echo "fuzz.sh: ${name}_fuzz: no crash in ${seconds}s (corpus: $corpus)"
  else
    echo "fuzz.sh: ${name}_fuzz failed (exit $status); reproducer(s) in $artifacts:" >&2
    ls -l "$artifacts" >&2 || true
    exit "$status"
  fi
}

for t in "${targets[@]}"; do
  case "$t" in
    gguf) run_fuzzer gguf "$build/fuzz-work" ;;  # the original location, kept for old corpora
    request) run_fuzzer request "$build/fuzz-work-request" ;;
  esac
done
