// Tests of the C++ core (no Node): BMAS against a plain double-precision reference at every
// instruction-set level this CPU has, the validation status codes, box IoU against the
// long-double reference on hostile boxes, and the thread pool. Exit status = number of failures.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <stdexcept>
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "../core/bmas.h"
#include "../core/box_iou.h"
#include "../core/isa.h"
#include "../core/thread_pool.h"

namespace {

int g_failures = 0;
int g_checks = 0;

#define CHECK(cond, ...)                                    \
  do {                                                      \
    ++g_checks;                                             \
    if (!(cond)) {                                          \
      ++g_failures;                                         \
      if (g_failures <= 30) {                               \
        std::fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
        std::fprintf(stderr, __VA_ARGS__);                  \
        std::fprintf(stderr, "\n");                         \
      }                                                     \
    }                                                       \
  } while (0)

using std::int32_t;

struct Table {
  std::int64_t vocab, dim;
  std::vector<float> data;
};

Table random_table(std::mt19937& rng, std::int64_t vocab, std::int64_t dim, double zero_row_share) {
  Table t{vocab, dim, std::vector<float>(static_cast<std::size_t>(vocab * dim))};
  std::normal_distribution<float> nd;
  std::uniform_real_distribution<double> u01;
  for (std::int64_t v = 0; v < vocab; ++v) {
    float* row = t.data.data() + v * dim;
    if (u01(rng) < zero_row_share) continue;  // zero row: similarity 0 with everything
    double norm = 0;
    for (std::int64_t k = 0; k < dim; ++k) {
      row[k] = nd(rng);
      norm += double(row[k]) * row[k];
    }
    norm = std::sqrt(norm);
    for (std::int64_t k = 0; k < dim; ++k) row[k] = static_cast<float>(row[k] / norm);
  }
  return t;
}

struct Job {
  std::vector<int32_t> resp_ids, resp_off{0}, ref_ids, ref_off{0}, pair_ref;
  std::vector<float> weights;
  int combine = 0;
};

// Straight from SPEC §6, in double over the raw m x n matrix.
void reference(const Table& t, const Job& j, std::vector<double>& out) {
  const std::size_t N = j.pair_ref.size();
  out.assign(3 * N, 0.0);
  auto w = [&](int32_t id) { return j.weights.empty() ? 1.0 : double(j.weights[id]); };
  auto dot = [&](int32_t a, int32_t b) {
    double s = 0;
    for (std::int64_t k = 0; k < t.dim; ++k) s += double(t.data[a * t.dim + k]) * t.data[b * t.dim + k];
    return s;
  };
  for (std::size_t i = 0; i < N; ++i) {
    const int32_t g = j.pair_ref[i];
    const int32_t r0 = j.resp_off[i], r1 = j.resp_off[i + 1], g0 = j.ref_off[g], g1 = j.ref_off[g + 1];
    if (r0 == r1 || g0 == g1) continue;
    double pn = 0, pd = 0, rn = 0, rd = 0;
    std::vector<double> colmax(g1 - g0, -1e300);
    for (int32_t a = r0; a < r1; ++a) {
      double m = -1e300;
      for (int32_t b = g0; b < g1; ++b) {
        const double s = dot(j.resp_ids[a], j.ref_ids[b]);
        m = std::max(m, s);
        colmax[b - g0] = std::max(colmax[b - g0], s);
      }
      pn += w(j.resp_ids[a]) * m;
      pd += w(j.resp_ids[a]);
    }
    for (int32_t b = g0; b < g1; ++b) {
      rn += w(j.ref_ids[b]) * colmax[b - g0];
      rd += w(j.ref_ids[b]);
    }
    const double P = pd > 0 ? pn / pd : 0, R = rd > 0 ? rn / rd : 0;
    out[i] = j.combine == 1 ? (P + R > 0 ? 2 * P * R / (P + R) : 0) : (P + R) / 2;
    out[N + i] = P;
    out[2 * N + i] = R;
  }
}

mr::Status run(const Table& t, Job& j, std::vector<float>& out, mr::ErrorInfo* err) {
  out.assign(3 * j.pair_ref.size(), -7.0f);
  mr::TableView tv{t.data.data(), t.vocab, t.dim};
  mr::BmasBatch b{j.resp_ids.data(), j.resp_ids.size(), j.resp_off.data(), j.pair_ref.size(),
                  j.ref_ids.data(), j.ref_ids.size(), j.ref_off.data(), j.ref_off.size() - 1,
                  j.pair_ref.data(), j.weights.empty() ? nullptr : j.weights.data(), j.combine, out.data()};
  return mr::bmas_batch(tv, b, err);
}

// Zipf-like ids over a small vocabulary, so that repeats and shared ids are common.
int32_t draw_id(std::mt19937& rng, std::int64_t vocab) {
  std::uniform_real_distribution<double> u01;
  const double x = std::pow(u01(rng), 3.0);
  return static_cast<int32_t>(std::min<std::int64_t>(vocab - 1, static_cast<std::int64_t>(x * vocab)));
}

Job random_job(std::mt19937& rng, std::int64_t vocab, int refs, int max_pairs_per_ref, int max_len) {
  Job j;
  std::uniform_int_distribution<int> len(0, max_len);
  std::uniform_int_distribution<int> npairs(0, max_pairs_per_ref);
  for (int g = 0; g < refs; ++g) {
    const int n = len(rng) == 0 ? 0 : len(rng);
    for (int k = 0; k < n; ++k) j.ref_ids.push_back(draw_id(rng, vocab));
    j.ref_off.push_back(static_cast<int32_t>(j.ref_ids.size()));
  }
  // Pairs in shuffled reference order: the kernel must regroup them.
  std::vector<int32_t> refs_of_pairs;
  for (int g = 0; g < refs; ++g)
    for (int p = npairs(rng); p > 0; --p) refs_of_pairs.push_back(g);
  std::shuffle(refs_of_pairs.begin(), refs_of_pairs.end(), rng);
  for (int32_t g : refs_of_pairs) {
    const int m = len(rng) < max_len / 8 ? 0 : len(rng);
    for (int k = 0; k < m; ++k) j.resp_ids.push_back(draw_id(rng, vocab));
    j.resp_off.push_back(static_cast<int32_t>(j.resp_ids.size()));
    j.pair_ref.push_back(g);
  }
  return j;
}

void compare(const Table& t, Job& j, const char* what) {
  std::vector<float> out;
  std::vector<double> ref;
  mr::ErrorInfo err;
  const mr::Status s = run(t, j, out, &err);
  CHECK(s == mr::Status::Ok, "%s: status %d", what, int(s));
  reference(t, j, ref);
  double worst = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(ref[i] - out[i]));
  CHECK(worst <= 1e-4, "%s (isa %s, dim %lld, pairs %zu): max |diff| = %g", what, mr::isa_name(mr::isa_active()),
        (long long)t.dim, j.pair_ref.size(), worst);
}

