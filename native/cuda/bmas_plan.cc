#include "bmas_plan.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "../core/thread_pool.h"

namespace mrcuda {

namespace {

Result checkOffsets(const int32_t* off, std::size_t len, std::size_t idsLen, const char* what) {
  if (len < 1) return Result::fail(Status::InvalidArgument, std::string(what) + " must have at least one entry");
  if (off[0] != 0) return Result::fail(Status::InvalidArgument, std::string(what) + "[0] must be 0");
  for (std::size_t i = 1; i < len; i++) {
    if (off[i] < off[i - 1]) {
      return Result::fail(Status::InvalidArgument, std::string(what) + " must be non-decreasing (at index " + std::to_string(i) + ")");
    }
  }
  if (static_cast<std::size_t>(off[len - 1]) != idsLen) {
    return Result::fail(Status::InvalidArgument, std::string(what) + " must end at the length of its id array (" + std::to_string(idsLen) + ")");
  }
  return {};
}

Result checkIds(const int32_t* ids, std::size_t len, int vocabSize, const char* what) {
  // One branch-free pass (an unsigned max, negatives wrap high); the index is looked for only on failure.
  // Blocks of 16 with a fixed inner count: vectorised at -O2.
  uint32_t top = 0;
  std::size_t i0 = 0;
  for (; i0 + 16 <= len; i0 += 16) {
    uint32_t m = 0;
    for (int k = 0; k < 16; k++) m = std::max(m, static_cast<uint32_t>(ids[i0 + k]));
    top = std::max(top, m);
  }
  for (; i0 < len; i0++) top = std::max(top, static_cast<uint32_t>(ids[i0]));
  if (len == 0 || top < static_cast<uint32_t>(vocabSize)) return {};
  for (std::size_t i = 0; i < len; i++) {
    if (ids[i] < 0 || ids[i] >= vocabSize) {
      return Result::fail(Status::TokenRange, std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                                                  " is outside [0, " + std::to_string(vocabSize) + ")");
    }
  }
  return {};
}

// Id -> slot map for the ids of one unit or reference: open addressing over a power-of-two table
// sized to twice the token count, so it stays in L1/L2 (a vocabulary-sized array would miss cache
// on every rare id; planning is on the critical path of every batch).
class IdMap {
 public:
  void reset(std::size_t tokens) {
    std::size_t cap = 16;
    shift_ = 28;
    while (cap < 2 * tokens) {
      cap <<= 1;
      shift_--;
    }
    entries_.assign(cap, Entry{-1, 0});
    mask_ = cap - 1;
  }
  // The slot of `id`, taking `fresh` when absent; `added` is 1 when it was absent, else 0.
  // Found and absent end the same probe loop and the rest is selects: with Zipf-like ids the
  // found/absent outcome is a coin flip that a branch would mispredict half the time.
  int32_t findOrInsert(int32_t id, int32_t fresh, int32_t& added) {
    // Fibonacci hashing: the high bits of the product mix every bit of the id.
    std::size_t h = (static_cast<uint32_t>(id) * 0x9E3779B1u) >> shift_;
    while (entries_[h].key != id && entries_[h].key >= 0) h = (h + 1) & mask_;
    Entry& e = entries_[h];
    const bool absent = e.key < 0;
    const int32_t slot = absent ? fresh : e.slot;
    e.key = id;
    e.slot = slot;
    added = absent;
    return slot;
  }

