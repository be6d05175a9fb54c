// Standalone parity test and benchmark of the CUDA backend (no Node.js needed).
//   mr_cuda_test_bench --cpu-only        planner + finishing checked against float64 on the host
//                                        (kernels replaced by a host loop; runs without a GPU)
//   mr_cuda_test_bench                   GPU parity (exact within 1e-4 of float64, fast mode error
//                                        measured), validation errors, box IoU parity
//   mr_cuda_test_bench --bench [--ids FILE] [--scores FILE] [--reps N]
//                                        GRPO batch of shared/ANCHORS.md: kernel and call times,
//                                        with the host/device phases of bmasRun
//   mr_cuda_test_bench --cpu-only --bench  host phases only (validate, plan, finish), no GPU
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bmas_plan.h"
#include "cuda_core.h"
#include "../core/thread_pool.h"

using namespace mrcuda;

namespace {

int gFailures = 0;
#define EXPECT(cond, ...)                   \
  do {                                      \
    if (!(cond)) {                          \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);             \
      std::printf("\n");                    \
      gFailures++;                          \
    }                                       \
  } while (0)

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
  int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }
};

// The bench table, reproducible in PyTorch (bench/gpu_torch.py): a 32-bit mixing hash of the flat
// index, mapped to [-0.5, 0.5); every 97th row zero.
inline float hashValue(uint64_t idx) {
  uint32_t h = static_cast<uint32_t>(idx);
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  h *= 0x846ca68bu;
  h ^= h >> 16;
  return static_cast<float>(h) * (1.0f / 4294967296.0f) - 0.5f;
}

void normalizeRows(std::vector<float>& t, int vocab, int dim) {
  for (int v = 0; v < vocab; v++) {
    double ss = 0;
    float* row = t.data() + static_cast<size_t>(v) * dim;
    for (int k = 0; k < dim; k++) ss += static_cast<double>(row[k]) * row[k];
    if (ss == 0) continue;
    const double inv = 1.0 / std::sqrt(ss);
    for (int k = 0; k < dim; k++) row[k] = static_cast<float>(row[k] * inv);
  }
}

struct Job {
  std::vector<int32_t> respIds, respOffsets{0}, refIds, refOffsets{0}, pairRef;
  std::vector<float> weights;  // empty = all ones
  int combine = 0, precision = 0;
  BmasInput input() const {
    BmasInput in{};
    in.respIds = respIds.data(); in.respIdsLen = respIds.size();
    in.respOffsets = respOffsets.data(); in.respOffsetsLen = respOffsets.size();
    in.refIds = refIds.data(); in.refIdsLen = refIds.size();
    in.refOffsets = refOffsets.data(); in.refOffsetsLen = refOffsets.size();
    in.pairRef = pairRef.data(); in.pairRefLen = pairRef.size();
    in.weights = weights.empty() ? nullptr : weights.data(); in.weightsLen = weights.size();
    in.combine = combine; in.precision = precision;
    in.outLen = 3 * pairRef.size();
    return in;
  }
};

// Plain float64 BMAS of every pair straight from the definition (SPEC §6), no shortcuts.
std::vector<double> reference(const std::vector<float>& table, int dim, const Job& job) {
  const size_t n = job.pairRef.size();
  std::vector<double> out(3 * n, 0.0);
  auto w = [&](int id) { return job.weights.empty() ? 1.0 : static_cast<double>(job.weights[id]); };
  for (size_t p = 0; p < n; p++) {
    const int g = job.pairRef[p];
    const int r0 = job.respOffsets[p], r1 = job.respOffsets[p + 1];
    const int g0 = job.refOffsets[g], g1 = job.refOffsets[g + 1];
    if (r0 == r1 || g0 == g1) continue;
    const int m = r1 - r0, k = g1 - g0;
    std::vector<double> S(static_cast<size_t>(m) * k);
    for (int i = 0; i < m; i++)
      for (int j = 0; j < k; j++) {
        const float* a = table.data() + static_cast<size_t>(job.respIds[r0 + i]) * dim;
        const float* b = table.data() + static_cast<size_t>(job.refIds[g0 + j]) * dim;
        double s = 0;
        for (int x = 0; x < dim; x++) s += static_cast<double>(a[x]) * b[x];
        S[static_cast<size_t>(i) * k + j] = s;
      }
    double pn = 0, pd = 0, rn = 0, rd = 0;
    for (int i = 0; i < m; i++) {
      double mx = -INFINITY;
      for (int j = 0; j < k; j++) mx = std::max(mx, S[static_cast<size_t>(i) * k + j]);
      pn += w(job.respIds[r0 + i]) * mx;
      pd += w(job.respIds[r0 + i]);
    }
    for (int j = 0; j < k; j++) {
      double mx = -INFINITY;
      for (int i = 0; i < m; i++) mx = std::max(mx, S[static_cast<size_t>(i) * k + j]);
      rn += w(job.refIds[g0 + j]) * mx;
      rd += w(job.refIds[g0 + j]);
    }
    const double P = pd > 0 ? pn / pd : 0, R = rd > 0 ? rn / rd : 0;
    out[p] = job.combine == 1 ? (P + R > 0 ? 2 * P * R / (P + R) : 0) : (P + R) / 2;
    out[n + p] = P;
    out[2 * n + p] = R;
  }
  return out;
}

