// AVX2+FMA tile: 6 U rows x up to 16 reference columns (2 ymm) = 12 accumulators of 16 registers.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "gemm_tile.h"

#define MR_AVX2 __attribute__((target("avx2,fma")))

namespace mr {

namespace {

constexpr int kMr = 6;

template <int NV>
MR_AVX2 void tile_nv(std::size_t kc, const float* const* u, const float* d, float* c,
                     std::size_t ldc, bool accumulate) {
  constexpr int W = NV * 8;
  __m256 acc[kMr][NV];
#pragma GCC unroll 6
  for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (std::size_t k = 0; k < kc; ++k) {
    __m256 dv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) dv[v] = _mm256_loadu_ps(d + k * W + v * 8);
#pragma GCC unroll 6
    for (int r = 0; r < kMr; ++r) {
      const __m256 b = _mm256_broadcast_ss(u[r] + k);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(b, dv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < kMr; ++r) {
    float* cr = c + r * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      __m256 x = acc[r][v];
      if (accumulate) x = _mm256_add_ps(x, _mm256_loadu_ps(cr + v * 8));
      _mm256_storeu_ps(cr + v * 8, x);
    }
  }
}

MR_AVX2 void tile(int nv, std::size_t kc, const float* const* u, const float* d, float* c,
                  std::size_t ldc, bool accumulate) {
  if (nv == 1) tile_nv<1>(kc, u, d, c, ldc, accumulate);
  else tile_nv<2>(kc, u, d, c, ldc, accumulate);
}

}  // namespace

const GemmKernel& gemm_kernel_avx2() {
  static const GemmKernel k{Isa::Avx2, kMr, 8, 2, &tile};
  return k;
}

}  // namespace mr
#endif
