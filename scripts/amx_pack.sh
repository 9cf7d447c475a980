#!/usr/bin/env bash
# scripts/amx_pack.sh: packs the release build for a check on a machine that has AMX but no
# toolchain (scripts/amx_check.sh runs it there): the sarathi binary, the kernel/model/engine/
# golden test binaries, the oneDNN comparison if built, the shared libraries they need beyond
# the C/C++ runtime, and ../shared's models and golden data, into build/amxpack.tar.xz.
#
# Usage: scripts/amx_pack.sh [baseline-sarathi]
#   baseline-sarathi  an older sarathi binary to compare against (packed as sarathi_base), e.g.
#                     one built from the previous commit
#   SARATHI_TEST_DATA the shared data folder (default: ../shared beside the checkout)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build/release"
out="$root/build/amxpack"
shared="${SARATHI_TEST_DATA:-$root/../shared}"

if [[ ! -x "$build/sarathi" ]]; then
  echo "amx_pack: build first: cmake --preset release && cmake --build --preset release" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out/lib"
bins=("$build/sarathi")
for t in kernels_test amx_emulate_test model_test engine_test golden_test; do
  [[ -x "$build/tests/$t" ]] && bins+=("$build/tests/$t")
done
[[ -x "$build/bench/sarathi_onednn_bench" ]] && bins+=("$build/bench/sarathi_onednn_bench")
if [[ $# -ge 1 ]]; then
  cp "$1" "$out/sarathi_base"
  bins+=("$out/sarathi_base")
fi
for b in "${bins[@]}"; do
  [[ "$b" == "$out/"* ]] || cp "$b" "$out/"
  # Everything but the C and C++ runtime, which the target machine has.
  ldd "$b" | awk '/=> \// {print $3}' |
    grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -L -n "$lib" "$out/lib/"; done
done
if [[ -d "$shared/models" ]]; then
  mkdir -p "$out/shared"
  cp -r "$shared/models" "$shared/golden" "$out/shared/"
else
  echo "amx_pack: no shared data at $shared: the golden tests will skip there" >&2
fi
tar -C "$root/build" -cf - amxpack | xz -T0 -3 > "$root/build/amxpack.tar.xz"
size=$(du -h "$root/build/amxpack.tar.xz" | cut -f1)
echo "amx_pack: build/amxpack.tar.xz ($size); run scripts/amx_check.sh beside it"