// Host stand-in for the kernels: the same plan, maxima computed by plain loops.
void emulate(const std::vector<float>& table, int vocab, int dim, const Job& job, std::vector<float>& out) {
  BmasInput in = job.input();
  BmasPlan plan;
  planBmas(in, vocab, 128, plan);
  std::vector<float> rowMax(plan.uIds.size(), -INFINITY), colMax(plan.colTotal, -INFINITY);
  for (const BmasUnit& u : plan.units) {
    for (int r = 0; r < u.uCount; r++) {
      const float* a = table.data() + static_cast<size_t>(plan.uIds[u.uBegin + r]) * dim;
      for (int d = 0; d < u.dCount; d++) {
        const float* b = table.data() + static_cast<size_t>(plan.dIds[u.dBegin + d]) * dim;
        float s = 0;
        for (int x = 0; x < dim; x++) s = std::fma(a[x], b[x], s);
        rowMax[u.uBegin + r] = std::max(rowMax[u.uBegin + r], s);
        for (int q = 0; q < u.nPairs; q++)
          if ((plan.uMask[u.uBegin + r] >> q) & 1u) {
            float& c = colMax[u.colBegin + static_cast<size_t>(q) * u.dCount + d];
            c = std::max(c, s);
          }
      }
    }
  }
  out.assign(in.outLen, NAN);
  finishBmas(plan, in, rowMax.data(), colMax.data(), out.data());
}

Job randomJob(Rng& rng, int vocab, bool weighted, bool small = false) {
  Job job;
  const int nRefs = 1 + rng.below(6);
  for (int g = 0; g < nRefs; g++) {
    // Lengths include 0 (empty reference), short ones, and > 128 distinct ids (several chunks).
    const int len = rng.below(10) == 0 ? 0 : (!small && rng.below(4) == 0 ? 150 + rng.below(200) : 1 + rng.below(40));
    for (int j = 0; j < len; j++) job.refIds.push_back(rng.below(4) == 0 ? rng.below(8) : rng.below(vocab));
    job.refOffsets.push_back(static_cast<int32_t>(job.refIds.size()));
  }
  const int nPairs = rng.below(8) == 0 ? 40 + rng.below(small ? 8 : 40) : 1 + rng.below(20);  // > 32: several units
  for (int p = 0; p < nPairs; p++) {
    const int len = rng.below(10) == 0 ? 0 : (!small && rng.below(5) == 0 ? 130 + rng.below(200) : 1 + rng.below(30));
    for (int i = 0; i < len; i++) job.respIds.push_back(rng.below(3) == 0 ? rng.below(8) : rng.below(vocab));
    job.respOffsets.push_back(static_cast<int32_t>(job.respIds.size()));
    job.pairRef.push_back(rng.below(nRefs));
  }
  if (weighted) {
    job.weights.resize(vocab);
    for (auto& w : job.weights) w = rng.below(5) == 0 ? 0.0f : static_cast<float>(rng.uniform() * 2);
  }
  job.combine = rng.below(2);
  return job;
}

std::vector<float> randomTable(Rng& rng, int vocab, int dim) {
  std::vector<float> t(static_cast<size_t>(vocab) * dim);
  for (auto& x : t) x = static_cast<float>(rng.uniform() * 2 - 1);
  for (int v = 0; v < vocab; v += 13) std::fill(t.begin() + static_cast<size_t>(v) * dim, t.begin() + static_cast<size_t>(v + 1) * dim, 0.0f);
  // Duplicate rows: ties between maxima must not matter.
  if (vocab > 20) std::copy(t.begin() + 5 * dim, t.begin() + 6 * dim, t.begin() + 7 * dim);
  normalizeRows(t, vocab, dim);
  return t;
}

