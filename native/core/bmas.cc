// BMAS driver: validation, grouping by reference, distinct ids, packing, work items and the
// fused maxima. The FLOPs happen in the micro-kernels of gemm_tile_*.cc.
//
// Work plan. Pairs sharing a reference form a group (split into subgroups of <= kMaxPairs so
// that per-pair state stays bounded). Per subgroup: D = distinct reference ids with counts,
// U = distinct ids over all its responses, and per pair the (U index, count) of its own ids.
// S = U·Dᵀ is computed in U-row chunks (the parallel work items); each chunk keeps its slice
// of S in a small buffer (chunk rows x |D|) only until its maxima are taken: the row maximum
// of u over D (shared by every pair containing u) and, per pair, the column maxima over the
// pair's own ids in the chunk. Sums are count-weighted, so the result equals the one over
// the raw m x n matrix exactly.
#include "bmas.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "gemm_tile.h"
#include "isa.h"
#include "thread_pool.h"

namespace mr {

namespace {

constexpr std::size_t kMaxPairs = 64;        // pairs per subgroup: bounds per-pair column maxima
constexpr std::size_t kKc = 256;             // K block: a U tile (mr x kc) stays in L1
constexpr std::size_t kMaxMr = 16;           // the largest tile height of any kernel
constexpr std::size_t kWaveFloats = 16u << 20;  // packed D kept at once (64 MB)
constexpr std::size_t kChunkFloats = 1u << 18;  // S slice per work item (1 MB)

// Open addressing map from token id to a dense index.
class IdIndex {
 public:
  void reset(std::size_t expected) {
    std::size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    keys_.assign(cap, -1);
    vals_.resize(cap);
    mask_ = cap - 1;
  }
  // Index of `id`, inserting `next` when absent (then *inserted = true).
  std::int32_t get(std::int32_t id, std::int32_t next, bool* inserted) {
    std::size_t h = (static_cast<std::uint32_t>(id) * 0x9E3779B1u) & mask_;
    for (;;) {
      if (keys_[h] == id) {
        *inserted = false;
        return vals_[h];
      }
      if (keys_[h] < 0) {
        keys_[h] = id;
        vals_[h] = next;
        *inserted = true;
        return next;
      }
      h = (h + 1) & mask_;
    }
  }

