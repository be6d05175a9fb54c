// Portable tile: 4 rows x up to 8 columns, plain loops (the compiler may vectorise at baseline).
#include "gemm_tile.h"

namespace mr {

namespace {

constexpr int kMr = 4;
constexpr int kLanes = 4;

template <int W>
void tile_w(std::size_t kc, const float* const* u, const float* d, float* c, std::size_t ldc,
            bool accumulate) {
  float acc[kMr][W] = {};
  for (std::size_t k = 0; k < kc; ++k) {
    const float* dk = d + k * W;
    for (int r = 0; r < kMr; ++r) {
      const float b = u[r][k];
      for (int j = 0; j < W; ++j) acc[r][j] += b * dk[j];
    }
  }
  for (int r = 0; r < kMr; ++r) {
    float* cr = c + r * ldc;
    for (int j = 0; j < W; ++j) cr[j] = accumulate ? cr[j] + acc[r][j] : acc[r][j];
  }
}

void tile(int nv, std::size_t kc, const float* const* u, const float* d, float* c, std::size_t ldc,
          bool accumulate) {
  if (nv == 1) tile_w<kLanes>(kc, u, d, c, ldc, accumulate);
  else tile_w<2 * kLanes>(kc, u, d, c, ldc, accumulate);
}

}  // namespace

const GemmKernel& gemm_kernel_scalar() {
  static const GemmKernel k{Isa::Scalar, kMr, kLanes, 2, &tile};
  return k;
}

const GemmKernel& gemm_kernel(Isa isa) {
  switch (isa) {
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::Avx512: return gemm_kernel_avx512();
    case Isa::Avx2: return gemm_kernel_avx2();
#endif
#if defined(__aarch64__)
    case Isa::Neon: return gemm_kernel_neon();
#endif
    default: return gemm_kernel_scalar();
  }
}

}  // namespace mr
