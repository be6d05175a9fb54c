#!/usr/bin/env bash
# Portability of the native code, under emulation:
#  1. the built CPU addon on older x86-64 CPUs (qemu-user): Nehalem has no AVX, Haswell no AVX-512;
#     the addon must pick the scalar / AVX2 kernel there and never die with SIGILL;
#  2. the C++ core (NEON kernels included) cross-compiled for arm64 and its tests run under qemu.
# Needs Debian's qemu-user and g++-aarch64-linux-gnu (installed by .ci/run); run after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
node_bin="$(command -v node)"
for spec in Nehalem:scalar Haswell:avx2; do
  model="${spec%%:*}" kernel="${spec##*:}"
  echo "x86-64 ${model}:"
  qemu-x86_64 -cpu "$model" "$node_bin" scripts/check-portability.js "$kernel" 2> >(grep -v "TCG doesn't support" >&2)
done
echo "arm64 (NEON) C++ core tests:"
out="$(mktemp -d)"
aarch64-linux-gnu-g++ -std=c++17 -O2 -Wall -Wextra -Werror -pthread native/core/*.cc native/test/test_core.cc -o "$out/test_core"
qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/test_core" | tail -n 3
rm -rf "$out"
