// AVX-512 tile: 8 U rows x up to 48 reference columns (3 zmm) = 24 accumulators, the rest of the
// 32 registers hold the D vectors; each U value is a broadcast folded into the FMA. Compiled at
// baseline x86-64 with a target attribute and only called after cpuid said yes.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "gemm_tile.h"

#define MR_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))

namespace mr {

namespace {

constexpr int kMr = 8;

template <int NV>
MR_AVX512 void tile_nv(std::size_t kc, const float* const* u, const float* d, float* c,
                       std::size_t ldc, bool accumulate) {
  constexpr int W = NV * 16;
  __m512 acc[kMr][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  const float* u0 = u[0];
  const float* u1 = u[1];
  const float* u2 = u[2];
  const float* u3 = u[3];
  const float* u4 = u[4];
  const float* u5 = u[5];
  const float* u6 = u[6];
  const float* u7 = u[7];
  for (std::size_t k = 0; k < kc; ++k) {
    __m512 dv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) dv[v] = _mm512_loadu_ps(d + k * W + v * 16);
    const float* rows[kMr] = {u0, u1, u2, u3, u4, u5, u6, u7};
#pragma GCC unroll 8
    for (int r = 0; r < kMr; ++r) {
      const __m512 b = _mm512_set1_ps(rows[r][k]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(b, dv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kMr; ++r) {
    float* cr = c + r * ldc;
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      __m512 x = acc[r][v];
      if (accumulate) x = _mm512_add_ps(x, _mm512_loadu_ps(cr + v * 16));
      _mm512_storeu_ps(cr + v * 16, x);
    }
  }
}

MR_AVX512 void tile(int nv, std::size_t kc, const float* const* u, const float* d, float* c,
                    std::size_t ldc, bool accumulate) {
  switch (nv) {
    case 1: tile_nv<1>(kc, u, d, c, ldc, accumulate); break;
    case 2: tile_nv<2>(kc, u, d, c, ldc, accumulate); break;
    default: tile_nv<3>(kc, u, d, c, ldc, accumulate); break;
  }
}

}  // namespace

const GemmKernel& gemm_kernel_avx512() {
  static const GemmKernel k{Isa::Avx512, kMr, 16, 3, &tile};
  return k;
}

}  // namespace mr
#endif
