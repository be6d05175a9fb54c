// BMAS on the GPU: fused gather + tiled dot products + row/column maxima. The |U| x |D| similarity
// block of a unit (the pairs of one reference, on distinct ids; see bmas_plan.h) is produced tile
// by tile in registers and reduced at once: row maxima are complete inside one thread block (it
// walks all of D for its rows), per-pair column maxima are merged across blocks with atomics on an
// order-preserving float encoding. S never reaches device memory.
//
// Exact mode: split-bf16 on tensor cores (hi/lo operand halves, three MMAs per product; ~1e-5 from
// float64), or fp32 FFMA with MIXED_REWARD_CUDA_EXACT=ffma (~1e-6).
// Fast mode: bf16 operands on tensor cores (mma.sync m16n8k16, fp32 accumulation), table copy in bf16.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "bmas_plan.h"
#include "cuda_core.h"
#include "../core/thread_pool.h"

namespace mrcuda {

namespace {

constexpr int kThreads = 256;
constexpr int kBlockRows = 128;  // rows of U per thread block, both kernels
constexpr uint32_t kNegSentinel = 0xFFFFFFFFu;  // below every float under atomicMaxF's ordering
constexpr int kRowPad = 32;  // device row stride: multiple of both kernels' K step

struct KParams {
  const int32_t* uIds;
  const uint32_t* uMask;
  const int32_t* dIds;
  const BmasUnit* units;
  const int32_t* blocks;
  float* rowMax;
  float* colMax;
  int ld;  // row stride of the device table, elements
};

// Max on floats through integer atomics: non-negative floats order like signed ints, negative ones
// reversed like unsigned ints. The all-ones pattern (kNegSentinel) loses against every float, so a
// 0xFF memset initialises a buffer to "minus infinity".
__device__ __forceinline__ void atomicMaxF(float* addr, float v) {
  if (!signbit(v)) atomicMax(reinterpret_cast<int*>(addr), __float_as_int(v));
  else atomicMin(reinterpret_cast<unsigned*>(addr), __float_as_uint(v));
}

// ---------------------------------------------------------------------------------------------
// Exact kernel: fp32 FFMA, 128 rows x (16*TN) columns per chunk, 16x16 threads, 8 x TN per thread.
// Rows of a thread: ty*4 + {0..3} and 64 + ty*4 + {0..3} (two float4 shared loads); columns:
// tx + 16 j (conflict-free scalar loads).
template <int TN>
__global__ void __launch_bounds__(kThreads, 2) bmasExactKernel(KParams p, const float* __restrict__ table) {
  constexpr int BM = kBlockRows, BK = 16, BN = 16 * TN;
  constexpr int B_LOADS = (BN * 4 + kThreads - 1) / kThreads;
  __shared__ __align__(16) float As[BK][BM];
  __shared__ __align__(16) float Bs[BK][BN];
  __shared__ uint32_t smask[BM];
  __shared__ float red[kMaxPairsPerUnit * BN];

  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const BmasUnit u = p.units[p.blocks[2 * blockIdx.x]];
  const int r0 = p.blocks[2 * blockIdx.x + 1];
  const int rows = min(BM, u.uCount - r0);
  const int ld = p.ld;

  for (int i = tid; i < BM; i += kThreads) smask[i] = i < rows ? p.uMask[u.uBegin + r0 + i] : 0u;
  for (int i = tid; i < u.nPairs * BN; i += kThreads) red[i] = __uint_as_float(kNegSentinel);

  const int la = tid >> 2, kq = tid & 3;
  const float* aSrc0 = la < rows ? table + static_cast<size_t>(p.uIds[u.uBegin + r0 + la]) * ld + kq * 4 : nullptr;
  const float* aSrc1 = la + 64 < rows ? table + static_cast<size_t>(p.uIds[u.uBegin + r0 + la + 64]) * ld + kq * 4 : nullptr;
  __syncthreads();

  // Rows of this thread: ty*4 + (i&3) + (i<4 ? 0 : 64); their pair masks stay in shared memory.
  auto rowOf = [&](int i) { return (i < 4 ? 0 : 64) + ty * 4 + (i & 3); };
  uint32_t orMask = 0;
#pragma unroll
  for (int i = 0; i < 8; i++) orMask |= smask[rowOf(i)];
  float rmax[8];
#pragma unroll
  for (int i = 0; i < 8; i++) rmax[i] = -INFINITY;

  const float4 zero4 = make_float4(0.f, 0.f, 0.f, 0.f);
  for (int c0 = 0; c0 < u.dCount; c0 += BN) {
    const float* bSrc[B_LOADS];
#pragma unroll
    for (int l = 0; l < B_LOADS; l++) {
      const int idx = tid + l * kThreads, br = idx >> 2, bq = idx & 3;
      bSrc[l] = (idx < BN * 4 && c0 + br < u.dCount) ? table + static_cast<size_t>(p.dIds[u.dBegin + c0 + br]) * ld + bq * 4 : nullptr;
    }
    float acc[8][TN];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
      for (int j = 0; j < TN; j++) acc[i][j] = 0.f;

    float4 pa0 = aSrc0 ? __ldg(reinterpret_cast<const float4*>(aSrc0)) : zero4;
    float4 pa1 = aSrc1 ? __ldg(reinterpret_cast<const float4*>(aSrc1)) : zero4;
    float4 pb[B_LOADS];
#pragma unroll
    for (int l = 0; l < B_LOADS; l++) pb[l] = bSrc[l] ? __ldg(reinterpret_cast<const float4*>(bSrc[l])) : zero4;

    for (int k0 = 0; k0 < ld; k0 += BK) {
      __syncthreads();
      As[kq * 4 + 0][la] = pa0.x; As[kq * 4 + 1][la] = pa0.y; As[kq * 4 + 2][la] = pa0.z; As[kq * 4 + 3][la] = pa0.w;
      As[kq * 4 + 0][la + 64] = pa1.x; As[kq * 4 + 1][la + 64] = pa1.y; As[kq * 4 + 2][la + 64] = pa1.z; As[kq * 4 + 3][la + 64] = pa1.w;
#pragma unroll
      for (int l = 0; l < B_LOADS; l++) {
        const int idx = tid + l * kThreads;
        if (idx < BN * 4) {
          const int br = idx >> 2, bq = idx & 3;
          Bs[bq * 4 + 0][br] = pb[l].x; Bs[bq * 4 + 1][br] = pb[l].y; Bs[bq * 4 + 2][br] = pb[l].z; Bs[bq * 4 + 3][br] = pb[l].w;
        }
      }
      __syncthreads();
      const int kn = k0 + BK;
      if (kn < ld) {  // prefetch the next slab while this one is multiplied
        pa0 = aSrc0 ? __ldg(reinterpret_cast<const float4*>(aSrc0 + kn)) : zero4;
        pa1 = aSrc1 ? __ldg(reinterpret_cast<const float4*>(aSrc1 + kn)) : zero4;
#pragma unroll
        for (int l = 0; l < B_LOADS; l++) pb[l] = bSrc[l] ? __ldg(reinterpret_cast<const float4*>(bSrc[l] + kn)) : zero4;
      }
#pragma unroll
      for (int k = 0; k < BK; k++) {
        const float4 x0 = *reinterpret_cast<const float4*>(&As[k][ty * 4]);
        const float4 x1 = *reinterpret_cast<const float4*>(&As[k][64 + ty * 4]);
        const float a[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
        float b[TN];
#pragma unroll
        for (int j = 0; j < TN; j++) b[j] = Bs[k][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 8; i++)
#pragma unroll
          for (int j = 0; j < TN; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
    }

    // Epilogue of the chunk: running row maxima, per-pair column maxima.
    bool colOk[TN];
#pragma unroll
    for (int j = 0; j < TN; j++) colOk[j] = c0 + tx + 16 * j < u.dCount;
#pragma unroll
    for (int i = 0; i < 8; i++) {
      float m = rmax[i];
#pragma unroll
      for (int j = 0; j < TN; j++)
        if (colOk[j]) m = fmaxf(m, acc[i][j]);
      rmax[i] = m;
    }
    uint32_t bits = orMask;
    while (bits) {
      const int q = __ffs(bits) - 1;
      bits &= bits - 1;
#pragma unroll
      for (int j = 0; j < TN; j++) {
        if (!colOk[j]) continue;
        float v = -INFINITY;
#pragma unroll
        for (int i = 0; i < 8; i++)
          if ((smask[rowOf(i)] >> q) & 1u) v = fmaxf(v, acc[i][j]);
        atomicMaxF(&red[q * BN + tx + 16 * j], v);
      }
    }
    __syncthreads();
    for (int e = tid; e < u.nPairs * BN; e += kThreads) {
      const int q = e / BN, c = e - q * BN;
      const float v = red[e];
      if (c0 + c < u.dCount && __float_as_uint(v) != kNegSentinel) {
        atomicMaxF(&p.colMax[u.colBegin + static_cast<size_t>(q) * u.dCount + c0 + c], v);
      }
      red[e] = __uint_as_float(kNegSentinel);
    }
    // The next chunk's first barrier orders these resets before its epilogue.
  }

  // The 16 threads of a row group sit in one half-warp: reduce there.
#pragma unroll
  for (int i = 0; i < 8; i++) {
    float m = rmax[i];
    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 8));
    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 4));
    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
    if (tx == 0 && rowOf(i) < rows) p.rowMax[u.uBegin + r0 + rowOf(i)] = m;
  }
}

// ---------------------------------------------------------------------------------------------
// Fast kernel: bf16 tensor cores. 8 warps as 2 (rows, 64 each) x 4 (columns, 8*NT each);
// K step 32 in a 3-stage cp.async pipeline; fragments through ldmatrix from padded rows (40 bf16 =
// 80 bytes: the 8 row addresses of one ldmatrix phase hit distinct 16-byte bank groups).
constexpr int kFastBK = 32, kFastBKP = 40, kFastStages = 3;

template <int NT, bool SPLIT>
struct FastSmem {
  static constexpr int BN = 32 * NT;
  static constexpr int PARTS = SPLIT ? 2 : 1;  // hi (and lo) halves of each operand
  // Split stages are twice as large: two of them keep two blocks per SM within 228 KB.
  static constexpr int STAGES = SPLIT ? 2 : kFastStages;
  static constexpr int A_ELEMS = kBlockRows * kFastBKP, B_ELEMS = BN * kFastBKP;
  static constexpr int STAGE_ELEMS = PARTS * (A_ELEMS + B_ELEMS);
  static constexpr size_t bytes() {
    return static_cast<size_t>(STAGES) * STAGE_ELEMS * 2 + kBlockRows * 4 /*mask*/ + kBlockRows * 4 /*row max*/ +
           static_cast<size_t>(kMaxPairsPerUnit) * BN * 4 /*red*/;
  }
};

__device__ __forceinline__ void cpAsync16(void* smem, const void* gmem, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int n = valid ? 16 : 0;  // 0: zero-fill, nothing read
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(n));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cpAsyncWait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrixX4(uint32_t (&r)[4], const void* smem) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

__device__ __forceinline__ void mmaBf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// SPLIT (exact mode on tensor cores): each operand x = hi + lo with hi = bf16(x), lo = bf16(x - hi)
// (|x - hi - lo| <= 2^-17 |x|), and a.b ~ hi.hi + hi.lo + lo.hi: the dropped lo.lo term and the
// representation error are ~2^-16 of sum |a_k b_k| <= 1 for unit rows, i.e. ~1.5e-5, within the
// 1e-4 budget with fp32 accumulation. Three MMAs per product instead of one.
template <int NT, bool SPLIT>
__global__ void __launch_bounds__(kThreads, 2) bmasFastKernel(KParams p, const __nv_bfloat16* __restrict__ table,
                                                                const __nv_bfloat16* __restrict__ tableLo) {
  using SM = FastSmem<NT, SPLIT>;
  constexpr int BM = kBlockRows, BN = SM::BN, MT = 4;
  constexpr int B_LOADS = BN * 4 / kThreads;  // 16-byte pieces of B per thread per slab
  extern __shared__ __align__(16) unsigned char smemRaw[];
  // Stage s: A hi | B hi | A lo | B lo (lo parts only when SPLIT).
  __nv_bfloat16* stages = reinterpret_cast<__nv_bfloat16*>(smemRaw);
  uint32_t* smask = reinterpret_cast<uint32_t*>(stages + SM::STAGES * SM::STAGE_ELEMS);
  float* srow = reinterpret_cast<float*>(smask + BM);
  float* red = srow + BM;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp & 1, wn = warp >> 1;
  const BmasUnit u = p.units[p.blocks[2 * blockIdx.x]];
  const int r0 = p.blocks[2 * blockIdx.x + 1];
  const int rows = min(BM, u.uCount - r0);
  const int ld = p.ld;

  for (int i = tid; i < BM; i += kThreads) {
    smask[i] = i < rows ? p.uMask[u.uBegin + r0 + i] : 0u;
    srow[i] = __uint_as_float(kNegSentinel);
  }
  for (int i = tid; i < u.nPairs * BN; i += kThreads) red[i] = __uint_as_float(kNegSentinel);

  // A pieces of this thread: rows tid>>2 and 64 + tid>>2, 16-byte column piece tid&3.
  const int aRow = tid >> 2, aPiece = tid & 3;
  const bool aOk0 = aRow < rows, aOk1 = aRow + 64 < rows;
  const size_t aOff0 = (aOk0 ? static_cast<size_t>(p.uIds[u.uBegin + r0 + aRow]) * ld : 0) + aPiece * 8;
  const size_t aOff1 = (aOk1 ? static_cast<size_t>(p.uIds[u.uBegin + r0 + aRow + 64]) * ld : 0) + aPiece * 8;
  __syncthreads();

  int rowOf[2 * MT];
  uint32_t maskOf[2 * MT];
  uint32_t orMask = 0;
#pragma unroll
  for (int i = 0; i < 2 * MT; i++) {
    rowOf[i] = wm * 64 + (i >> 1) * 16 + (i & 1) * 8 + (lane >> 2);
    maskOf[i] = smask[rowOf[i]];
    orMask |= maskOf[i];
  }
  const uint32_t warpMask = __reduce_or_sync(0xffffffffu, orMask);
  float rmax[2 * MT];
#pragma unroll
  for (int i = 0; i < 2 * MT; i++) rmax[i] = -INFINITY;

  const int nk = ld / kFastBK;
  for (int c0 = 0; c0 < u.dCount; c0 += BN) {
    size_t bOff[B_LOADS];
    bool bOk[B_LOADS];
#pragma unroll
    for (int l = 0; l < B_LOADS; l++) {
      const int idx = tid + l * kThreads, br = idx >> 2, bp = idx & 3;
      bOk[l] = c0 + br < u.dCount;
      bOff[l] = (bOk[l] ? static_cast<size_t>(p.dIds[u.dBegin + c0 + br]) * ld : 0) + bp * 8;
    }
    auto issue = [&](int slab, int stage) {
      const int k = slab * kFastBK;
#pragma unroll
      for (int part = 0; part < SM::PARTS; part++) {
        const __nv_bfloat16* src = part == 0 ? table : tableLo;
        __nv_bfloat16* as = stages + stage * SM::STAGE_ELEMS + part * (SM::A_ELEMS + SM::B_ELEMS);
        __nv_bfloat16* bs = as + SM::A_ELEMS;
        cpAsync16(as + aRow * kFastBKP + aPiece * 8, src + aOff0 + k, aOk0);
        cpAsync16(as + (aRow + 64) * kFastBKP + aPiece * 8, src + aOff1 + k, aOk1);
#pragma unroll
        for (int l = 0; l < B_LOADS; l++) {
          const int idx = tid + l * kThreads, br = idx >> 2, bp = idx & 3;
          cpAsync16(bs + br * kFastBKP + bp * 8, src + bOff[l] + k, bOk[l]);
        }
      }
    };

    float acc[MT][NT][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
      for (int nt = 0; nt < NT; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) acc[mt][nt][e] = 0.f;

#pragma unroll
    for (int s = 0; s < SM::STAGES - 1; s++) {
      if (s < nk) issue(s, s);
      cpAsyncCommit();
    }
    for (int s = 0; s < nk; s++) {
      cpAsyncWait<SM::STAGES - 2>();
      __syncthreads();
      const int nxt = s + SM::STAGES - 1;
      if (nxt < nk) issue(nxt, nxt % SM::STAGES);
      cpAsyncCommit();
      const __nv_bfloat16* as = stages + (s % SM::STAGES) * SM::STAGE_ELEMS;
      const __nv_bfloat16* bs = as + SM::A_ELEMS;
      const __nv_bfloat16* asLo = bs + SM::B_ELEMS;  // used only when SPLIT
      const __nv_bfloat16* bsLo = asLo + SM::A_ELEMS;
#pragma unroll
      for (int ks = 0; ks < kFastBK / 16; ks++) {
        uint32_t bf[NT][2], bfLo[NT][2];
#pragma unroll
        for (int np = 0; np < NT / 2; np++) {
          const int off = (wn * NT * 8 + np * 16 + (lane & 7) + ((lane >> 4) << 3)) * kFastBKP + ks * 16 + ((lane >> 3) & 1) * 8;
          uint32_t r[4];
          ldmatrixX4(r, bs + off);
          bf[2 * np][0] = r[0];
          bf[2 * np][1] = r[1];
          bf[2 * np + 1][0] = r[2];
          bf[2 * np + 1][1] = r[3];
          if (SPLIT) {
            ldmatrixX4(r, bsLo + off);
            bfLo[2 * np][0] = r[0];
            bfLo[2 * np][1] = r[1];
            bfLo[2 * np + 1][0] = r[2];
            bfLo[2 * np + 1][1] = r[3];
          }
        }
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
          const int off = (wm * 64 + mt * 16 + (lane & 15)) * kFastBKP + ks * 16 + (lane >> 4) * 8;
          uint32_t af[4];
          ldmatrixX4(af, as + off);
          if (SPLIT) {
            uint32_t afLo[4];
            ldmatrixX4(afLo, asLo + off);
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
              mmaBf16(acc[mt][nt], afLo, bf[nt][0], bf[nt][1]);
              mmaBf16(acc[mt][nt], af, bfLo[nt][0], bfLo[nt][1]);
            }
          }
#pragma unroll
          for (int nt = 0; nt < NT; nt++) mmaBf16(acc[mt][nt], af, bf[nt][0], bf[nt][1]);
        }
      }
    }

    // Epilogue. Thread element acc[mt][nt][h*2+e] is row rowOf[mt*2+h], column
    // wn*8NT + nt*8 + (lane&3)*2 + e.
    bool colOk[NT][2];
#pragma unroll
    for (int nt = 0; nt < NT; nt++)
#pragma unroll
      for (int e = 0; e < 2; e++) colOk[nt][e] = c0 + wn * NT * 8 + nt * 8 + (lane & 3) * 2 + e < u.dCount;
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
      for (int h = 0; h < 2; h++) {
        float m = rmax[mt * 2 + h];
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
          for (int e = 0; e < 2; e++)
            if (colOk[nt][e]) m = fmaxf(m, acc[mt][nt][h * 2 + e]);
        rmax[mt * 2 + h] = m;
      }
    uint32_t bits = warpMask;
    while (bits) {
      const int q = __ffs(bits) - 1;
      bits &= bits - 1;
      float v[NT][2];
#pragma unroll
      for (int nt = 0; nt < NT; nt++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
          float m = -INFINITY;
#pragma unroll
          for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int h = 0; h < 2; h++)
              if ((maskOf[mt * 2 + h] >> q) & 1u) m = fmaxf(m, acc[mt][nt][h * 2 + e]);
          // Lanes with equal lane&3 hold the same columns over the warp's 64 rows.
          m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 4));
          m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 8));
          m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 16));
          v[nt][e] = m;
        }
      if (lane < 4) {
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
          for (int e = 0; e < 2; e++)
            if (colOk[nt][e] && v[nt][e] != -INFINITY) atomicMaxF(&red[q * BN + wn * NT * 8 + nt * 8 + lane * 2 + e], v[nt][e]);
      }
    }
    __syncthreads();
    for (int e = tid; e < u.nPairs * BN; e += kThreads) {
      const int q = e / BN, c = e - q * BN;
      const float v = red[e];
      if (c0 + c < u.dCount && __float_as_uint(v) != kNegSentinel) {
        atomicMaxF(&p.colMax[u.colBegin + static_cast<size_t>(q) * u.dCount + c0 + c], v);
      }
      red[e] = __uint_as_float(kNegSentinel);
    }
    __syncthreads();  // stage buffers and red are rewritten by the next chunk
  }

  // Row maxima: lanes with equal lane>>2 share rows; then the 4 column warps meet in shared memory.