void test_bmas_random(unsigned seed, int rounds) {
  std::mt19937 rng(seed);
  const std::int64_t dims[] = {1, 2, 3, 7, 16, 17, 31, 48, 49, 64, 100, 257, 300, 513};
  for (int round = 0; round < rounds; ++round) {
    const std::int64_t dim = dims[round % (sizeof dims / sizeof dims[0])];
    const std::int64_t vocab = 1 + rng() % 400;
    Table t = random_table(rng, vocab, dim, 0.1);
    Job j = random_job(rng, vocab, 1 + rng() % 6, 1 + rng() % 9, 1 + rng() % 60);
    if (rng() % 2) {
      j.weights.resize(vocab);
      for (auto& w : j.weights) w = (rng() % 5 == 0) ? 0.0f : float(rng() % 1000) / 250.0f;
    }
    j.combine = rng() % 2;
    compare(t, j, "random");
  }
}

void test_bmas_shapes() {
  std::mt19937 rng(7);
  // Many pairs on one reference (several subgroups), long responses (several chunks), a long
  // reference (many panels), and a reference larger than one S slice allows.
  {
    Table t = random_table(rng, 3000, 40, 0.02);
    Job j = random_job(rng, 3000, 2, 150, 90);
    compare(t, j, "many pairs");
  }
  {
    Table t = random_table(rng, 4000, 33, 0.0);
    Job j;
    for (int k = 0; k < 3500; ++k) j.ref_ids.push_back(int32_t(rng() % 4000));
    j.ref_off.push_back(int32_t(j.ref_ids.size()));
    for (int p = 0; p < 3; ++p) {
      for (int k = 0; k < 700; ++k) j.resp_ids.push_back(int32_t(rng() % 4000));
      j.resp_off.push_back(int32_t(j.resp_ids.size()));
      j.pair_ref.push_back(0);
    }
    compare(t, j, "long reference");
  }
  {
    // All tokens identical, zero rows only, single tokens.
    Table t = random_table(rng, 5, 9, 0.0);
    std::fill(t.data.begin() + 9, t.data.begin() + 18, 0.0f);  // row 1 is zero
    Job j;
    j.ref_ids = {3, 3, 3, 1};
    j.ref_off = {0, 4, 5};
    j.ref_ids.push_back(1);
    j.resp_ids = {3, 3, 1, 1, 2, 4};
    j.resp_off = {0, 2, 4, 5, 6, 6};
    j.pair_ref = {0, 1, 0, 1, 0};
    compare(t, j, "tiny");
    std::vector<float> out;
    run(t, j, out, nullptr);
    CHECK(out[1] == 0.0f && out[5 + 1] == 0.0f && out[10 + 1] == 0.0f, "zero rows give 0, got %g", out[1]);
    CHECK(out[4] == 0.0f && out[9] == 0.0f && out[14] == 0.0f, "empty response gives 0");
  }
  {
    // Weights that are all zero on one side: that side is 0.
    Table t = random_table(rng, 10, 8, 0.0);
    Job j;
    j.ref_ids = {1, 2};
    j.ref_off = {0, 2};
    j.resp_ids = {3, 4};
    j.resp_off = {0, 2};
    j.pair_ref = {0};
    j.weights.assign(10, 1.0f);
    j.weights[3] = j.weights[4] = 0.0f;
    compare(t, j, "zero weights");
    std::vector<float> out;
    run(t, j, out, nullptr);
    CHECK(out[1] == 0.0f, "P = 0 when the response weighs 0, got %g", out[1]);
  }
}