 private:
  std::vector<std::int32_t> keys_, vals_;
  std::size_t mask_ = 0;
};

struct Subgroup {
  std::int32_t ref = 0;
  std::vector<std::int32_t> pairs;     // global pair indices (non-empty responses)
  std::vector<std::int32_t> d_ids;     // distinct reference ids
  std::vector<double> d_weight;        // count * w(id)
  double r_den = 0;                    // sum of w over the reference tokens
  std::vector<std::int32_t> u_ids;     // distinct ids over the responses
  std::vector<std::int32_t> e_off;     // per pair, its entries [e_off[q], e_off[q+1])
  std::vector<std::int32_t> e_u;       // U index, ascending within a pair
  std::vector<double> e_weight;        // count * w(id)
  std::vector<double> p_den;           // per pair: sum of w over its tokens
  // Per wave:
  float* dpack = nullptr;              // packed reference rows, in the wave's arena
  std::vector<float> umax;
  std::vector<float> colmax;           // pairs x |D|
  std::mutex lock;
};

struct Item {
  std::size_t sg;
  std::int32_t u0, u1;
};

inline double weight_of(const float* w, std::int32_t id) { return w ? static_cast<double>(w[id]) : 1.0; }

std::size_t round_up(std::size_t x, std::size_t m) { return (x + m - 1) / m * m; }

Status validate_offsets(const std::int32_t* off, std::size_t n, std::size_t len, Status bad, ErrorInfo* err) {
  if (off[0] != 0) {
    *err = {bad, 0, -1, static_cast<double>(off[0])};
    return bad;
  }
  for (std::size_t i = 1; i <= n; ++i) {
    if (off[i] < off[i - 1] || static_cast<std::size_t>(off[i]) > len) {
      *err = {bad, static_cast<std::int64_t>(i), -1, static_cast<double>(off[i])};
      return bad;
    }
  }
  if (static_cast<std::size_t>(off[n]) != len) {
    *err = {bad, static_cast<std::int64_t>(n), -1, static_cast<double>(off[n])};
    return bad;
  }
  return Status::Ok;
}

Status validate_ids(const std::int32_t* ids, const std::int32_t* off, std::size_t n, std::int64_t vocab, Status bad,
                    ErrorInfo* err) {
  for (std::size_t i = 0; i < n; ++i) {
    for (std::int32_t j = off[i]; j < off[i + 1]; ++j) {
      if (ids[j] < 0 || ids[j] >= vocab) {
        *err = {bad, static_cast<std::int64_t>(i), j - off[i], static_cast<double>(ids[j])};
        return bad;
      }
    }
  }
  return Status::Ok;
}

Status validate_copies(const TableView& t, const BmasBatch& b, const std::int32_t* resp_ids,
                       const std::int32_t* resp_off, const std::int32_t* ref_ids, const std::int32_t* ref_off,
                       const std::int32_t* pair_ref, ErrorInfo* err) {
  Status s = validate_offsets(resp_off, b.n_pairs, b.resp_len, Status::BadRespOffsets, err);
  if (s != Status::Ok) return s;
  s = validate_offsets(ref_off, b.n_refs, b.ref_len, Status::BadRefOffsets, err);
  if (s != Status::Ok) return s;
  for (std::size_t i = 0; i < b.n_pairs; ++i) {
    if (pair_ref[i] < 0 || static_cast<std::size_t>(pair_ref[i]) >= b.n_refs) {
      *err = {Status::BadPairRef, static_cast<std::int64_t>(i), -1, static_cast<double>(pair_ref[i])};
      return Status::BadPairRef;
    }
  }
  s = validate_ids(resp_ids, resp_off, b.n_pairs, t.vocab_size, Status::RespIdRange, err);
  if (s != Status::Ok) return s;
  s = validate_ids(ref_ids, ref_off, b.n_refs, t.vocab_size, Status::RefIdRange, err);
  if (s != Status::Ok) return s;
  if (b.weights) {
    for (std::int64_t v = 0; v < t.vocab_size; ++v) {
      const float w = b.weights[v];
      if (!(w >= 0.0f) || !std::isfinite(w)) {
        *err = {Status::BadWeight, v, -1, static_cast<double>(w)};
        return Status::BadWeight;
      }
    }
  }
  return Status::Ok;
}

Status check_shape(const TableView& t, const BmasBatch& b, ErrorInfo* err) {
  const bool ok = t.vocab_size >= 0 && t.dim >= 0 && (t.data || t.vocab_size == 0 || t.dim == 0) &&
                  b.resp_offsets && b.ref_offsets && (b.pair_ref || b.n_pairs == 0) &&
                  (b.resp_ids || b.resp_len == 0) && (b.ref_ids || b.ref_len == 0) && (b.out || b.n_pairs == 0) &&
                  (b.combine == 0 || b.combine == 1) && b.resp_len <= 0x7fffffffu && b.ref_len <= 0x7fffffffu;
  if (!ok) {
    *err = {Status::BadShape, -1, -1, 0};
    return Status::BadShape;
  }
  return Status::Ok;
}

// Distinct ids, counts and weight sums of one subgroup.
void prepare(Subgroup& sg, const std::int32_t* resp_ids, const std::int32_t* resp_off, const std::int32_t* ref_ids,
             const std::int32_t* ref_off, const float* w) {
  IdIndex index;
  const std::int32_t r0 = ref_off[sg.ref], r1 = ref_off[sg.ref + 1];
  index.reset(static_cast<std::size_t>(r1 - r0));
  std::vector<std::int32_t> d_count;
  for (std::int32_t j = r0; j < r1; ++j) {
    bool fresh;
    const std::int32_t id = ref_ids[j];
    const std::int32_t di = index.get(id, static_cast<std::int32_t>(sg.d_ids.size()), &fresh);
    if (fresh) {
      sg.d_ids.push_back(id);
      d_count.push_back(0);
    }
    ++d_count[di];
    sg.r_den += weight_of(w, id);
  }
  sg.d_weight.resize(sg.d_ids.size());
  for (std::size_t d = 0; d < sg.d_ids.size(); ++d) sg.d_weight[d] = d_count[d] * weight_of(w, sg.d_ids[d]);

  std::size_t total = 0;
  for (std::int32_t p : sg.pairs) total += static_cast<std::size_t>(resp_off[p + 1] - resp_off[p]);
  index.reset(total);
  std::vector<std::int32_t> last_pair;  // per U index: the last pair (local number) that had it
  std::vector<std::int32_t> entry_of;   // per U index: its entry in that pair
  std::vector<std::int32_t> e_count;
  sg.e_off.assign(sg.pairs.size() + 1, 0);
  sg.p_den.assign(sg.pairs.size(), 0.0);
  for (std::size_t q = 0; q < sg.pairs.size(); ++q) {
    const std::int32_t p = sg.pairs[q];
    const std::size_t first = sg.e_u.size();
    for (std::int32_t i = resp_off[p]; i < resp_off[p + 1]; ++i) {
      const std::int32_t id = resp_ids[i];
      bool fresh;
      const std::int32_t ui = index.get(id, static_cast<std::int32_t>(sg.u_ids.size()), &fresh);
      if (fresh) {
        sg.u_ids.push_back(id);
        last_pair.push_back(-1);
        entry_of.push_back(0);
      }
      if (last_pair[ui] != static_cast<std::int32_t>(q)) {
        last_pair[ui] = static_cast<std::int32_t>(q);
        entry_of[ui] = static_cast<std::int32_t>(sg.e_u.size());
        sg.e_u.push_back(ui);
        e_count.push_back(0);
      }
      ++e_count[entry_of[ui]];
      sg.p_den[q] += weight_of(w, id);
    }
    // Ascending U index, so a work item finds a pair's ids in its row range by binary search.
    std::vector<std::pair<std::int32_t, std::int32_t>> tmp;
    tmp.reserve(sg.e_u.size() - first);
    for (std::size_t e = first; e < sg.e_u.size(); ++e) tmp.emplace_back(sg.e_u[e], e_count[e]);
    std::sort(tmp.begin(), tmp.end());
    for (std::size_t e = first; e < sg.e_u.size(); ++e) {
      sg.e_u[e] = tmp[e - first].first;
      e_count[e] = tmp[e - first].second;
    }
    sg.e_off[q + 1] = static_cast<std::int32_t>(sg.e_u.size());
  }
  sg.e_weight.resize(sg.e_u.size());
  for (std::size_t e = 0; e < sg.e_u.size(); ++e) sg.e_weight[e] = e_count[e] * weight_of(w, sg.u_ids[sg.e_u[e]]);
}

struct Layout {
  std::size_t dn;      // |D|
  std::size_t dpad;    // |D| rounded up to whole vectors: the S slice row length
  std::size_t width;   // full panel width
  std::size_t panels;
  std::size_t panel_width(std::size_t p) const { return std::min(width, dpad - p * width); }
};

Layout layout_of(const Subgroup& sg, const GemmKernel& gk) {
  Layout l;
  l.dn = sg.d_ids.size();
  l.dpad = round_up(l.dn, static_cast<std::size_t>(gk.lanes));
  l.width = static_cast<std::size_t>(gk.max_nv * gk.lanes);
  l.panels = (l.dpad + l.width - 1) / l.width;
  return l;
}

// Reference rows transposed into k-major panels (zero columns pad the last vector).
void pack_d(Subgroup& sg, float* dst, const Layout& l, const TableView& t) {
  const std::size_t K = static_cast<std::size_t>(t.dim);
  sg.dpack = dst;
  constexpr std::size_t kBlock = 64;  // k rows per pass: the panel slice being written stays in L1
  for (std::size_t p = 0; p < l.panels; ++p) {
    const std::size_t w = l.panel_width(p);
    float* base = sg.dpack + p * l.width * K;
    const std::size_t cols = std::min(w, l.dn - std::min(l.dn, p * l.width));
    for (std::size_t k0 = 0; k0 < K; k0 += kBlock) {
      const std::size_t k1 = std::min(K, k0 + kBlock);
      for (std::size_t c = 0; c < cols; ++c) {
        const float* src = t.data + static_cast<std::size_t>(sg.d_ids[p * l.width + c]) * K;
        for (std::size_t k = k0; k < k1; ++k) base[k * w + c] = src[k];
      }
      // Padding columns (past |D| in the last vector) must read as 0.
      for (std::size_t k = k0; k < k1 && cols < w; ++k) std::fill(base + k * w + cols, base + k * w + w, 0.0f);
    }
  }
}

// Memory for the packed references of a wave. Freshly mapped pages cost a fault each (tens of
// MB per batch), so the last arena is kept for the next batch instead of being unmapped.
class Arena {
 public:
  explicit Arena(std::size_t floats) {
    {
      std::lock_guard<std::mutex> g(cache_lock());
      auto& c = cache();
      if (c.size() >= floats) buf_.swap(c);
    }
    if (buf_.size() < floats) {
      buf_.clear();
      buf_.shrink_to_fit();
      buf_.resize(floats);
    }
  }
  ~Arena() {
    std::lock_guard<std::mutex> g(cache_lock());
    auto& c = cache();
    if (buf_.size() > c.size() && buf_.size() <= kArenaKeep) buf_.swap(c);
  }
  float* data() { return buf_.data(); }

