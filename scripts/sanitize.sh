#!/usr/bin/env bash
# Builds the native core and its C++ tests with AddressSanitizer + UndefinedBehaviorSanitizer
# and runs them (every ISA level this CPU has). Fails on any sanitizer report or test failure.
# Usage: scripts/sanitize.sh [--full]   (default: the quick test sizes, well under 2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/mixed-reward-sanitize"
mkdir -p "$out"
rm -f "$out"/*.o
CXX="${CXX:-g++}"
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
       -Wall -Wextra -Werror -pthread)
case "$(uname -m)" in x86_64) flags+=(-march=x86-64) ;; esac
echo "building with $CXX ${flags[*]}"
# One translation unit per file, in parallel: ASan builds are slow to compile.
pids=()
for src in native/core/*.cc native/test/test_core.cc; do
  "$CXX" "${flags[@]}" -c "$src" -o "$out/$(basename "$src" .cc).o" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$CXX" "${flags[@]}" "$out"/*.o -o "$out/test_core"
mode=--quick
[[ "${1:-}" == "--full" ]] && mode=
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$out/test_core" $mode
echo "sanitize: clean"