double maxAbsDiff(const std::vector<float>& got, const std::vector<double>& want, bool& finite) {
  double m = 0;
  finite = true;
  for (size_t i = 0; i < got.size(); i++) {
    if (!std::isfinite(got[i])) finite = false;
    m = std::max(m, std::fabs(got[i] - want[i]));
  }
  return m;
}

void testCpuPlan() {
  Rng rng(7);
  double worst = 0;
  for (int trial = 0; trial < 40; trial++) {
    const int dims[] = {1, 3, 17, 64, 100};
    const int dim = dims[trial % 5], vocab = 50 + rng.below(300);
    auto table = randomTable(rng, vocab, dim);
    Job job = randomJob(rng, vocab, trial % 3 == 0);
    Result v = validateBmas(job.input(), vocab);
    EXPECT(v.ok(), "validate: %s", v.message.c_str());
    std::vector<float> out;
    emulate(table, vocab, dim, job, out);
    bool finite;
    const double err = maxAbsDiff(out, reference(table, dim, job), finite);
    EXPECT(finite && err < 1e-5, "cpu plan trial %d: max error %.3g", trial, err);
    worst = std::max(worst, err);
  }
  std::printf("cpu-plan: 40 random batches, max |plan - float64| = %.3g\n", worst);
}

template <typename T>
bool sameBytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool samePlan(const BmasPlan& a, const BmasPlan& b, const BmasInput& in) {
  bool ok = sameBytes(a.uIds, b.uIds) && sameBytes(a.uMask, b.uMask) && sameBytes(a.dIds, b.dIds) && sameBytes(a.dWeight, b.dWeight) &&
            sameBytes(a.unitRefWeight, b.unitRefWeight) && sameBytes(a.blocks, b.blocks) && sameBytes(a.pairUnit, b.pairUnit) &&
            sameBytes(a.pairLocal, b.pairLocal) && a.colTotal == b.colTotal && a.maxD == b.maxD && a.units.size() == b.units.size();
  for (size_t k = 0; ok && k < a.units.size(); k++) ok = std::memcmp(&a.units[k], &b.units[k], sizeof(BmasUnit)) == 0;
  // respSlot only where it is read: tokens of computed pairs.
  for (size_t i = 0; ok && i + 1 < in.respOffsetsLen; i++) {
    if (a.pairUnit[i] < 0) continue;
    for (int32_t t = in.respOffsets[i]; ok && t < in.respOffsets[i + 1]; t++) ok = a.respSlot[t] == b.respSlot[t];
  }
  return ok;
}

// Many random references, big enough for the thread pool: the plan and the scores must be the
// same bytes as on one thread (the serial plan is the one checked against float64 above).
void testParallelPlan() {
  const int threads = static_cast<int>(mr::pool_threads());
  if (threads < 2) {
    std::printf("parallel-plan: skipped (one host thread)\n");
    return;
  }
  Rng rng(19);
  int checked = 0;
  for (int trial = 0; trial < 12; trial++) {
    const int vocab = trial % 2 ? 151936 : 5000;
    Job job;
    const int nRefs = 1 + rng.below(trial < 6 ? 200 : 8);
    for (int g = 0; g < nRefs; g++) {
      const int len = rng.below(8) == 0 ? 0 : 1 + rng.below(trial % 3 == 0 ? 600 : 150);
      for (int j = 0; j < len; j++) job.refIds.push_back(rng.below(3) == 0 ? rng.below(50) : rng.below(vocab));
      job.refOffsets.push_back(static_cast<int32_t>(job.refIds.size()));
    }
    const int nPairs = 200 + rng.below(800);
    for (int q = 0; q < nPairs; q++) {
      const int len = rng.below(10) == 0 ? 0 : 1 + rng.below(300);
      for (int i = 0; i < len; i++) job.respIds.push_back(rng.below(3) == 0 ? rng.below(50) : rng.below(vocab));
      job.respOffsets.push_back(static_cast<int32_t>(job.respIds.size()));
      job.pairRef.push_back(rng.below(nRefs));
    }
    if (trial % 3 == 1) {
      job.weights.resize(vocab);
      for (auto& w : job.weights) w = rng.below(5) == 0 ? 0.0f : static_cast<float>(rng.uniform() * 2);
    }
    job.combine = rng.below(2);
    const BmasInput in = job.input();
    EXPECT(validateBmas(in, vocab).ok(), "parallel-plan trial %d: validate", trial);
    BmasPlan one, many;
    mr::set_pool_threads(1);
    planBmas(in, vocab, 128, one);
    mr::set_pool_threads(threads);
    planBmas(in, vocab, 128, many);
    planBmas(in, vocab, 128, many);  // reused plan: stale scratch must not leak in
    EXPECT(samePlan(one, many, in), "parallel-plan trial %d: plan differs from the one-thread plan", trial);
    std::vector<float> rowMax(many.uIds.size()), colMax(many.colTotal);
    for (auto& x : rowMax) x = static_cast<float>(rng.uniform() * 2 - 1);
    for (auto& x : colMax) x = static_cast<float>(rng.uniform() * 2 - 1);
    std::vector<float> outOne(in.outLen, NAN), outMany(in.outLen, NAN);
    mr::set_pool_threads(1);
    finishBmas(one, in, rowMax.data(), colMax.data(), outOne.data());
    mr::set_pool_threads(threads);
    finishBmas(many, in, rowMax.data(), colMax.data(), outMany.data());
    EXPECT(std::memcmp(outOne.data(), outMany.data(), outOne.size() * sizeof(float)) == 0, "parallel-plan trial %d: scores differ", trial);
    checked++;
  }
  std::printf("parallel-plan: %d batches planned and finished on %d threads, identical to one thread\n", checked, threads);
}