 private:
  static constexpr std::size_t kArenaKeep = kWaveFloats * 2;
  struct Buf {
    std::unique_ptr<float[]> p;
    std::size_t n = 0;
    std::size_t size() const { return n; }
    float* data() { return p.get(); }
    void clear() { p.reset(); n = 0; }
    void shrink_to_fit() {}
    void resize(std::size_t k) { p.reset(new float[k]); n = k; }  // uninitialised: pack_d writes it all
    void swap(Buf& o) { std::swap(p, o.p); std::swap(n, o.n); }
  };
  static std::mutex& cache_lock() { static std::mutex* m = new std::mutex; return *m; }
  static Buf& cache() { static Buf* b = new Buf; return *b; }
  Buf buf_;
};

struct Scratch {
  std::vector<float> zeros, cbuf, colbuf;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

void run_item(Subgroup& sg, const Layout& l, const Item& it, const TableView& t, const GemmKernel& gk) {
  const std::size_t K = static_cast<std::size_t>(t.dim);
  const std::size_t mr = static_cast<std::size_t>(gk.mr);
  const std::size_t rows = static_cast<std::size_t>(it.u1 - it.u0);
  const std::size_t rows_pad = round_up(rows, mr);
  const std::size_t ldc = l.dpad;
  Scratch& s = scratch();
  s.cbuf.resize(rows_pad * ldc);
  if (s.zeros.size() < kKc) s.zeros.assign(kKc, 0.0f);
  float* C = s.cbuf.data();
  if (K == 0) std::fill(s.cbuf.begin(), s.cbuf.end(), 0.0f);
  // U rows are scattered table rows, mostly not in any cache: the next panel's slice is
  // prefetched while the current one computes (thousands of cycles of FMAs per panel).
  auto prefetch_panel = [&](std::size_t up, std::size_t k0) {
    if (k0 >= K) return;
    if (up >= rows) {
      up = 0;
      k0 += kKc;
      if (k0 >= K) return;
    }
    const std::size_t kc = std::min(kKc, K - k0);
    for (std::size_t r = 0; r < mr && up + r < rows; ++r) {
      const char* src = reinterpret_cast<const char*>(t.data + static_cast<std::size_t>(sg.u_ids[it.u0 + up + r]) * K + k0);
      for (std::size_t off = 0; off < kc * sizeof(float); off += 64) __builtin_prefetch(src + off, 0, 3);
    }
  };
  prefetch_panel(0, 0);
  const float* urows[kMaxMr];
  for (std::size_t k0 = 0; k0 < K; k0 += kKc) {
    const std::size_t kc = std::min(kKc, K - k0);
    for (std::size_t up = 0; up < rows_pad; up += mr) {
      prefetch_panel(up + mr, k0);
      // Rows are read in place (no copy); rows past the chunk read zeros.
      for (std::size_t r = 0; r < mr; ++r) {
        const std::size_t row = up + r;
        urows[r] = row < rows ? t.data + static_cast<std::size_t>(sg.u_ids[it.u0 + row]) * K + k0 : s.zeros.data();
      }
      for (std::size_t p = 0; p < l.panels; ++p) {
        const std::size_t w = l.panel_width(p);
        const float* d = sg.dpack + p * l.width * K + k0 * w;
        gk.tile(static_cast<int>(w / gk.lanes), kc, urows, d, C + up * ldc + p * l.width, ldc, k0 > 0);
      }
    }
  }

  const std::size_t dn = l.dn;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* cr = C + r * ldc;
    float m = cr[0];
    for (std::size_t d = 1; d < dn; ++d) m = cr[d] > m ? cr[d] : m;
    sg.umax[it.u0 + r] = m;
  }