void test_validation() {
  std::mt19937 rng(3);
  Table t = random_table(rng, 10, 4, 0.0);
  auto base = [] {
    Job j;
    j.ref_ids = {1, 2, 3};
    j.ref_off = {0, 3};
    j.resp_ids = {4, 5, 6, 7};
    j.resp_off = {0, 2, 4};
    j.pair_ref = {0, 0};
    return j;
  };
  std::vector<float> out;
  mr::ErrorInfo e;
  {
    Job j = base();
    j.resp_ids[3] = 10;
    CHECK(run(t, j, out, &e) == mr::Status::RespIdRange && e.index == 1 && e.position == 1 && e.value == 10,
          "id = vocab: status %d index %lld pos %lld", int(e.status), (long long)e.index, (long long)e.position);
    CHECK(out[0] == -7.0f, "nothing written on error");
    CHECK(mr::describe(e, 10).find("pair 1") != std::string::npos, "message: %s", mr::describe(e, 10).c_str());
  }
  {
    Job j = base();
    j.resp_ids[0] = -1;
    CHECK(run(t, j, out, &e) == mr::Status::RespIdRange && e.index == 0 && e.position == 0, "negative id");
  }
  {
    Job j = base();
    j.ref_ids[2] = 1 << 30;
    CHECK(run(t, j, out, &e) == mr::Status::RefIdRange && e.index == 0 && e.position == 2, "ref id");
  }
  {
    Job j = base();
    j.pair_ref[1] = 1;
    CHECK(run(t, j, out, &e) == mr::Status::BadPairRef && e.index == 1, "pairRef");
    j.pair_ref[1] = -1;
    CHECK(run(t, j, out, &e) == mr::Status::BadPairRef && e.index == 1, "pairRef < 0");
  }
  {
    Job j = base();
    j.resp_off = {0, 3, 2};
    CHECK(run(t, j, out, &e) == mr::Status::BadRespOffsets && e.index == 2, "decreasing offsets");
    j.resp_off = {1, 2, 4};
    CHECK(run(t, j, out, &e) == mr::Status::BadRespOffsets && e.index == 0, "offsets[0] != 0");
    j.resp_off = {0, 2, 3};
    CHECK(run(t, j, out, &e) == mr::Status::BadRespOffsets && e.index == 2, "last offset != length");
    j.resp_off = {0, 9, 4};
    CHECK(run(t, j, out, &e) == mr::Status::BadRespOffsets && e.index == 1, "offset beyond length");
  }
  {
    Job j = base();
    j.ref_off = {0, 4};
    CHECK(run(t, j, out, &e) == mr::Status::BadRefOffsets, "ref offsets");
  }
  {
    Job j = base();
    j.weights.assign(10, 1.0f);
    j.weights[6] = -0.5f;
    CHECK(run(t, j, out, &e) == mr::Status::BadWeight && e.index == 6, "negative weight");
    j.weights[6] = std::numeric_limits<float>::quiet_NaN();
    CHECK(run(t, j, out, &e) == mr::Status::BadWeight && e.index == 6, "NaN weight");
    j.weights[6] = std::numeric_limits<float>::infinity();
    CHECK(run(t, j, out, &e) == mr::Status::BadWeight && e.index == 6, "inf weight");
  }
  {
    Job j = base();
    j.combine = 2;
    CHECK(run(t, j, out, &e) == mr::Status::BadShape, "combine 2");
  }
  {
    Job j;  // no pairs at all
    CHECK(run(t, j, out, &e) == mr::Status::Ok, "empty batch");
  }
}