 private:
  struct Entry {
    int32_t key, slot;  // key -1: empty
  };
  std::vector<Entry> entries_;  // key and slot side by side: one cache line per probe
  std::size_t mask_ = 0;
  int shift_ = 28;
};

thread_local IdMap tMapD;
thread_local IdMap tMapU;

}  // namespace

Result validateBmas(const BmasInput& in, int vocabSize) {
  if (in.respOffsetsLen < 1) return Result::fail(Status::InvalidArgument, "job.respOffsets must have N + 1 entries");
  const std::size_t n = in.respOffsetsLen - 1;
  if (in.pairRefLen != n) {
    return Result::fail(Status::InvalidArgument, "job.pairRef has length " + std::to_string(in.pairRefLen) + ", expected N = " + std::to_string(n));
  }
  if (in.outLen != 3 * n) {
    return Result::fail(Status::InvalidArgument, "job.out has length " + std::to_string(in.outLen) + ", expected 3N = " + std::to_string(3 * n));
  }
  if (in.respIdsLen > 0x7fffffffu || in.refIdsLen > 0x7fffffffu) return Result::fail(Status::InvalidArgument, "job has over 2^31 tokens");
  Result r = checkOffsets(in.respOffsets, in.respOffsetsLen, in.respIdsLen, "job.respOffsets");
  if (!r.ok()) return r;
  r = checkOffsets(in.refOffsets, in.refOffsetsLen, in.refIdsLen, "job.refOffsets");
  if (!r.ok()) return r;
  const std::size_t g = in.refOffsetsLen - 1;
  for (std::size_t i = 0; i < n; i++) {
    if (in.pairRef[i] < 0 || static_cast<std::size_t>(in.pairRef[i]) >= g) {
      return Result::fail(Status::InvalidArgument, "job.pairRef[" + std::to_string(i) + "] = " + std::to_string(in.pairRef[i]) +
                                                       " is not a reference index in [0, " + std::to_string(g) + ")");
    }
  }
  r = checkIds(in.respIds, in.respIdsLen, vocabSize, "job.respIds");
  if (!r.ok()) return r;
  r = checkIds(in.refIds, in.refIdsLen, vocabSize, "job.refIds");
  if (!r.ok()) return r;
  if (in.weights) {
    if (in.weightsLen != static_cast<std::size_t>(vocabSize)) {
      return Result::fail(Status::InvalidArgument, "job.weights has length " + std::to_string(in.weightsLen) + ", expected vocabSize = " + std::to_string(vocabSize));
    }
    // Finite and >= 0 is 0 <= w <= FLT_MAX (NaN fails both); counted branch-free, searched on failure.
    constexpr float kMax = std::numeric_limits<float>::max();
    int badCount = 0;
    std::size_t i0 = 0;
    for (; i0 + 16 <= in.weightsLen; i0 += 16) {
      int bad = 0;
      for (int k = 0; k < 16; k++) {
        const float w = in.weights[i0 + k];
        bad |= static_cast<int>(!(w >= 0.0f)) | static_cast<int>(!(w <= kMax));
      }
      badCount |= bad;
    }
    for (; i0 < in.weightsLen; i0++) badCount |= !(in.weights[i0] >= 0.0f && in.weights[i0] <= kMax);
    for (std::size_t i = 0; badCount && i < in.weightsLen; i++) {
      const float w = in.weights[i];
      if (!(w >= 0.0f) || !std::isfinite(w)) {
        return Result::fail(Status::ValueRange, "job.weights[" + std::to_string(i) + "] = " + std::to_string(w) + " must be finite and >= 0");
      }
    }
  }
  if (in.combine != 0 && in.combine != 1) return Result::fail(Status::InvalidArgument, "job.combine must be 0 (mean) or 1 (f1)");
  if (in.precision != 0 && in.precision != 1) return Result::fail(Status::InvalidArgument, "job.precision must be 0 (exact) or 1 (fast)");
  return {};
}

namespace {

// Below this many tokens a batch is planned and finished on the calling thread: waking the pool
// costs tens of microseconds, about what one thread needs for this much work.
constexpr std::size_t kParallelTokens = 1 << 15;

// Plans references [g0, g1) into `a`, with every index local to `a`; sets pairUnit (a unit of `a`,
// or -1), pairLocal and respSlot of their pairs only, so parts planned at once never share a slot.
void planRefs(const BmasInput& in, int32_t g0, int32_t g1, const int32_t* start, const int32_t* order, int blockRows,
              BmasPlanArrays& a, int32_t* pairUnit, int32_t* pairLocal, int32_t* respSlot) {
  // Cleared, not reassigned: the arrays are reused across batches and keep their capacity.
  a.uIds.clear(); a.uMask.clear(); a.dIds.clear(); a.dWeight.clear(); a.units.clear();
  a.unitRefWeight.clear(); a.blocks.clear();
  a.colTotal = 0;
  a.maxD = 0;
  IdMap& mapD = tMapD;
  IdMap& mapU = tMapU;
  int32_t unitPairs[kMaxPairsPerUnit];
  int nUnit = 0;
  for (int32_t g = g0; g < g1; g++) {
    const int32_t r0 = in.refOffsets[g], r1 = in.refOffsets[g + 1];
    if (r0 == r1 || start[g] == start[g + 1]) continue;  // empty reference: its pairs score 0

    // Distinct reference ids, each weighted by count x w.
    // Room for every token, zeroed weights; cut to the distinct count after.
    mapD.reset(static_cast<std::size_t>(r1 - r0));
    const int32_t dBegin = static_cast<int32_t>(a.dIds.size());
    a.dIds.resize(dBegin + (r1 - r0));
    a.dWeight.resize(dBegin + (r1 - r0));
    int32_t* dIds = a.dIds.data() + dBegin;
    double* dWeight = a.dWeight.data() + dBegin;
    int32_t dCount = 0;
    for (int32_t j = r0; j < r1; j++) {
      const int32_t id = in.refIds[j];
      int32_t added;
      const int32_t s = mapD.findOrInsert(id, dCount, added);
      dIds[dCount] = id;  // kept only when added
      dCount += added;
      dWeight[s] += in.weights ? static_cast<double>(in.weights[id]) : 1.0;
    }
    a.dIds.resize(dBegin + dCount);
    a.dWeight.resize(dBegin + dCount);
    double refWeight = 0;
    for (int32_t s = 0; s < dCount; s++) refWeight += a.dWeight[dBegin + s];
    if (dCount > a.maxD) a.maxD = dCount;

    // Units of up to kMaxPairsPerUnit non-empty responses.
    auto flush = [&]() {
      if (nUnit == 0) return;
      BmasUnit u{};
      u.uBegin = static_cast<int32_t>(a.uIds.size());
      u.dBegin = dBegin;
      u.dCount = dCount;
      u.colBegin = static_cast<int32_t>(a.colTotal);
      u.nPairs = nUnit;
      const int32_t unitIndex = static_cast<int32_t>(a.units.size());
      std::size_t tokens = 0;
      for (int q = 0; q < nUnit; q++) tokens += static_cast<std::size_t>(in.respOffsets[unitPairs[q] + 1] - in.respOffsets[unitPairs[q]]);
      mapU.reset(tokens);
      // Room for every token, zeroed masks; cut to the distinct count after.
      a.uIds.resize(u.uBegin + tokens);
      a.uMask.resize(u.uBegin + tokens);
      int32_t* uIds = a.uIds.data() + u.uBegin;
      uint32_t* uMask = a.uMask.data() + u.uBegin;
      int32_t uCount = 0;
      for (int32_t q = 0; q < u.nPairs; q++) {
        const int32_t i = unitPairs[q];
        pairUnit[i] = unitIndex;
        pairLocal[i] = q;
        const uint32_t bit = 1u << q;
        for (int32_t t = in.respOffsets[i]; t < in.respOffsets[i + 1]; t++) {
          const int32_t id = in.respIds[t];
          int32_t added;
          const int32_t s = mapU.findOrInsert(id, uCount, added);
          uIds[uCount] = id;  // kept only when added
          uCount += added;
          uMask[s] |= bit;
          respSlot[t] = s;
        }
      }
      u.uCount = uCount;
      a.uIds.resize(u.uBegin + uCount);
      a.uMask.resize(u.uBegin + uCount);
      for (int32_t r = 0; r < u.uCount; r += blockRows) {
        a.blocks.push_back(unitIndex);
        a.blocks.push_back(r);
      }
      a.colTotal += static_cast<int64_t>(u.nPairs) * dCount;
      a.units.push_back(u);
      a.unitRefWeight.push_back(refWeight);
      nUnit = 0;
    };
    for (int32_t k = start[g]; k < start[g + 1]; k++) {
      const int32_t i = order[k];
      if (in.respOffsets[i] == in.respOffsets[i + 1]) continue;  // empty response: 0
      unitPairs[nUnit++] = i;
      if (nUnit == kMaxPairsPerUnit) flush();
    }
    flush();
  }
}

template <typename T>
void copyInto(std::vector<T>& dst, std::size_t at, const std::vector<T>& src) {
  if (!src.empty()) std::memcpy(dst.data() + at, src.data(), src.size() * sizeof(T));
}

// Pairs [i0, i1) of finishBmas.
void finishPairs(const BmasPlan& p, const BmasInput& in, const float* rowMax, const float* colMax, float* out, int32_t i0, int32_t i1) {
  const int32_t n = static_cast<int32_t>(in.respOffsetsLen - 1);
  for (int32_t i = i0; i < i1; i++) {
    const int32_t k = p.pairUnit[i];
    if (k < 0) {
      out[i] = out[n + i] = out[2 * n + i] = 0.0f;
      continue;
    }
    const BmasUnit& u = p.units[k];
    const float* rm = rowMax + u.uBegin;
    double num = 0, den = 0;
    for (int32_t t = in.respOffsets[i]; t < in.respOffsets[i + 1]; t++) {
      const double w = in.weights ? static_cast<double>(in.weights[in.respIds[t]]) : 1.0;
      num += w * static_cast<double>(rm[p.respSlot[t]]);
      den += w;
    }
    const double prec = den > 0 ? num / den : 0.0;
    const float* cm = colMax + u.colBegin + static_cast<int64_t>(p.pairLocal[i]) * u.dCount;
    double rnum = 0;
    for (int32_t d = 0; d < u.dCount; d++) rnum += p.dWeight[u.dBegin + d] * static_cast<double>(cm[d]);
    const double rden = p.unitRefWeight[k];
    const double rec = rden > 0 ? rnum / rden : 0.0;
    double score;
    if (in.combine == 1) score = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0.0;
    else score = (prec + rec) / 2;
    out[i] = static_cast<float>(score);
    out[n + i] = static_cast<float>(prec);
    out[2 * n + i] = static_cast<float>(rec);
  }
}

}  // namespace

void planBmas(const BmasInput& in, int vocabSize, int blockRows, BmasPlan& p) {
  const int32_t n = static_cast<int32_t>(in.respOffsetsLen - 1);
  const int32_t nRefs = static_cast<int32_t>(in.refOffsetsLen - 1);
  (void)vocabSize;
  // No fill for respSlot: every token of a computed pair is written, and no other is read.
  p.respSlot.resize(in.respIdsLen);
  p.pairUnit.assign(n, -1);
  p.pairLocal.assign(n, 0);

  // Pairs of each reference, in input order (counting sort on pairRef); start[] is shifted by the
  // placement and shifted back.
  std::vector<int32_t>& start = p.start;
  std::vector<int32_t>& order = p.order;
  start.assign(nRefs + 1, 0);
  for (int32_t i = 0; i < n; i++) start[in.pairRef[i] + 1]++;
  for (int32_t g = 0; g < nRefs; g++) start[g + 1] += start[g];
  order.resize(n);
  for (int32_t i = 0; i < n; i++) order[start[in.pairRef[i]]++] = i;
  for (int32_t g = nRefs; g > 0; g--) start[g] = start[g - 1];
  start[0] = 0;

  const int threads = static_cast<int>(mr::pool_threads());
  const std::size_t work = in.respIdsLen + in.refIdsLen;
  if (threads <= 1 || nRefs <= 1 || work < kParallelTokens) {
    planRefs(in, 0, nRefs, start.data(), order.data(), blockRows, p, p.pairUnit.data(), p.pairLocal.data(), p.respSlot.data());
    return;
  }

  // Runs of references of about equal token counts, a few per thread so that uneven ones even out.
  const int wantParts = std::min<int32_t>(nRefs, 4 * threads);
  std::vector<int32_t>& cuts = p.partRefs;
  cuts.clear();
  cuts.push_back(0);
  {
    std::size_t acc = 0;
    for (int32_t g = 0; g < nRefs; g++) {
      acc += static_cast<std::size_t>(in.refOffsets[g + 1] - in.refOffsets[g]);
      for (int32_t k = start[g]; k < start[g + 1]; k++) acc += static_cast<std::size_t>(in.respOffsets[order[k] + 1] - in.respOffsets[order[k]]);
      const std::size_t due = work * cuts.size() / static_cast<std::size_t>(wantParts);
      if (acc >= due && g + 1 < nRefs) cuts.push_back(g + 1);
    }
    cuts.push_back(nRefs);
  }
  const int nParts = static_cast<int>(cuts.size()) - 1;
  if (p.parts.size() < static_cast<std::size_t>(nParts)) p.parts.resize(nParts);
  mr::parallel_for(nParts, [&](std::size_t k) {
    planRefs(in, cuts[k], cuts[k + 1], start.data(), order.data(), blockRows, p.parts[k], p.pairUnit.data(), p.pairLocal.data(), p.respSlot.data());
  });

  // Concatenate in reference order, rebasing the local indices: the layout one thread would make.
  struct Base { std::size_t u, d, unit, block; int64_t col; };
  std::vector<Base> base(nParts + 1);
  base[0] = Base{0, 0, 0, 0, 0};
  p.maxD = 0;
  for (int k = 0; k < nParts; k++) {
    const BmasPlanArrays& a = p.parts[k];
    base[k + 1] = Base{base[k].u + a.uIds.size(), base[k].d + a.dIds.size(), base[k].unit + a.units.size(), base[k].block + a.blocks.size(),
                       base[k].col + a.colTotal};
    p.maxD = std::max(p.maxD, a.maxD);
  }
  const Base& all = base[nParts];
  p.uIds.resize(all.u); p.uMask.resize(all.u);
  p.dIds.resize(all.d); p.dWeight.resize(all.d);
  p.units.resize(all.unit); p.unitRefWeight.resize(all.unit);
  p.blocks.resize(all.block);
  p.colTotal = all.col;
  mr::parallel_for(nParts, [&](std::size_t k) {
    const BmasPlanArrays& a = p.parts[k];
    const Base& b = base[k];
    copyInto(p.uIds, b.u, a.uIds);
    copyInto(p.uMask, b.u, a.uMask);
    copyInto(p.dIds, b.d, a.dIds);
    copyInto(p.dWeight, b.d, a.dWeight);
    copyInto(p.unitRefWeight, b.unit, a.unitRefWeight);
    for (std::size_t j = 0; j < a.units.size(); j++) {
      BmasUnit u = a.units[j];
      u.uBegin += static_cast<int32_t>(b.u);
      u.dBegin += static_cast<int32_t>(b.d);
      u.colBegin = static_cast<int32_t>(u.colBegin + b.col);
      p.units[b.unit + j] = u;
    }
    for (std::size_t j = 0; j < a.blocks.size(); j += 2) {
      p.blocks[b.block + j] = a.blocks[j] + static_cast<int32_t>(b.unit);
      p.blocks[b.block + j + 1] = a.blocks[j + 1];
    }
    for (int32_t j = start[cuts[k]]; j < start[cuts[k + 1]]; j++) {
      int32_t& unit = p.pairUnit[order[j]];
      if (unit >= 0) unit += static_cast<int32_t>(b.unit);
    }
  });
}

void finishBmas(const BmasPlan& p, const BmasInput& in, const float* rowMax, const float* colMax, float* out) {
  const int32_t n = static_cast<int32_t>(in.respOffsetsLen - 1);
  const int threads = static_cast<int>(mr::pool_threads());
  if (threads <= 1 || in.respIdsLen < kParallelTokens || n < 64) {
    finishPairs(p, in, rowMax, colMax, out, 0, n);
    return;
  }
  const int32_t chunks = std::min<int32_t>(2 * threads, n / 32);
  mr::parallel_for(chunks, [&](std::size_t k) {
    const int64_t c = static_cast<int64_t>(k);
    finishPairs(p, in, rowMax, colMax, out, static_cast<int32_t>(n * c / chunks), static_cast<int32_t>(n * (c + 1) / chunks));
  });
}

}  // namespace mrcuda