  // Column maxima of each pair over its own ids in this chunk, merged under the subgroup lock.
  const std::size_t np = sg.pairs.size();
  s.colbuf.resize(np * dn);
  std::vector<std::uint8_t> touched(np, 0);
  for (std::size_t q = 0; q < np; ++q) {
    const std::int32_t* eb = sg.e_u.data() + sg.e_off[q];
    const std::int32_t* ee = sg.e_u.data() + sg.e_off[q + 1];
    const std::int32_t* e = std::lower_bound(eb, ee, it.u0);
    if (e == ee || *e >= it.u1) continue;
    touched[q] = 1;
    float* cm = s.colbuf.data() + q * dn;
    std::memcpy(cm, C + static_cast<std::size_t>(*e - it.u0) * ldc, dn * sizeof(float));
    for (++e; e != ee && *e < it.u1; ++e) {
      const float* cr = C + static_cast<std::size_t>(*e - it.u0) * ldc;
      for (std::size_t d = 0; d < dn; ++d) cm[d] = cr[d] > cm[d] ? cr[d] : cm[d];
    }
  }
  std::lock_guard<std::mutex> guard(sg.lock);
  for (std::size_t q = 0; q < np; ++q) {
    if (!touched[q]) continue;
    const float* cm = s.colbuf.data() + q * dn;
    float* g = sg.colmax.data() + q * dn;
    for (std::size_t d = 0; d < dn; ++d) g[d] = cm[d] > g[d] ? cm[d] : g[d];
  }
}

void finish(const Subgroup& sg, const BmasBatch& b) {
  const std::size_t N = b.n_pairs;
  const std::size_t dn = sg.d_ids.size();
  for (std::size_t q = 0; q < sg.pairs.size(); ++q) {
    double pn = 0;
    for (std::int32_t e = sg.e_off[q]; e < sg.e_off[q + 1]; ++e) pn += sg.e_weight[e] * sg.umax[sg.e_u[e]];
    double rn = 0;
    const float* cm = sg.colmax.data() + q * dn;
    for (std::size_t d = 0; d < dn; ++d) rn += sg.d_weight[d] * cm[d];
    const double P = sg.p_den[q] > 0 ? pn / sg.p_den[q] : 0.0;
    const double R = sg.r_den > 0 ? rn / sg.r_den : 0.0;
    double score;
    if (b.combine == 1) score = P + R > 0 ? 2 * P * R / (P + R) : 0.0;
    else score = (P + R) / 2;
    const std::size_t i = static_cast<std::size_t>(sg.pairs[q]);
    b.out[i] = static_cast<float>(score);
    b.out[N + i] = static_cast<float>(P);
    b.out[2 * N + i] = static_cast<float>(R);
  }
}

Status compute(const TableView& t, const BmasBatch& b, ErrorInfo* err) {
  // Private copies: validation and use see the same values even if the caller's arrays change.
  std::vector<std::int32_t> resp_ids(b.resp_ids, b.resp_ids + b.resp_len);
  std::vector<std::int32_t> resp_off(b.resp_offsets, b.resp_offsets + b.n_pairs + 1);
  std::vector<std::int32_t> ref_ids(b.ref_ids, b.ref_ids + b.ref_len);
  std::vector<std::int32_t> ref_off(b.ref_offsets, b.ref_offsets + b.n_refs + 1);
  std::vector<std::int32_t> pair_ref(b.pair_ref, b.pair_ref + b.n_pairs);
  Status s = validate_copies(t, b, resp_ids.data(), resp_off.data(), ref_ids.data(), ref_off.data(),
                             pair_ref.data(), err);
  if (s != Status::Ok) return s;

  const std::size_t N = b.n_pairs;

  // Pairs by reference (stable), then subgroups of <= kMaxPairs with a non-empty response.
  std::vector<std::int32_t> start(b.n_refs + 1, 0);
  for (std::size_t i = 0; i < N; ++i) ++start[pair_ref[i] + 1];
  for (std::size_t g = 0; g < b.n_refs; ++g) start[g + 1] += start[g];
  std::vector<std::int32_t> by_ref(N);
  {
    std::vector<std::int32_t> fill(start.begin(), start.end() - 1);
    for (std::size_t i = 0; i < N; ++i) by_ref[fill[pair_ref[i]]++] = static_cast<std::int32_t>(i);
  }
  std::vector<std::unique_ptr<Subgroup>> sgs;
  for (std::size_t g = 0; g < b.n_refs; ++g) {
    if (ref_off[g + 1] == ref_off[g]) continue;  // empty reference: its pairs score 0
    Subgroup* cur = nullptr;
    for (std::int32_t k = start[g]; k < start[g + 1]; ++k) {
      const std::int32_t p = by_ref[k];
      if (resp_off[p + 1] == resp_off[p]) continue;  // empty response: 0
      if (!cur || cur->pairs.size() == kMaxPairs) {
        sgs.push_back(std::make_unique<Subgroup>());
        cur = sgs.back().get();
        cur->ref = static_cast<std::int32_t>(g);
      }
      cur->pairs.push_back(p);
    }
  }
  parallel_for(sgs.size(), [&](std::size_t i) {
    prepare(*sgs[i], resp_ids.data(), resp_off.data(), ref_ids.data(), ref_off.data(), b.weights);
  });
  // Only now: `out` may share memory with `weights`, which prepare() has finished reading.
  std::fill(b.out, b.out + 3 * N, 0.0f);
  if (sgs.empty()) return Status::Ok;

  const GemmKernel& gk = gemm_kernel(isa_active());
  const std::size_t K = static_cast<std::size_t>(t.dim);
  const std::size_t threads = pool_threads();
  std::vector<Layout> layouts(sgs.size());
  for (std::size_t i = 0; i < sgs.size(); ++i) layouts[i] = layout_of(*sgs[i], gk);

  for (std::size_t w0 = 0; w0 < sgs.size();) {
    // A wave: subgroups whose packed references fit the budget together (at least one).
    std::size_t w1 = w0, floats = 0, rows = 0;
    while (w1 < sgs.size() && (w1 == w0 || floats + layouts[w1].dpad * K <= kWaveFloats)) {
      floats += layouts[w1].dpad * K;
      rows += sgs[w1]->u_ids.size();
      ++w1;
    }
    Arena arena(floats);
    std::vector<std::size_t> at(w1 - w0 + 1, 0);
    for (std::size_t i = w0; i < w1; ++i) at[i - w0 + 1] = at[i - w0] + layouts[i].dpad * K;
    parallel_for(w1 - w0, [&](std::size_t i) {
      Subgroup& sg = *sgs[w0 + i];
      pack_d(sg, arena.data() + at[i], layouts[w0 + i], t);
      sg.umax.assign(sg.u_ids.size(), 0.0f);
      sg.colmax.assign(sg.pairs.size() * sg.d_ids.size(), -std::numeric_limits<float>::infinity());
    });

    // Enough chunks for every thread to stay busy (~4 per thread), none so small that
    // re-reading the packed reference dominates, none whose S slice outgrows kChunkFloats.
    const std::size_t mr = static_cast<std::size_t>(gk.mr);
    std::size_t chunk = std::max<std::size_t>(64, std::min<std::size_t>(512, rows / (4 * threads) + 1));
    std::vector<Item> items;
    for (std::size_t i = w0; i < w1; ++i) {
      const std::size_t nu = sgs[i]->u_ids.size();
      const std::size_t cap = std::max(mr, kChunkFloats / layouts[i].dpad / mr * mr);
      const std::size_t c = std::min(chunk, cap);
      const std::size_t n = (nu + c - 1) / c;
      const std::size_t size = round_up((nu + n - 1) / n, mr);
      for (std::size_t u0 = 0; u0 < nu; u0 += size) {
        items.push_back({i, static_cast<std::int32_t>(u0), static_cast<std::int32_t>(std::min(nu, u0 + size))});
      }
    }
    parallel_for(items.size(), [&](std::size_t j) {
      const Item& it = items[j];
      run_item(*sgs[it.sg], layouts[it.sg], it, t, gk);
    });
    parallel_for(w1 - w0, [&](std::size_t i) {
      Subgroup& sg = *sgs[w0 + i];
      finish(sg, b);
      std::vector<float>().swap(sg.colmax);
      std::vector<float>().swap(sg.umax);
    });
    w0 = w1;
  }
  return Status::Ok;
}

}  // namespace

Status bmas_validate(const TableView& t, const BmasBatch& b, ErrorInfo* err) {
  ErrorInfo local;
  if (!err) err = &local;
  Status s = check_shape(t, b, err);
  if (s != Status::Ok) return s;
  return validate_copies(t, b, b.resp_ids, b.resp_offsets, b.ref_ids, b.ref_offsets, b.pair_ref, err);
}

Status bmas_batch(const TableView& t, const BmasBatch& b, ErrorInfo* err) {
  ErrorInfo local;
  if (!err) err = &local;
  Status s = check_shape(t, b, err);
  if (s != Status::Ok) return s;
  try {
    return compute(t, b, err);
  } catch (const std::bad_alloc&) {
    *err = {Status::OutOfMemory, -1, -1, 0};
    return Status::OutOfMemory;
  } catch (...) {
    *err = {Status::Internal, -1, -1, 0};
    return Status::Internal;
  }
}

std::string describe(const ErrorInfo& e, std::int64_t vocab) {
  auto num = [](double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
  };
  const std::string idx = std::to_string(e.index);
  const std::string pos = std::to_string(e.position);
  switch (e.status) {
    case Status::Ok: return "ok";
    case Status::BadShape: return "inconsistent BMAS job: array lengths do not match, or combine is not 0/1";
    case Status::BadRespOffsets:
      return "respOffsets[" + idx + "] = " + num(e.value) +
             " breaks the rules (respOffsets[0] = 0, non-decreasing, last = respIds.length)";
    case Status::BadRefOffsets:
      return "refOffsets[" + idx + "] = " + num(e.value) +
             " breaks the rules (refOffsets[0] = 0, non-decreasing, last = refIds.length)";
    case Status::BadPairRef:
      return "pairRef[" + idx + "] = " + num(e.value) + " is not a reference number in [0, refOffsets.length - 1)";
    case Status::RespIdRange:
      return "response token id " + num(e.value) + " of pair " + idx + " at position " + pos +
             " is outside [0, " + std::to_string(vocab) + ")";
    case Status::RefIdRange:
      return "reference token id " + num(e.value) + " of reference " + idx + " at position " + pos +
             " is outside [0, " + std::to_string(vocab) + ")";
    case Status::BadWeight:
      return "weights[" + idx + "] = " + num(e.value) + " must be finite and >= 0";
    case Status::OutOfMemory: return "out of memory in the BMAS kernel";
    default: return "internal error in the BMAS kernel";
  }
}

}  // namespace mr