#pragma unroll
  for (int i = 0; i < 2 * MT; i++) {
    float m = rmax[i];
    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
    if ((lane & 3) == 0 && rowOf[i] < rows) atomicMaxF(&srow[rowOf[i]], m);
  }
  __syncthreads();
  for (int i = tid; i < rows; i += kThreads) p.rowMax[u.uBegin + r0 + i] = srow[i];
}

// hi = bf16(x); lo = bf16(x - hi) when `lo` is given (the split operands of exact mode).
__global__ void toBf16Kernel(const float* __restrict__ src, __nv_bfloat16* __restrict__ hi, __nv_bfloat16* __restrict__ lo, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float x = src[i];
    const __nv_bfloat16 h = __float2bfloat16_rn(x);
    hi[i] = h;
    if (lo) lo[i] = __float2bfloat16_rn(x - __bfloat162float(h));
  }
}

// Column width per chunk: the candidate that wastes the least padded work over all blocks,
// counting a fixed overhead per chunk for re-reading the block's rows.
template <size_t K>
int pickWidth(const BmasPlan& plan, const int (&widths)[K]) {
  int best = widths[0];
  double bestCost = -1;
  for (int w : widths) {
    double cost = 0;
    for (size_t b = 0; b < plan.blocks.size(); b += 2) {
      const int d = plan.units[plan.blocks[b]].dCount;
      const int chunks = (d + w - 1) / w;
      cost += chunks * (w + 24.0);
    }
    if (bestCost < 0 || cost < bestCost) {
      bestCost = cost;
      best = w;
    }
  }
  return best;
}

