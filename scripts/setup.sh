#!/usr/bin/env bash
# Installs what sarathi needs to build and test from Debian 12 packages. Idempotent: does
# nothing when everything is already installed.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config git
  libfmt-dev nlohmann-json3-dev libcli11-dev libicu-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libdnnl-dev ocl-icd-opencl-dev   # bench/onednn only (Debian's dnnl config needs OpenCL)
  clang libclang-rt-14-dev   # libFuzzer target and sanitizer runtimes
  libcpp-httplib-dev libssl-dev curl   # sarathi serve (httplib's flags need OpenSSL headers)
  libopenmpi-dev openmpi-bin   # pipeline parallelism (mpirun -np N ... --pipeline-parallel-size N)
)
# The OpenAI Node SDK test (tests/server/node) needs node and npm; nodejs from another source
# (NodeSource) already brings npm, and Debian's npm package would conflict with it.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
