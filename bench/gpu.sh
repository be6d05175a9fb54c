#!/usr/bin/env bash
# GPU check of the CUDA backend: ONE command for the device machine (CUDA, CMake, Python + PyTorch,
# no Node.js). Stages:
#   1. build the standalone test/bench with plain cmake (needs nothing but the repo)
#   2. parity: CUDA BMAS (exact and fast) vs float64, validation, box IoU
#   3. GRPO batch timing (kernel time from CUDA events), exact and fast
#   4. PyTorch index_select -> matmul -> amax on the same ids and table (bench/gpu_torch.py)
#   5. if .gpu/node.xz exists (a carried node binary; with dist/ built and node_modules or
#      .gpu/node_modules holding uvu and its deps): the node-side cuda tests and the end-to-end
#      timing from JS (bench/gpu_e2e.ts). The addon is built with cmake here unless
#      build-cuda/Release/mixed_reward_cuda.node was carried.
# Results: $OUT/gpu-results.txt (the RESULT/CHECK lines) and $OUT/gpu.log (everything).
set -u -o pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"
LOG=$OUT/gpu.log
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
export PYTHONUNBUFFERED=1
BUILD=${MR_GPU_BUILD:-/tmp/mr-cuda-bench}
ARCH=${MR_CUDA_ARCHS:-90}
JOBS=$(nproc 2>/dev/null || echo 4)
status=0
step() { echo; echo "=== $* ($(date +%T))"; }

step "device"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv || true
nvcc --version | tail -2 || true

step "1. build standalone test/bench (sm_$ARCH)"
GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
if ! cmake -S . -B "$BUILD" $GEN -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$ARCH" >"$OUT/cmake-configure.log" 2>&1; then
  tail -30 "$OUT/cmake-configure.log"; echo "FAILED: cmake configure"; exit 1
fi
if ! cmake --build "$BUILD" -j "$JOBS" 2>&1 | grep -v '^\[' ; then :; fi
[ -x "$BUILD/mr_cuda_test_bench" ] || { echo "FAILED: build"; exit 1; }

step "2. parity"
timeout 240 "$BUILD/mr_cuda_test_bench" || { echo "parity FAILED (rc=$?)"; status=1; }

step "3. GRPO batch, CUDA kernels"
timeout 240 "$BUILD/mr_cuda_test_bench" --bench --ids "$BUILD/ids.bin" --scores "$BUILD/scores.bin" --reps 30 || { echo "bench FAILED"; status=1; }

step "4. PyTorch baseline"
if [ -f "$BUILD/ids.bin" ]; then
  timeout 240 python3 bench/gpu_torch.py --ids "$BUILD/ids.bin" --scores "$BUILD/scores.bin" --reps 20 || { echo "torch baseline FAILED"; status=1; }
fi

if [ -f .gpu/node.xz ]; then
  step "5. node: cuda tests and end-to-end timing"
  mkdir -p /tmp/mr-node
  python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.gpu/node.xz'), open('/tmp/mr-node/node','wb'))" && chmod +x /tmp/mr-node/node
  export PATH=/tmp/mr-node:$PATH
  node --version
  if [ -d .gpu/node_modules ]; then mkdir -p node_modules && cp -rn .gpu/node_modules/. node_modules/ 2>/dev/null; fi
  if [ ! -f build-cuda/Release/mixed_reward_cuda.node ]; then
    cmake -S . -B /tmp/mr-cuda-addon $GEN -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
      -DCMAKE_JS_INC="$ROOT/node_modules/node-api-headers/include" -DNODE_ADDON_API_DIR="$ROOT/node_modules/node-addon-api" \
      -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$ROOT/build-cuda/Release" >"$OUT/cmake-addon.log" 2>&1 &&
      cmake --build /tmp/mr-cuda-addon -j "$JOBS" --target mixed_reward_cuda 2>&1 | grep -v '^\[' || true
  fi
  ls -la build-cuda/Release/ || true
  node -e "const a=require('./build-cuda/Release/mixed_reward_cuda.node'); console.log(JSON.stringify(a.probe()))" || status=1
  # The cuda tests, and the suites whose backend loops include 'cuda' once a device answers.
  timeout 300 node node_modules/uvu/bin.js dist/test '(cuda|bmas|iou|mixed)\.test\.js$' || { echo "node cuda tests FAILED"; status=1; }
  timeout 300 node dist/bench/gpu_e2e.js || { echo "e2e FAILED"; status=1; }
fi

step "results"
grep -hE '^(RESULT|CHECK|probe|gpu-parity|iou|bench|torch)|cuda parity' "$LOG" | tee "$OUT/gpu-results.txt"
echo "status: $status"
exit $status
