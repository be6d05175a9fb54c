// The register-tile micro-kernels under BMAS: C (+)= U · Dᵀ for one tile, in the layouts the
// BMAS driver packs. One implementation per instruction set; the driver is shared.
//
//   U: `mr` row pointers, each at `kc` contiguous floats (a K block of a table row, read in place).
//   D: one packed panel of width w = nv * lanes: element (k, c) at d[k*w + c] (k-major, so a
//      vector load takes `lanes` reference tokens at once and each U value is broadcast).
//   C: mr rows of w floats at c + r*ldc; `accumulate` adds to C, else overwrites it.
#pragma once

#include <cstddef>

#include "isa.h"

namespace mr {

using TileFn = void (*)(int nv, std::size_t kc, const float* const* u, const float* d, float* c, std::size_t ldc,
                        bool accumulate);

struct GemmKernel {
  Isa isa;
  int mr;     // U rows per tile
  int lanes;  // floats per vector register
  int max_nv; // vectors per D panel (panel width = max_nv * lanes, the last panel may be narrower)
  TileFn tile;
};

// The kernel for `isa` (which must be supported and compiled in).
const GemmKernel& gemm_kernel(Isa isa);

const GemmKernel& gemm_kernel_scalar();
#if defined(__x86_64__) || defined(_M_X64)
const GemmKernel& gemm_kernel_avx2();
const GemmKernel& gemm_kernel_avx512();
#endif
#if defined(__aarch64__)
const GemmKernel& gemm_kernel_neon();
#endif

}  // namespace mr