// ---- IoU ----

double ref_iou(const double* a, const double* b, bool giou) { return mr::box_iou_reference(a, b, giou); }

std::vector<double> hostile_boxes(std::mt19937& rng, std::size_t n) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  std::uniform_real_distribution<double> u(0, 100);
  std::vector<double> v(4 * n);
  for (std::size_t i = 0; i < n; ++i) {
    double* b = v.data() + 4 * i;
    const double x = u(rng), y = u(rng);
    b[0] = x; b[1] = y; b[2] = x + u(rng) * 0.5; b[3] = y + u(rng) * 0.5;
    switch (rng() % 16) {
      case 0: b[rng() % 4] = nan; break;
      case 1: b[rng() % 4] = inf; break;
      case 2: b[rng() % 4] = -inf; break;
      case 3: b[2] = b[0]; break;                         // zero width: invalid
      case 4: std::swap(b[1], b[3]); break;               // y2 < y1: invalid
      case 5: for (int k = 0; k < 4; ++k) b[k] *= 1e36; break;   // overflows float areas
      case 6: for (int k = 0; k < 4; ++k) b[k] *= 1e-38; break;  // underflows float areas
      case 7: b[0] = -3e38; b[2] = 3e38; break;                   // width overflows float
      case 8: if (i > 0) for (int k = 0; k < 4; ++k) b[k] = b[k - 4]; break;  // same as previous
      default: break;
    }
  }
  return v;
}

void test_iou(bool f32) {
  std::mt19937 rng(f32 ? 11 : 12);
  for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(7), std::size_t(100), std::size_t(5000),
                        std::size_t(70000)}) {
    std::vector<double> a = hostile_boxes(rng, n), b = hostile_boxes(rng, n);
    // Overlapping pairs are rare among random boxes; make half of b a shifted copy of a.
    for (std::size_t i = 0; i < n; i += 2)
      for (int k = 0; k < 4; ++k) b[4 * i + k] = a[4 * i + k] + (k % 2 ? 3.0 : 1.5) * (a[4 * i + 2] - a[4 * i]) * 0.3;
    std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
    if (f32) {  // the reference sees exactly the float values
      for (std::size_t i = 0; i < a.size(); ++i) { a[i] = af[i]; b[i] = bf[i]; }
    }
    for (bool giou : {false, true}) {
      std::vector<float> out(n, -9.0f);
      mr::BoxArrayView va{f32 ? (const void*)af.data() : (const void*)a.data(), f32 ? mr::BoxType::F32 : mr::BoxType::F64, n};
      mr::BoxArrayView vb{f32 ? (const void*)bf.data() : (const void*)b.data(), f32 ? mr::BoxType::F32 : mr::BoxType::F64, n};
      mr::box_iou(va, vb, out.data(), giou);
      double worst = 0;
      std::size_t bad = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double r = ref_iou(&a[4 * i], &b[4 * i], giou);
        if (!std::isfinite(out[i])) ++bad;
        worst = std::max(worst, std::fabs(r - out[i]));
      }
      CHECK(bad == 0 && worst <= 2e-6, "elementwise %s giou=%d n=%zu: worst %g, %zu non-finite (isa %s)",
            f32 ? "f32" : "f64", giou, n, worst, bad, mr::isa_name(mr::isa_active()));
      if (n > 2000) continue;
      const std::size_t m = n / 2 + 1;
      std::vector<float> mat(n * m, -9.0f);
      vb.boxes = m;
      mr::box_iou_matrix(va, vb, mat.data(), giou);
      worst = 0;
      bad = 0;
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j) {
          const double r = ref_iou(&a[4 * i], &b[4 * j], giou);
          if (!std::isfinite(mat[i * m + j])) ++bad;
          worst = std::max(worst, std::fabs(r - mat[i * m + j]));
        }
      CHECK(bad == 0 && worst <= 2e-6, "matrix %s giou=%d n=%zu: worst %g, %zu non-finite", f32 ? "f32" : "f64", giou,
            n, worst, bad);
    }
  }
  // Hand-checked values.
  const double a[4] = {0, 0, 2, 2}, b[4] = {1, 1, 3, 3}, c[4] = {4, 4, 5, 5};
  CHECK(std::fabs(ref_iou(a, b, false) - 1.0 / 7.0) < 1e-15, "IoU of offset squares");
  CHECK(std::fabs(ref_iou(a, c, true) - (0.0 - (25.0 - 5.0) / 25.0)) < 1e-15, "GIoU of disjoint squares");
  float fa[8] = {0, 0, 2, 2, 0, 0, 2, 2}, fb[8] = {1, 1, 3, 3, 0, 0, 2, 2};
  float o[2];
  mr::box_iou({fa, mr::BoxType::F32, 2}, {fb, mr::BoxType::F32, 2}, o, false);
  CHECK(std::fabs(o[0] - 1.0f / 7.0f) < 1e-7 && o[1] == 1.0f, "kernel hand values %g %g", o[0], o[1]);
  // Mixed input types.
  double db[8] = {1, 1, 3, 3, 0, 0, 2, 2};
  mr::box_iou({fa, mr::BoxType::F32, 2}, {db, mr::BoxType::F64, 2}, o, false);
  CHECK(std::fabs(o[0] - 1.0f / 7.0f) < 1e-7 && o[1] == 1.0f, "mixed types %g %g", o[0], o[1]);
}

