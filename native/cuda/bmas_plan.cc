#include "bmas_plan.h"

#include <cmath>
#include <string>

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
    keys_.assign(cap, -1);
    slots_.resize(cap);
    mask_ = cap - 1;
  }
  // The slot of `id`, inserting `fresh` when absent; `inserted` tells which.
  int32_t findOrInsert(int32_t id, int32_t fresh, bool& inserted) {
    // Fibonacci hashing: the high bits of the product mix every bit of the id.
    std::size_t h = (static_cast<uint32_t>(id) * 0x9E3779B1u) >> shift_;
    while (true) {
      if (keys_[h] == id) {
        inserted = false;
        return slots_[h];
      }
      if (keys_[h] < 0) {
        keys_[h] = id;
        slots_[h] = fresh;
        inserted = true;
        return fresh;
      }
      h = (h + 1) & mask_;
    }
  }

 private:
  std::vector<int32_t> keys_, slots_;
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
    for (std::size_t i = 0; i < in.weightsLen; i++) {
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

void planBmas(const BmasInput& in, int vocabSize, int blockRows, BmasPlan& p) {
  const int32_t n = static_cast<int32_t>(in.respOffsetsLen - 1);
  const int32_t nRefs = static_cast<int32_t>(in.refOffsetsLen - 1);
  (void)vocabSize;
  // Cleared, not reassigned: the plan object is reused across batches and keeps its capacity.
  p.uIds.clear(); p.uMask.clear(); p.dIds.clear(); p.dWeight.clear(); p.units.clear();
  p.unitRefWeight.clear(); p.blocks.clear();
  p.colTotal = 0;
  p.maxD = 0;
  p.respSlot.assign(in.respIdsLen, -1);
  p.pairUnit.assign(n, -1);
  p.pairLocal.assign(n, 0);

  // Pairs of each reference, in input order (counting sort on pairRef).
  std::vector<int32_t> start(nRefs + 1, 0);
  for (int32_t i = 0; i < n; i++) start[in.pairRef[i] + 1]++;
  for (int32_t g = 0; g < nRefs; g++) start[g + 1] += start[g];
  std::vector<int32_t> order(n);
  {
    std::vector<int32_t> fill(start.begin(), start.end() - 1);
    for (int32_t i = 0; i < n; i++) order[fill[in.pairRef[i]]++] = i;
  }

  IdMap& mapD = tMapD;
  IdMap& mapU = tMapU;
  std::vector<int32_t> unitPairs;
  bool inserted = false;
  for (int32_t g = 0; g < nRefs; g++) {
    const int32_t r0 = in.refOffsets[g], r1 = in.refOffsets[g + 1];
    if (r0 == r1 || start[g] == start[g + 1]) continue;  // empty reference: its pairs score 0

    // Distinct reference ids, each weighted by count x w.
    mapD.reset(static_cast<std::size_t>(r1 - r0));
    const int32_t dBegin = static_cast<int32_t>(p.dIds.size());
    for (int32_t j = r0; j < r1; j++) {
      const int32_t id = in.refIds[j];
      const int32_t s = mapD.findOrInsert(id, static_cast<int32_t>(p.dIds.size()) - dBegin, inserted);
      if (inserted) {
        p.dIds.push_back(id);
        p.dWeight.push_back(0.0);
      }
      p.dWeight[dBegin + s] += in.weights ? static_cast<double>(in.weights[id]) : 1.0;
    }
    const int32_t dCount = static_cast<int32_t>(p.dIds.size()) - dBegin;
    double refWeight = 0;
    for (int32_t s = 0; s < dCount; s++) refWeight += p.dWeight[dBegin + s];
    if (dCount > p.maxD) p.maxD = dCount;

    // Units of up to kMaxPairsPerUnit non-empty responses.
    unitPairs.clear();
    auto flush = [&]() {
      if (unitPairs.empty()) return;
      BmasUnit u{};
      u.uBegin = static_cast<int32_t>(p.uIds.size());
      u.dBegin = dBegin;
      u.dCount = dCount;
      u.colBegin = static_cast<int32_t>(p.colTotal);
      u.nPairs = static_cast<int32_t>(unitPairs.size());
      const int32_t unitIndex = static_cast<int32_t>(p.units.size());
      std::size_t tokens = 0;
      for (int32_t i : unitPairs) tokens += static_cast<std::size_t>(in.respOffsets[i + 1] - in.respOffsets[i]);
      mapU.reset(tokens);
      for (int32_t q = 0; q < u.nPairs; q++) {
        const int32_t i = unitPairs[q];
        p.pairUnit[i] = unitIndex;
        p.pairLocal[i] = q;
        for (int32_t t = in.respOffsets[i]; t < in.respOffsets[i + 1]; t++) {
          const int32_t id = in.respIds[t];
          const int32_t s = mapU.findOrInsert(id, static_cast<int32_t>(p.uIds.size()), inserted);
          if (inserted) {
            p.uIds.push_back(id);
            p.uMask.push_back(0);
          }
          p.uMask[s] |= 1u << q;
          p.respSlot[t] = s;
        }
      }
      u.uCount = static_cast<int32_t>(p.uIds.size()) - u.uBegin;
      for (int32_t r = 0; r < u.uCount; r += blockRows) {
        p.blocks.push_back(unitIndex);
        p.blocks.push_back(r);
      }
      p.colTotal += static_cast<int64_t>(u.nPairs) * dCount;
      p.units.push_back(u);
      p.unitRefWeight.push_back(refWeight);
      unitPairs.clear();
    };
    for (int32_t k = start[g]; k < start[g + 1]; k++) {
      const int32_t i = order[k];
      if (in.respOffsets[i] == in.respOffsets[i + 1]) continue;  // empty response: 0
      unitPairs.push_back(i);
      if (static_cast<int>(unitPairs.size()) == kMaxPairsPerUnit) flush();
    }
    flush();
  }
}

void finishBmas(const BmasPlan& p, const BmasInput& in, const float* rowMax, const float* colMax, float* out) {
  const int32_t n = static_cast<int32_t>(in.respOffsetsLen - 1);
  for (int32_t i = 0; i < n; i++) {
    const int32_t k = p.pairUnit[i];
    if (k < 0) {
      out[i] = out[n + i] = out[2 * n + i] = 0.0f;
      continue;
    }
    double num = 0, den = 0;
    for (int32_t t = in.respOffsets[i]; t < in.respOffsets[i + 1]; t++) {
      const double w = in.weights ? static_cast<double>(in.weights[in.respIds[t]]) : 1.0;
      num += w * static_cast<double>(rowMax[p.respSlot[t]]);
      den += w;
    }
    const double prec = den > 0 ? num / den : 0.0;
    const BmasUnit& u = p.units[k];
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

}  // namespace mrcuda
