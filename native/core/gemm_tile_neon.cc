// NEON tile for AArch64: 8 U rows x up to 12 reference columns (3 q registers) = 24 accumulators
// of the 32 vector registers.
#if defined(__aarch64__)
#include <arm_neon.h>

#include "gemm_tile.h"

namespace mr {

namespace {

constexpr int kMr = 8;

template <int NV>
void tile_nv(std::size_t kc, const float* const* u, const float* d, float* c, std::size_t ldc,
             bool accumulate) {
  constexpr int W = NV * 4;
  float32x4_t acc[kMr][NV];
  for (int r = 0; r < kMr; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = vdupq_n_f32(0.0f);
  for (std::size_t k = 0; k < kc; ++k) {
    float32x4_t dv[NV];
    for (int v = 0; v < NV; ++v) dv[v] = vld1q_f32(d + k * W + v * 4);
    for (int r = 0; r < kMr; ++r) {
      const float b = u[r][k];
      for (int v = 0; v < NV; ++v) acc[r][v] = vfmaq_n_f32(acc[r][v], dv[v], b);
    }
  }
  for (int r = 0; r < kMr; ++r) {
    float* cr = c + r * ldc;
    for (int v = 0; v < NV; ++v) {
      float32x4_t x = acc[r][v];
      if (accumulate) x = vaddq_f32(x, vld1q_f32(cr + v * 4));
      vst1q_f32(cr + v * 4, x);
    }
  }
}

void tile(int nv, std::size_t kc, const float* const* u, const float* d, float* c, std::size_t ldc,
          bool accumulate) {
  switch (nv) {
    case 1: tile_nv<1>(kc, u, d, c, ldc, accumulate); break;
    case 2: tile_nv<2>(kc, u, d, c, ldc, accumulate); break;
    default: tile_nv<3>(kc, u, d, c, ldc, accumulate); break;
  }
}

}  // namespace

const GemmKernel& gemm_kernel_neon() {
  static const GemmKernel k{Isa::Neon, kMr, 4, 3, &tile};
  return k;
}

}  // namespace mr
#endif