std::string cudaMsg(const char* what, cudaError_t e);

template <int NT, bool SPLIT>
Result launchMma(unsigned grid, cudaStream_t stream, const KParams& kp, const __nv_bfloat16* hi, const __nv_bfloat16* lo) {
  const size_t smem = FastSmem<NT, SPLIT>::bytes();
  cudaError_t e = cudaFuncSetAttribute(bmasFastKernel<NT, SPLIT>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  if (e != cudaSuccess) return Result::fail(Status::Native, cudaMsg("cudaFuncSetAttribute", e));
  bmasFastKernel<NT, SPLIT><<<grid, kThreads, smem, stream>>>(kp, hi, lo);
  return {};
}

std::string cudaMsg(const char* what, cudaError_t e) {
  return std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
}

#define MR_CUDA(call)                                                        \
  do {                                                                       \
    cudaError_t e_ = (call);                                                 \
    if (e_ != cudaSuccess) return Result::fail(Status::Native, cudaMsg(#call, e_)); \
  } while (0)

template <typename T>
Result growDevice(T*& ptr, size_t& cap, size_t bytes) {
  if (bytes <= cap) return {};
  const size_t want = std::max(bytes, cap * 3 / 2);  // geometric growth: few reallocations
  if (ptr) cudaFree(ptr);
  ptr = nullptr;
  cap = 0;
  MR_CUDA(cudaMalloc(reinterpret_cast<void**>(&ptr), want));
  cap = want;
  return {};
}

template <typename T>
Result growHost(T*& ptr, size_t& cap, size_t bytes) {
  if (bytes <= cap) return {};
  if (ptr) cudaFreeHost(ptr);
  ptr = nullptr;
  cap = 0;
  MR_CUDA(cudaMallocHost(reinterpret_cast<void**>(&ptr), bytes));
  cap = bytes;
  return {};
}

}  // namespace

class DeviceTable {
 public:
  int vocab = 0, dim = 0, ld = 0;
  float* f32 = nullptr;
  __nv_bfloat16* bf16 = nullptr;    // hi part, made on the first tensor-core batch
  __nv_bfloat16* bf16Lo = nullptr;  // lo part, made on the first split-exact batch
  cudaStream_t stream = nullptr;
  cudaEvent_t ev0 = nullptr, ev1 = nullptr, ev2 = nullptr;
  // Scratch reused across batches (grown on demand): packed inputs and outputs.
  unsigned char* dIn = nullptr; size_t dInCap = 0;
  unsigned char* hIn = nullptr; size_t hInCap = 0;
  float* dOut = nullptr; size_t dOutCap = 0;
  float* hOut = nullptr; size_t hOutCap = 0;
  BmasPlan plan;
  std::mutex mu;  // one batch at a time per table; dispose waits for it
  bool disposed = false;

  void release() {
    if (f32) cudaFree(f32);
    if (bf16) cudaFree(bf16);
    if (bf16Lo) cudaFree(bf16Lo);
    if (dIn) cudaFree(dIn);
    if (dOut) cudaFree(dOut);
    if (hIn) cudaFreeHost(hIn);
    if (hOut) cudaFreeHost(hOut);
    if (ev0) cudaEventDestroy(ev0);
    if (ev1) cudaEventDestroy(ev1);
    if (ev2) cudaEventDestroy(ev2);
    if (stream) cudaStreamDestroy(stream);
    f32 = nullptr; bf16 = nullptr; bf16Lo = nullptr; dIn = nullptr; dOut = nullptr; hIn = nullptr; hOut = nullptr;
    ev0 = ev1 = ev2 = nullptr; stream = nullptr;
    dInCap = hInCap = dOutCap = hOutCap = 0;
  }
};

int tableVocab(const DeviceTable* t) { return t->vocab; }
int tableDim(const DeviceTable* t) { return t->dim; }

Result tableCreate(const float* rows, int vocabSize, int dim, DeviceTable** out) {
  *out = nullptr;
  if (vocabSize < 1 || dim < 1) return Result::fail(Status::InvalidArgument, "vocabSize and dim must be positive");
  auto* t = new DeviceTable();
  t->vocab = vocabSize;
  t->dim = dim;
  t->ld = (dim + kRowPad - 1) / kRowPad * kRowPad;
  auto fail = [&](Result r) {
    t->release();
    delete t;
    return r;
  };
  Result r;
  const size_t bytes = static_cast<size_t>(vocabSize) * t->ld * sizeof(float);
  cudaError_t e = cudaStreamCreateWithFlags(&t->stream, cudaStreamNonBlocking);
  if (e == cudaSuccess) e = cudaEventCreate(&t->ev0);
  if (e == cudaSuccess) e = cudaEventCreate(&t->ev1);
  if (e == cudaSuccess) e = cudaEventCreate(&t->ev2);
  if (e == cudaSuccess) e = cudaMalloc(reinterpret_cast<void**>(&t->f32), bytes);
  if (e == cudaSuccess && t->ld != dim) e = cudaMemsetAsync(t->f32, 0, bytes, t->stream);
  if (e == cudaSuccess) {
    e = cudaMemcpy2DAsync(t->f32, t->ld * sizeof(float), rows, dim * sizeof(float), dim * sizeof(float), vocabSize,
                          cudaMemcpyHostToDevice, t->stream);
  }
  if (e == cudaSuccess) e = cudaStreamSynchronize(t->stream);
  if (e != cudaSuccess) return fail(Result::fail(Status::Native, cudaMsg("uploading the embedding table", e)));
  *out = t;
  return r;
}

void tableDispose(DeviceTable* t) {
  if (!t) return;
  std::lock_guard<std::mutex> lock(t->mu);
  t->disposed = true;
  t->release();
}

void tableDestroy(DeviceTable* t) {
  tableDispose(t);
  delete t;
}

Result bmasRun(DeviceTable* t, const BmasInput& in, float* out, float* kernelMs, BmasPhases* phases) {
  *kernelMs = 0;
  BmasPhases local;
  BmasPhases& ph = phases ? *phases : local;
  ph = BmasPhases{};
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point a) { return std::chrono::duration<double, std::milli>(Clock::now() - a).count(); };
  std::lock_guard<std::mutex> lock(t->mu);
  if (t->disposed || !t->f32) return Result::fail(Status::Native, "the embedding table's device copy was disposed");
  BmasPlan& plan = t->plan;
  auto tp = Clock::now();
  planBmas(in, t->vocab, kBlockRows, plan);
  ph.plan = since(tp);
  if (plan.units.empty()) {
    tp = Clock::now();
    finishBmas(plan, in, nullptr, nullptr, out);
    ph.finish = since(tp);
    return {};
  }
  tp = Clock::now();
  if (plan.colTotal > 0x7fffffff || plan.uIds.size() > 0x7fffffffu) {
    return Result::fail(Status::InvalidArgument, "batch too large for one GPU launch (split it)");
  }
  const bool fast = in.precision == 1;
  // Exact mode runs split-bf16 on tensor cores; MIXED_REWARD_CUDA_EXACT=ffma selects the fp32 FFMA
  // kernel (the reference path, also used by the benchmark for comparison).
  const char* exactEnv = std::getenv("MIXED_REWARD_CUDA_EXACT");
  const bool ffma = !fast && exactEnv && std::strcmp(exactEnv, "ffma") == 0;
  const bool split = !fast && !ffma;
  const size_t nElems = static_cast<size_t>(t->vocab) * t->ld;
  if ((fast || split) && !t->bf16) {
    MR_CUDA(cudaMalloc(reinterpret_cast<void**>(&t->bf16), nElems * sizeof(__nv_bfloat16)));
    toBf16Kernel<<<1024, 256, 0, t->stream>>>(t->f32, t->bf16, nullptr, nElems);
    MR_CUDA(cudaGetLastError());
  }
  if (split && !t->bf16Lo) {
    MR_CUDA(cudaMalloc(reinterpret_cast<void**>(&t->bf16Lo), nElems * sizeof(__nv_bfloat16)));
    toBf16Kernel<<<1024, 256, 0, t->stream>>>(t->f32, t->bf16, t->bf16Lo, nElems);
    MR_CUDA(cudaGetLastError());
  }

  // Packed input: units | blocks | uIds | uMask | dIds, each 16-byte aligned.
  auto align16 = [](size_t x) { return (x + 15) / 16 * 16; };
  const size_t szUnits = align16(plan.units.size() * sizeof(BmasUnit));
  const size_t szBlocks = align16(plan.blocks.size() * sizeof(int32_t));
  const size_t szU = align16(plan.uIds.size() * sizeof(int32_t));
  const size_t szD = align16(plan.dIds.size() * sizeof(int32_t));
  const size_t inBytes = szUnits + szBlocks + 2 * szU + szD;
  Result r = growHost(t->hIn, t->hInCap, inBytes);
  if (!r.ok()) return r;
  r = growDevice(t->dIn, t->dInCap, inBytes);
  if (!r.ok()) return r;
  struct Piece {
    const void* src;
    size_t bytes, at;
  };
  Piece pieces[5];
  int nPieces = 0;
  size_t off = 0;
  auto put = [&](const void* src, size_t n, size_t sz) {
    pieces[nPieces++] = Piece{src, n, off};
    const size_t at = off;
    off += sz;
    return at;
  };
  const size_t oUnits = put(plan.units.data(), plan.units.size() * sizeof(BmasUnit), szUnits);
  const size_t oBlocks = put(plan.blocks.data(), plan.blocks.size() * sizeof(int32_t), szBlocks);
  const size_t oU = put(plan.uIds.data(), plan.uIds.size() * sizeof(int32_t), szU);
  const size_t oMask = put(plan.uMask.data(), plan.uMask.size() * sizeof(uint32_t), szU);
  const size_t oD = put(plan.dIds.data(), plan.dIds.size() * sizeof(int32_t), szD);
  auto copyPiece = [&](std::size_t k) {
    if (pieces[k].bytes) std::memcpy(t->hIn + pieces[k].at, pieces[k].src, pieces[k].bytes);
  };
  // Row ids and masks are most of the bytes (1 MB for the GRPO batch): copy the pieces side by side.
  if (inBytes >= (256u << 10)) mr::parallel_for(nPieces, copyPiece);
  else
    for (int k = 0; k < nPieces; k++) copyPiece(k);

  const size_t nRow = plan.uIds.size(), nCol = static_cast<size_t>(plan.colTotal);
  const size_t outBytes = (nRow + nCol) * sizeof(float);
  r = growHost(t->hOut, t->hOutCap, outBytes);
  if (!r.ok()) return r;
  r = growDevice(t->dOut, t->dOutCap, outBytes);
  if (!r.ok()) return r;

  KParams kp;
  kp.units = reinterpret_cast<const BmasUnit*>(t->dIn + oUnits);
  kp.blocks = reinterpret_cast<const int32_t*>(t->dIn + oBlocks);
  kp.uIds = reinterpret_cast<const int32_t*>(t->dIn + oU);
  kp.uMask = reinterpret_cast<const uint32_t*>(t->dIn + oMask);
  kp.dIds = reinterpret_cast<const int32_t*>(t->dIn + oD);
  kp.rowMax = t->dOut;
  kp.colMax = t->dOut + nRow;
  kp.ld = t->ld;

  MR_CUDA(cudaMemcpyAsync(t->dIn, t->hIn, inBytes, cudaMemcpyHostToDevice, t->stream));
  MR_CUDA(cudaMemsetAsync(kp.colMax, 0xFF, nCol * sizeof(float), t->stream));
  ph.stage = since(tp);
  tp = Clock::now();
  const unsigned grid = static_cast<unsigned>(plan.blocks.size() / 2);
  MR_CUDA(cudaEventRecord(t->ev0, t->stream));
  if (fast || split) {
    static const int widths[] = {64, 128};
    const bool wide = pickWidth(plan, widths) == 128;
    if (fast && !wide) r = launchMma<2, false>(grid, t->stream, kp, t->bf16, nullptr);
    else if (fast) r = launchMma<4, false>(grid, t->stream, kp, t->bf16, nullptr);
    else if (!wide) r = launchMma<2, true>(grid, t->stream, kp, t->bf16, t->bf16Lo);
    else r = launchMma<4, true>(grid, t->stream, kp, t->bf16, t->bf16Lo);
    if (!r.ok()) return r;
  } else {
    static const int widths[] = {32, 64, 96, 128};
    switch (pickWidth(plan, widths)) {
      case 32: bmasExactKernel<2><<<grid, kThreads, 0, t->stream>>>(kp, t->f32); break;
      case 64: bmasExactKernel<4><<<grid, kThreads, 0, t->stream>>>(kp, t->f32); break;
      case 96: bmasExactKernel<6><<<grid, kThreads, 0, t->stream>>>(kp, t->f32); break;
      default: bmasExactKernel<8><<<grid, kThreads, 0, t->stream>>>(kp, t->f32); break;
    }
  }
  MR_CUDA(cudaGetLastError());
  MR_CUDA(cudaEventRecord(t->ev1, t->stream));
  MR_CUDA(cudaMemcpyAsync(t->hOut, t->dOut, outBytes, cudaMemcpyDeviceToHost, t->stream));
  MR_CUDA(cudaEventRecord(t->ev2, t->stream));
  ph.launch = since(tp);
  tp = Clock::now();
  MR_CUDA(cudaStreamSynchronize(t->stream));
  ph.wait = since(tp);
  float ms = 0;
  MR_CUDA(cudaEventElapsedTime(&ms, t->ev0, t->ev1));
  *kernelMs = ms;
  ph.kernel = ms;
  if (phases) MR_CUDA(cudaEventElapsedTime(&ph.d2h, t->ev1, t->ev2));
  tp = Clock::now();
  finishBmas(plan, in, t->hOut, t->hOut + nRow, out);
  ph.finish = since(tp);
  return {};
}

ProbeInfo probe() {
  ProbeInfo info;
  cudaDriverGetVersion(&info.driverVersion);
  cudaRuntimeGetVersion(&info.runtimeVersion);
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaErrorInsufficientDriver || (e != cudaSuccess && info.driverVersion == 0)) {
    info.reason = info.driverVersion == 0
                      ? std::string("no CUDA driver")
                      : "CUDA driver too old (driver " + std::to_string(info.driverVersion) + ", runtime " + std::to_string(info.runtimeVersion) + ")";
    return info;
  }
  if (e == cudaErrorNoDevice || (e == cudaSuccess && count == 0)) {
    info.reason = "no device";
    return info;
  }
  if (e != cudaSuccess) {
    info.reason = cudaMsg("cudaGetDeviceCount", e);
    return info;
  }
  cudaDeviceProp prop;
  const cudaError_t pe = cudaGetDeviceProperties(&prop, 0);
  if (pe != cudaSuccess) {
    info.reason = cudaMsg("cudaGetDeviceProperties", pe);
    return info;
  }
  info.device = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.computeCapability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  info.memoryBytes = prop.totalGlobalMem;
  info.multiprocessors = prop.multiProcessorCount;
  if (prop.major < 8) {
    info.reason = "unsupported device " + info.device + " (compute capability " + info.computeCapability + "; needs 8.0 or newer)";
    return info;
  }
  // A kernel image for this device must exist (sm_80 / sm_90 code, or PTX the driver can compile).
  cudaFuncAttributes attr;
  const cudaError_t ke = cudaFuncGetAttributes(&attr, bmasFastKernel<4, false>);
  if (ke != cudaSuccess) {
    info.reason = "no kernel image for " + info.device + ": " + cudaGetErrorString(ke);
    return info;
  }
  info.ok = true;
  return info;
}

}  // namespace mrcuda