void testValidation() {
  Job job;
  job.respIds = {1, 2, 3};
  job.respOffsets = {0, 3};
  job.refIds = {4, 5};
  job.refOffsets = {0, 2};
  job.pairRef = {0};
  EXPECT(validateBmas(job.input(), 10).ok(), "a good job must validate");
  Job bad = job;
  bad.respIds[1] = 10;
  EXPECT(validateBmas(bad.input(), 10).status == Status::TokenRange, "id == vocab -> TokenRange");
  bad = job;
  bad.refIds[0] = -1;
  EXPECT(validateBmas(bad.input(), 10).status == Status::TokenRange, "negative id -> TokenRange");
  bad = job;
  bad.pairRef[0] = 1;
  EXPECT(validateBmas(bad.input(), 10).status == Status::InvalidArgument, "pairRef out of range");
  bad = job;
  bad.respOffsets = {0, 4};
  EXPECT(validateBmas(bad.input(), 10).status == Status::InvalidArgument, "offsets past the ids");
  bad = job;
  bad.refOffsets = {1, 2};
  EXPECT(validateBmas(bad.input(), 10).status == Status::InvalidArgument, "offsets not starting at 0");
  bad = job;
  bad.weights.assign(10, 1.0f);
  bad.weights[3] = -1;
  EXPECT(validateBmas(bad.input(), 10).status == Status::ValueRange, "negative weight");
  bad.weights[3] = NAN;
  EXPECT(validateBmas(bad.input(), 10).status == Status::ValueRange, "NaN weight");
  bad.weights.assign(9, 1.0f);
  EXPECT(validateBmas(bad.input(), 10).status == Status::InvalidArgument, "weights of the wrong length");
  std::printf("validation: checked\n");
}

