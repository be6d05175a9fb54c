// Box IoU kernels. One generic body per kernel, written so the compiler vectorises it (no
// branches, selects instead), instantiated three times: baseline, AVX2 and AVX-512 through
// target attributes, chosen at run time. float input is computed in float (the inputs carry no
// more precision), double in double; a pair whose union or enclosing area underflows to 0 or
// overflows is recomputed by the long-double reference, so no input yields NaN or a wrong 0.
// FP exceptions are never inspected here; without this, GCC will not if-convert the comparisons
// and the loops stay scalar.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "box_iou.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "isa.h"
#include "thread_pool.h"

#if defined(__GNUC__)
#define MR_INLINE inline __attribute__((always_inline))
#else
#define MR_INLINE inline
#endif

namespace mr {

namespace {

template <class T>
long double ld_iou(const T* a, const T* b, bool giou) {
  using L = long double;
  const L ax1 = a[0], ay1 = a[1], ax2 = a[2], ay2 = a[3];
  const L bx1 = b[0], by1 = b[1], bx2 = b[2], by2 = b[3];
  auto valid = [](L x1, L y1, L x2, L y2) {
    return std::isfinite(x1) && std::isfinite(y1) && std::isfinite(x2) && std::isfinite(y2) && x2 > x1 && y2 > y1;
  };
  if (!valid(ax1, ay1, ax2, ay2) || !valid(bx1, by1, bx2, by2)) return 0;
  const L iw = std::max<L>(0, std::min(ax2, bx2) - std::max(ax1, bx1));
  const L ih = std::max<L>(0, std::min(ay2, by2) - std::max(ay1, by1));
  const L inter = iw * ih;
  const L uni = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  if (!(uni > 0)) return 0;
  L r = inter / uni;
  if (giou) {
    const L encl = (std::max(ax2, bx2) - std::min(ax1, bx1)) * (std::max(ay2, by2) - std::min(ay1, by1));
    if (encl > 0) r -= (encl - uni) / encl;
  }
  return r;
}

// Returns true when some valid pair needs the long-double fix-up.
template <class T, bool G>
MR_INLINE bool elem_body(const T* __restrict a, const T* __restrict b, float* __restrict out, std::size_t n) {
  const T big = std::numeric_limits<T>::max();
  T bad = 0;  // a T, not an int: keeps the loop in one vector width
  for (std::size_t i = 0; i < n; ++i) {
    const T ax1 = a[4 * i], ay1 = a[4 * i + 1], ax2 = a[4 * i + 2], ay2 = a[4 * i + 3];
    const T bx1 = b[4 * i], by1 = b[4 * i + 1], bx2 = b[4 * i + 2], by2 = b[4 * i + 3];
    const bool va = (ax2 > ax1) & (ay2 > ay1) & (std::fabs(ax1) <= big) & (std::fabs(ay1) <= big) &
                    (std::fabs(ax2) <= big) & (std::fabs(ay2) <= big);
    const bool vb = (bx2 > bx1) & (by2 > by1) & (std::fabs(bx1) <= big) & (std::fabs(by1) <= big) &
                    (std::fabs(bx2) <= big) & (std::fabs(by2) <= big);
    T iw = std::min(ax2, bx2) - std::max(ax1, bx1);
    T ih = std::min(ay2, by2) - std::max(ay1, by1);
    iw = iw > T(0) ? iw : T(0);
    ih = ih > T(0) ? ih : T(0);
    const T inter = iw * ih;
    const T uni = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
    T r = inter / uni;
    bool ok = (uni > T(0)) & (uni <= big);
    if (G) {
      const T encl = (std::max(ax2, bx2) - std::min(ax1, bx1)) * (std::max(ay2, by2) - std::min(ay1, by1));
      r = r - (encl - uni) / encl;
      ok = ok & (encl <= big);
    }
    const bool v = va & vb;
    bad = (v & !ok) ? T(1) : bad;
    const T res = (v & ok) ? r : T(0);
    out[i] = static_cast<float>(res);
  }
  return bad != T(0);
}

// The second operand of a matrix, as separate coordinate arrays (invalid boxes flagged).
template <class T>
struct SoA {
  std::vector<T> x1, y1, x2, y2, area;
  std::vector<T> valid;  // 1 or 0, as T so the row loop stays one vector type
};

template <class T, bool G>
MR_INLINE bool row_body(const T* __restrict a, const SoA<T>& s, float* __restrict out, std::size_t m) {
  const T big = std::numeric_limits<T>::max();
  const T ax1 = a[0], ay1 = a[1], ax2 = a[2], ay2 = a[3];
  const T area_a = (ax2 - ax1) * (ay2 - ay1);
  const T* __restrict bx1 = s.x1.data();
  const T* __restrict by1 = s.y1.data();
  const T* __restrict bx2 = s.x2.data();
  const T* __restrict by2 = s.y2.data();
  const T* __restrict ba = s.area.data();
  const T* __restrict bv = s.valid.data();
  T bad = 0;  // a T, not an int: keeps the loop in one vector width
  for (std::size_t j = 0; j < m; ++j) {
    T iw = std::min(ax2, bx2[j]) - std::max(ax1, bx1[j]);
    T ih = std::min(ay2, by2[j]) - std::max(ay1, by1[j]);
    iw = iw > T(0) ? iw : T(0);
    ih = ih > T(0) ? ih : T(0);
    const T inter = iw * ih;
    const T uni = area_a + ba[j] - inter;
    T r = inter / uni;
    bool ok = (uni > T(0)) & (uni <= big);
    if (G) {
      const T encl = (std::max(ax2, bx2[j]) - std::min(ax1, bx1[j])) * (std::max(ay2, by2[j]) - std::min(ay1, by1[j]));
      r = r - (encl - uni) / encl;
      ok = ok & (encl <= big);
    }
    const bool v = bv[j] > T(0);
    bad = (v & !ok) ? T(1) : bad;
    const T res = (v & ok) ? r : T(0);
    out[j] = static_cast<float>(res);
  }
  return bad != T(0);
}

template <class T, bool G>
bool elem_base(const T* a, const T* b, float* out, std::size_t n) { return elem_body<T, G>(a, b, out, n); }
template <class T, bool G>
bool row_base(const T* a, const SoA<T>& s, float* out, std::size_t m) { return row_body<T, G>(a, s, out, m); }

#if defined(__x86_64__) || defined(_M_X64)
#define MR_T_AVX2 __attribute__((target("avx2,fma")))
#define MR_T_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
template <class T, bool G>
MR_T_AVX2 bool elem_avx2(const T* a, const T* b, float* out, std::size_t n) { return elem_body<T, G>(a, b, out, n); }
template <class T, bool G>
MR_T_AVX512 bool elem_avx512(const T* a, const T* b, float* out, std::size_t n) { return elem_body<T, G>(a, b, out, n); }
template <class T, bool G>
MR_T_AVX2 bool row_avx2(const T* a, const SoA<T>& s, float* out, std::size_t m) { return row_body<T, G>(a, s, out, m); }
template <class T, bool G>
MR_T_AVX512 bool row_avx512(const T* a, const SoA<T>& s, float* out, std::size_t m) { return row_body<T, G>(a, s, out, m); }
#endif

template <class T, bool G>
bool elem_dispatch(const T* a, const T* b, float* out, std::size_t n) {
#if defined(__x86_64__) || defined(_M_X64)
  switch (isa_active()) {
    case Isa::Avx512: return elem_avx512<T, G>(a, b, out, n);
    case Isa::Avx2: return elem_avx2<T, G>(a, b, out, n);
    default: break;
  }
#endif
  return elem_base<T, G>(a, b, out, n);
}

template <class T, bool G>
bool row_dispatch(const T* a, const SoA<T>& s, float* out, std::size_t m) {
#if defined(__x86_64__) || defined(_M_X64)
  switch (isa_active()) {
    case Isa::Avx512: return row_avx512<T, G>(a, s, out, m);
    case Isa::Avx2: return row_avx2<T, G>(a, s, out, m);
    default: break;
  }
#endif
  return row_base<T, G>(a, s, out, m);
}

constexpr std::size_t kElemBlock = 16384;        // boxes per work item (~512 KB of input)
constexpr std::size_t kParallelFrom = 1u << 16;  // below this, thread hand-off costs more than it saves
constexpr std::size_t kMatrixBlock = 32768;      // outputs per work item

template <class T, bool G>
void elem_run(const T* a, const T* b, float* out, std::size_t n) {
  auto block = [&](std::size_t i0, std::size_t i1) {
    if (elem_dispatch<T, G>(a + 4 * i0, b + 4 * i0, out + i0, i1 - i0)) {
      for (std::size_t i = i0; i < i1; ++i) out[i] = static_cast<float>(ld_iou(a + 4 * i, b + 4 * i, G));
    }
  };
  if (n < kParallelFrom) {
    for (std::size_t i0 = 0; i0 < n; i0 += kElemBlock) block(i0, std::min(n, i0 + kElemBlock));
    return;
  }
  parallel_for((n + kElemBlock - 1) / kElemBlock, [&](std::size_t k) {
    block(k * kElemBlock, std::min(n, (k + 1) * kElemBlock));
  });
}

template <class T, bool G>
void matrix_run(const T* a, std::size_t n, const T* b, std::size_t m, float* out) {
  if (n == 0 || m == 0) return;
  const T big = std::numeric_limits<T>::max();
  SoA<T> s;
  s.x1.resize(m); s.y1.resize(m); s.x2.resize(m); s.y2.resize(m); s.area.resize(m); s.valid.resize(m);
  for (std::size_t j = 0; j < m; ++j) {
    const T x1 = b[4 * j], y1 = b[4 * j + 1], x2 = b[4 * j + 2], y2 = b[4 * j + 3];
    const bool v = x2 > x1 && y2 > y1 && std::fabs(x1) <= big && std::fabs(y1) <= big && std::fabs(x2) <= big &&
                   std::fabs(y2) <= big;
    // Invalid boxes get harmless coordinates; `valid` masks their results to 0.
    s.x1[j] = v ? x1 : T(0); s.y1[j] = v ? y1 : T(0); s.x2[j] = v ? x2 : T(1); s.y2[j] = v ? y2 : T(1);
    s.area[j] = v ? (x2 - x1) * (y2 - y1) : T(1);
    s.valid[j] = v ? T(1) : T(0);
  }
  auto row = [&](std::size_t i) {
    const T* ai = a + 4 * i;
    float* o = out + i * m;
    const bool va = ai[2] > ai[0] && ai[3] > ai[1] && std::fabs(ai[0]) <= big && std::fabs(ai[1]) <= big &&
                    std::fabs(ai[2]) <= big && std::fabs(ai[3]) <= big;
    if (!va) {
      std::fill(o, o + m, 0.0f);
      return;
    }
    if (row_dispatch<T, G>(ai, s, o, m)) {
      for (std::size_t j = 0; j < m; ++j) o[j] = static_cast<float>(ld_iou(ai, b + 4 * j, G));
    }
  };
  const std::size_t rows_per = std::max<std::size_t>(1, kMatrixBlock / m);
  const std::size_t items = (n + rows_per - 1) / rows_per;
  auto item = [&](std::size_t k) {
    for (std::size_t i = k * rows_per; i < std::min(n, (k + 1) * rows_per); ++i) row(i);
  };
  if (n * m < kParallelFrom || items == 1) {
    for (std::size_t k = 0; k < items; ++k) item(k);
  } else {
    parallel_for(items, item);
  }
}

std::vector<double> widen(const BoxArrayView& v) {
  std::vector<double> d(4 * v.boxes);
  const float* f = static_cast<const float*>(v.data);
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = f[i];
  return d;
}

}  // namespace

double box_iou_reference(const double* a, const double* b, bool giou) {
  return static_cast<double>(ld_iou(a, b, giou));
}

void box_iou(const BoxArrayView& a, const BoxArrayView& b, float* out, bool giou) {
  const std::size_t n = std::min(a.boxes, b.boxes);
  if (n == 0) return;
  if (a.type == BoxType::F32 && b.type == BoxType::F32) {
    const float* pa = static_cast<const float*>(a.data);
    const float* pb = static_cast<const float*>(b.data);
    giou ? elem_run<float, true>(pa, pb, out, n) : elem_run<float, false>(pa, pb, out, n);
    return;
  }
  std::vector<double> wa, wb;
  const double* pa = static_cast<const double*>(a.data);
  const double* pb = static_cast<const double*>(b.data);
  if (a.type == BoxType::F32) { wa = widen(a); pa = wa.data(); }
  if (b.type == BoxType::F32) { wb = widen(b); pb = wb.data(); }
  giou ? elem_run<double, true>(pa, pb, out, n) : elem_run<double, false>(pa, pb, out, n);
}

void box_iou_matrix(const BoxArrayView& a, const BoxArrayView& b, float* out, bool giou) {
  if (a.type == BoxType::F32 && b.type == BoxType::F32) {
    const float* pa = static_cast<const float*>(a.data);
    const float* pb = static_cast<const float*>(b.data);
    giou ? matrix_run<float, true>(pa, a.boxes, pb, b.boxes, out) : matrix_run<float, false>(pa, a.boxes, pb, b.boxes, out);
    return;
  }
  std::vector<double> wa, wb;
  const double* pa = static_cast<const double*>(a.data);
  const double* pb = static_cast<const double*>(b.data);
  if (a.type == BoxType::F32) { wa = widen(a); pa = wa.data(); }
  if (b.type == BoxType::F32) { wb = widen(b); pb = wb.data(); }
  giou ? matrix_run<double, true>(pa, a.boxes, pb, b.boxes, out) : matrix_run<double, false>(pa, a.boxes, pb, b.boxes, out);
}

}  // namespace mr