void test_pool() {
  std::atomic<long> sum{0};
  mr::parallel_for(1000, [&](std::size_t i) { sum += long(i); });
  CHECK(sum == 999L * 1000 / 2, "parallel_for sum %ld", sum.load());
  // Nested and concurrent submissions must neither deadlock nor lose items.
  std::atomic<long> cnt{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      mr::parallel_for(20, [&](std::size_t) { mr::parallel_for(50, [&](std::size_t) { ++cnt; }); });
    });
  for (auto& t : ts) t.join();
  CHECK(cnt == 4 * 20 * 50, "nested/concurrent count %ld", cnt.load());
  bool thrown = false;
  try {
    mr::parallel_for(100, [&](std::size_t i) { if (i == 57) throw std::runtime_error("x"); });
  } catch (const std::runtime_error&) {
    thrown = true;
  }
  CHECK(thrown, "exception from an item reaches the caller");
  // A cap of 1 runs every item on the caller; lifting it restores the pool's size.
  const std::size_t full = mr::pool_threads();
  mr::set_pool_threads(1);
  const std::thread::id me = std::this_thread::get_id();
  std::atomic<int> elsewhere{0};
  mr::parallel_for(200, [&](std::size_t) { elsewhere += std::this_thread::get_id() != me; });
  CHECK(mr::pool_threads() == 1 && elsewhere == 0, "capped pool ran %d items on other threads", elsewhere.load());
  mr::set_pool_threads(full + 1000);
  CHECK(mr::pool_threads() == full, "uncapped pool has %zu threads, expected %zu", mr::pool_threads(), full);
  std::atomic<long> capped{0};
  mr::set_pool_threads(2);
  mr::parallel_for(1000, [&](std::size_t i) { capped += long(i); });
  mr::set_pool_threads(full);
  CHECK(capped == 999L * 1000 / 2, "parallel_for sum under a cap of 2: %ld", capped.load());
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  std::printf("threads: %zu, default isa: %s\n", mr::pool_threads(), mr::isa_name(mr::isa_default()));
  test_pool();
  test_validation();
  const mr::Isa levels[] = {mr::Isa::Scalar, mr::Isa::Neon, mr::Isa::Avx2, mr::Isa::Avx512};
  for (mr::Isa isa : levels) {
    if (!mr::isa_force(isa)) continue;
    std::printf("isa %s\n", mr::isa_name(isa));
    test_bmas_random(100 + unsigned(isa), quick ? 40 : 150);
    test_bmas_shapes();
    test_iou(true);
    test_iou(false);
  }
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