void testGpuParity() {
  Rng rng(11);
  double worstExact = 0, worstFfma = 0, worstFast = 0;
  int trials = 0;
  const int dims[] = {1, 3, 17, 31, 64, 100, 257, 2048};
  for (int trial = 0; trial < 48; trial++) {
    const int dim = dims[trial % 8];
    const int vocab = 64 + rng.below(dim >= 1024 ? 300 : 2000);
    auto table = randomTable(rng, vocab, dim);
    DeviceTable* t = nullptr;
    Result r = tableCreate(table.data(), vocab, dim, &t);
    EXPECT(r.ok(), "tableCreate: %s", r.message.c_str());
    if (!r.ok()) return;
    for (int rep = 0; rep < 2; rep++) {
      // Long lists (several column chunks, row tiles) at small dims; the float64 reference is O(m n d).
      Job job = randomJob(rng, vocab, rep == 1, dim > 300);
      const auto want = reference(table, dim, job);
      for (int mode = 0; mode < 3; mode++) {  // exact split-bf16, exact fp32 FFMA, fast bf16
        const int precision = mode == 2 ? 1 : 0;
        if (mode == 1) setenv("MIXED_REWARD_CUDA_EXACT", "ffma", 1);
        else unsetenv("MIXED_REWARD_CUDA_EXACT");
        job.precision = precision;
        BmasInput in = job.input();
        std::vector<float> out(in.outLen, NAN);  // poisoned: every entry must be written
        float ms = 0;
        r = bmasRun(t, in, out.data(), &ms);
        EXPECT(r.ok(), "bmasRun: %s", r.message.c_str());
        bool finite;
        const double err = maxAbsDiff(out, want, finite);
        EXPECT(finite, "trial %d precision %d: non-finite output", trial, precision);
        if (precision == 0) {
          EXPECT(err <= 1e-4, "trial %d dim %d exact (%s): max |gpu - float64| = %.3g", trial, dim, mode ? "ffma" : "split", err);
          if (mode == 0) worstExact = std::max(worstExact, err);
          else worstFfma = std::max(worstFfma, err);
        } else {
          EXPECT(err <= 2e-2, "trial %d dim %d fast: max |gpu - float64| = %.3g", trial, dim, err);
          worstFast = std::max(worstFast, err);
        }
      }
      trials++;
    }
    tableDestroy(t);
  }
  unsetenv("MIXED_REWARD_CUDA_EXACT");
  std::printf("gpu-parity: %d random batches, max |gpu - float64|: exact split-bf16 %.3g, exact fp32 ffma %.3g, fast bf16 %.3g\n", trials, worstExact,
              worstFfma, worstFast);
}

// Plain reference for ordinary boxes (areas far from overflow and underflow), SPEC §5.
float iouRef(const double* a, const double* b, bool giou) {
  auto ok = [](const double* x) {
    return std::isfinite(x[0]) && std::isfinite(x[1]) && std::isfinite(x[2]) && std::isfinite(x[3]) && x[2] > x[0] && x[3] > x[1];
  };
  if (!ok(a) || !ok(b)) return 0.0f;
  const double iw = std::min(a[2], b[2]) - std::max(a[0], b[0]), ih = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  const double inter = iw > 0 && ih > 0 ? iw * ih : 0;
  const double uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  double v = inter / uni;
  if (giou) {
    const double hull = (std::max(a[2], b[2]) - std::min(a[0], b[0])) * (std::max(a[3], b[3]) - std::min(a[1], b[1]));
    v -= (hull - uni) / hull;
  }
  return static_cast<float>(v);
}

void testIoU() {
  Rng rng(3);
  const size_t n = 3000, m = 700;
  std::vector<double> a(4 * n), b(4 * m);
  auto fill = [&](std::vector<double>& v) {
    for (size_t i = 0; i < v.size(); i += 4) {
      const double x = rng.uniform() * 100, y = rng.uniform() * 100;
      v[i] = x; v[i + 1] = y; v[i + 2] = x + rng.uniform() * 40 - 2; v[i + 3] = y + rng.uniform() * 40 - 2;
      const int k = rng.below(20);
      if (k == 0) v[i] = NAN;
      if (k == 1) v[i + 2] = INFINITY;
      if (k == 2) v[i + 2] = v[i];  // zero width
    }
  };
  fill(a);
  fill(b);
  std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
  for (int giou = 0; giou < 2; giou++) {
    std::vector<float> out(n * m, NAN);
    Result r = boxIoUMatrix(a.data(), n, b.data(), m, out.data(), giou);
    EXPECT(r.ok(), "boxIoUMatrix f64: %s", r.message.c_str());
    double err = 0;
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < m; j++) err = std::max(err, static_cast<double>(std::fabs(out[i * m + j] - iouRef(&a[4 * i], &b[4 * j], giou))));
    EXPECT(err <= 1e-6, "matrix f64 giou=%d: max error %.3g", giou, err);
    r = boxIoUMatrix(af.data(), n, bf.data(), m, out.data(), giou);
    EXPECT(r.ok(), "boxIoUMatrix f32: %s", r.message.c_str());
    std::vector<float> pairs(m, NAN);
    r = boxIoU(a.data(), b.data(), m, pairs.data(), giou);
    EXPECT(r.ok(), "boxIoU: %s", r.message.c_str());
    double perr = 0;
    for (size_t i = 0; i < m; i++) perr = std::max(perr, static_cast<double>(std::fabs(pairs[i] - iouRef(&a[4 * i], &b[4 * i], giou))));
    EXPECT(perr <= 1e-6, "pairs giou=%d: max error %.3g", giou, perr);
    for (float x : out) EXPECT(std::isfinite(x), "IoU output must be finite");
  }
  // Extremes: huge and tiny boxes stay finite and in range (rescaled path), identical boxes give 1.
  const double ex[] = {-1e308, -1e308, 1e308, 1e308, 0, 0, 1e-300, 1e-300, -1e308, -1e308, 1e308, 1e308, 0, 0, 1e-300, 1e-300};
  const double ey[] = {-1e308, -1e308, 1e308, 1e308, 0, 0, 1e-300, 1e-300, 0, 0, 1e308, 1e308, 0, 0, 2e-300, 2e-300};
  for (int giou = 0; giou < 2; giou++) {
    float o[4];
    Result r = boxIoU(ex, ey, 4, o, giou);
    EXPECT(r.ok(), "boxIoU extremes: %s", r.message.c_str());
    EXPECT(std::fabs(o[0] - 1) < 1e-6 && std::fabs(o[1] - 1) < 1e-6, "extreme identical boxes: %g %g", o[0], o[1]);
    EXPECT(std::fabs(o[2] - 0.25) < 1e-6 && std::fabs(o[3] - 0.25) < 1e-6, "extreme nested boxes: %g %g (giou=%d)", o[2], o[3], giou);
  }
  std::printf("iou: matrix %zux%zu and pairs checked (f32, f64, IoU and GIoU, extremes)\n", n, m);
}

// ---- benchmark: the GRPO batch of shared/ANCHORS.md ----------------------------------------

struct Zipf {
  std::vector<double> cdf;
  std::vector<int32_t> rankToId;
  Zipf(int vocab, double s, Rng& rng) : cdf(vocab), rankToId(vocab) {
    double acc = 0;
    for (int k = 0; k < vocab; k++) cdf[k] = (acc += std::pow(k + 1.0, -s));
    for (auto& c : cdf) c /= acc;
    for (int k = 0; k < vocab; k++) rankToId[k] = k;
    for (int k = vocab - 1; k > 0; k--) std::swap(rankToId[k], rankToId[rng.below(k + 1)]);
  }
  int32_t draw(Rng& rng) const {
    const double u = rng.uniform();
    const size_t k = std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
    return rankToId[std::min(k, cdf.size() - 1)];
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

constexpr int kV = 151936, kD = 2048, kPrompts = 64, kPerPrompt = 8, kM = 256, kN = 128;

// The GRPO batch of shared/ANCHORS.md (ids only).
Job grpoJob() {
  Rng rng(2505);
  Zipf zipf(kV, 1.1, rng);
  Job job;
  for (int g = 0; g < kPrompts; g++) {
    for (int j = 0; j < kN; j++) job.refIds.push_back(zipf.draw(rng));
    job.refOffsets.push_back(static_cast<int32_t>(job.refIds.size()));
    for (int r = 0; r < kPerPrompt; r++) {
      for (int i = 0; i < kM; i++) job.respIds.push_back(zipf.draw(rng));
      job.respOffsets.push_back(static_cast<int32_t>(job.respIds.size()));
      job.pairRef.push_back(g);
    }
  }
  return job;
}

template <typename F>
double timeMs(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Host work of one GRPO batch without a GPU (validate, plan, finish on made-up maxima), unweighted
// and with vocabulary weights: where the host time of bmasRun goes, measurable anywhere.
void cpuBench(int reps) {
  Job job = grpoJob();
  const int threads = static_cast<int>(mr::pool_threads());
  for (int weighted = 0; weighted < 2; weighted++) {
    if (weighted) {
      job.weights.resize(kV);
      for (int v = 0; v < kV; v++) job.weights[v] = static_cast<float>((v % 7) * 0.25);
    }
    const BmasInput in = job.input();
    for (int nt : {1, threads}) {
      mr::set_pool_threads(nt);
      BmasPlan plan;
      std::vector<float> rowMax, colMax, out(in.outLen);
      std::vector<double> tv, tp, tf;
      for (int it = 0; it < reps + 3; it++) {
        const double v = timeMs([&] { (void)validateBmas(in, kV); });
        const double p = timeMs([&] { planBmas(in, kV, 128, plan); });
        if (rowMax.size() != plan.uIds.size()) {
          rowMax.resize(plan.uIds.size());
          for (size_t i = 0; i < rowMax.size(); i++) rowMax[i] = static_cast<float>((i % 101) * 0.01);
          colMax.resize(plan.colTotal);
          for (size_t i = 0; i < colMax.size(); i++) colMax[i] = static_cast<float>((i % 89) * 0.01);
        }
        const double f = timeMs([&] { finishBmas(plan, in, rowMax.data(), colMax.data(), out.data()); });
        if (it >= 3) {
          tv.push_back(v);
          tp.push_back(p);
          tf.push_back(f);
        }
      }
      double checksum = 0;
      for (float x : out) checksum += x;
      std::printf("RESULT host %-10s %2d thread(s): validate %.3f ms, plan %.3f ms, finish %.3f ms (medians of %d; checksum %.9g)\n",
                  weighted ? "weighted" : "unweighted", nt, median(tv), median(tp), median(tf), reps, checksum);
      if (threads == 1) break;
    }
  }
  mr::set_pool_threads(threads);
}

int bench(const char* idsPath, const char* scoresPath, int reps) {
  const int V = kV, D = kD, prompts = kPrompts, perPrompt = kPerPrompt, m = kM, n = kN;
  std::printf("bench: GRPO batch, %d pairs (%d prompts x %d), m=%d, n=%d, d=%d, V=%d, Zipf(1.1) ids\n", prompts * perPrompt, prompts,
              perPrompt, m, n, D, V);
  std::vector<float> table(static_cast<size_t>(V) * D);
  for (size_t i = 0; i < table.size(); i++) table[i] = hashValue(i);
  for (int v = 0; v < V; v += 97) std::fill(table.begin() + static_cast<size_t>(v) * D, table.begin() + static_cast<size_t>(v + 1) * D, 0.0f);
  normalizeRows(table, V, D);

  Job job = grpoJob();
  if (idsPath) {
    FILE* f = std::fopen(idsPath, "wb");
    if (f) {
      std::fwrite(job.respIds.data(), 4, job.respIds.size(), f);
      std::fwrite(job.refIds.data(), 4, job.refIds.size(), f);
      std::fclose(f);
    }
  }
  {
    BmasInput in = job.input();
    BmasPlan plan;
    planBmas(in, V, 128, plan);
    std::printf("bench: distinct ids per prompt group: U %.1f, D %.1f; thread blocks %zu\n", plan.uIds.size() / double(prompts),
                plan.dIds.size() / double(prompts), plan.blocks.size() / 2);
  }

  DeviceTable* t = nullptr;
  Result r = tableCreate(table.data(), V, D, &t);
  if (!r.ok()) {
    std::printf("FAIL tableCreate: %s\n", r.message.c_str());
    return 1;
  }
  // Spot check against float64 on a few pairs (the full reference would take minutes on the host).
  Job sub;
  {
    sub.refIds.assign(job.refIds.begin(), job.refIds.begin() + n);
    sub.refOffsets = {0, n};
    for (int p = 0; p < perPrompt; p++) {
      sub.respIds.insert(sub.respIds.end(), job.respIds.begin() + p * m, job.respIds.begin() + (p + 1) * m);
      sub.respOffsets.push_back(static_cast<int32_t>(sub.respIds.size()));
      sub.pairRef.push_back(0);
    }
  }
  const auto subRef = reference(table, D, sub);

  std::vector<float> scoresExact;
  for (int mode = 0; mode < 3; mode++) {  // exact split-bf16 (default), exact fp32 FFMA, fast bf16
    const int precision = mode == 2 ? 1 : 0;
    if (mode == 1) setenv("MIXED_REWARD_CUDA_EXACT", "ffma", 1);
    else unsetenv("MIXED_REWARD_CUDA_EXACT");
    job.precision = precision;
    sub.precision = precision;
    BmasInput in = job.input();
    std::vector<float> out(in.outLen);
    float ms = 0;
    std::vector<double> kernel, call, validate;
    std::vector<double> phPlan, phStage, phLaunch, phWait, phKernel, phD2h, phFinish;
    for (int it = 0; it < reps + 3; it++) {
      const double v = timeMs([&] { (void)validateBmas(in, V); });
      BmasPhases ph;
      const auto t0 = std::chrono::steady_clock::now();
      r = bmasRun(t, in, out.data(), &ms, &ph);
      const auto t1 = std::chrono::steady_clock::now();
      if (!r.ok()) {
        std::printf("FAIL bmasRun: %s\n", r.message.c_str());
        return 1;
      }
      if (it >= 3) {
        kernel.push_back(ms);
        call.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        validate.push_back(v);
        phPlan.push_back(ph.plan); phStage.push_back(ph.stage); phLaunch.push_back(ph.launch); phWait.push_back(ph.wait);
        phKernel.push_back(ph.kernel); phD2h.push_back(ph.d2h); phFinish.push_back(ph.finish);
      }
    }
    BmasInput sin = sub.input();
    std::vector<float> subOut(sin.outLen);
    r = bmasRun(t, sin, subOut.data(), &ms);
    bool finite;
    const double err = maxAbsDiff(subOut, subRef, finite);
    // The first prompt of the full batch must give the same numbers as that prompt alone.
    double batchVsSub = 0;
    for (int p = 0; p < perPrompt; p++) batchVsSub = std::max(batchVsSub, static_cast<double>(std::fabs(out[p] - subOut[p])));
    const char* name = mode == 2 ? "fast (bf16 mma)" : mode == 1 ? "exact (fp32 ffma)" : "exact (split-bf16)";
    std::printf("RESULT cuda %-19s kernel median %.3f ms (min %.3f), bmasRun call median %.3f ms, max |err| vs float64 (8 pairs) %.2e\n", name,
                median(kernel), *std::min_element(kernel.begin(), kernel.end()), median(call), err);
    std::printf("RESULT cuda %-19s phases (medians, ms): validate %.3f | plan %.3f | stage+H2D enqueue %.3f | launch %.3f | "
                "wait %.3f (kernel %.3f + D2H %.3f by events) | finish %.3f; %d host threads\n",
                name, median(validate), median(phPlan), median(phStage), median(phLaunch), median(phWait), median(phKernel), median(phD2h),
                median(phFinish), static_cast<int>(mr::pool_threads()));
    EXPECT(finite && (precision ? err <= 2e-2 : err <= 1e-4), "bench %s error %.3g", name, err);
    EXPECT(batchVsSub <= 1e-6, "bench %s: batch vs single prompt differ by %.3g", name, batchVsSub);
    if (mode == 0) scoresExact = out;
  }
  unsetenv("MIXED_REWARD_CUDA_EXACT");
  {
    // The host thread pool's share: the default exact call on one host thread.
    const int threads = static_cast<int>(mr::pool_threads());
    mr::set_pool_threads(1);
    job.precision = 0;
    BmasInput in = job.input();
    std::vector<float> out(in.outLen);
    std::vector<double> call;
    float ms = 0;
    for (int it = 0; it < reps + 3; it++) {
      const double c = timeMs([&] { r = bmasRun(t, in, out.data(), &ms); });
      if (it >= 3) call.push_back(c);
    }
    mr::set_pool_threads(threads);
    EXPECT(r.ok() && std::memcmp(out.data(), scoresExact.data(), out.size() * sizeof(float)) == 0, "bench: one host thread gives other scores");
    std::printf("RESULT cuda exact (split-bf16)  bmasRun call median %.3f ms on 1 host thread (vs %d above)\n", median(call), threads);
  }
  if (scoresPath) {
    FILE* f = std::fopen(scoresPath, "wb");
    if (f) {
      std::fwrite(scoresExact.data(), 4, scoresExact.size(), f);
      std::fclose(f);
    }
  }
  tableDestroy(t);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool cpuOnly = false, doBench = false;
  const char* ids = nullptr;
  const char* scores = nullptr;
  int reps = 20;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--cpu-only") cpuOnly = true;
    else if (a == "--bench") doBench = true;
    else if (a == "--ids" && i + 1 < argc) ids = argv[++i];
    else if (a == "--scores" && i + 1 < argc) scores = argv[++i];
    else if (a == "--reps" && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
  }
  testValidation();
  testCpuPlan();
  testParallelPlan();
  if (cpuOnly) {
    if (doBench) cpuBench(reps);
    std::printf("%s (cpu-only)\n", gFailures ? "FAILED" : "PASSED");
    return gFailures ? 1 : 0;
  }
  const ProbeInfo p = probe();
  if (!p.ok) {
    std::printf("probe: %s\n", p.reason.c_str());
    std::printf("FAILED: no usable GPU\n");
    return 2;
  }
  std::printf("probe: %s, compute capability %s, %.1f GiB, %d SMs, driver %d, runtime %d\n", p.device.c_str(), p.computeCapability.c_str(),
              p.memoryBytes / 1073741824.0, p.multiprocessors, p.driverVersion, p.runtimeVersion);
  if (doBench) {
    if (bench(ids, scores, reps) != 0) gFailures++;
  } else {
    testGpuParity();
    testIoU();
  }
  std::printf("%s\n", gFailures ? "FAILED" : "PASSED");
  return gFailures ? 1 : 0;
}
