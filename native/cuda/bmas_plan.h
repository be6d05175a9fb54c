// Host-side planning of a BMAS batch for the GPU (no CUDA, no Node): groups pairs by reference,
// deduplicates ids, and lays out the work the kernels do and the arrays they fill.
//
// Why distinct ids are exact: max_j S_ij depends only on the id r_i, and a column maximum only on
// which ids a response holds, so each row/column maximum of the distinct-id block, weighted by
// its multiplicity, gives the same P and R as the full m x n matrix.
#pragma once

#include <cstdint>
#include <vector>

#include "cuda_core.h"

namespace mrcuda {

// Pairs of one reference are split into units of at most this many, so that "which pairs hold
// response id u" fits one 32-bit mask per u.
constexpr int kMaxPairsPerUnit = 32;

struct BmasUnit {
  int32_t uBegin, uCount;  // rows: distinct response ids of the unit's pairs (slice of uIds)
  int32_t dBegin, dCount;  // columns: distinct ids of the shared reference (slice of dIds)
  int32_t colBegin;        // per-pair column maxima: colMax[colBegin + q * dCount + d]
  int32_t nPairs;
};

// The arrays the kernels read, and the bookkeeping of how they were laid out.
struct BmasPlanArrays {
  std::vector<int32_t> uIds;     // all units' rows, back to back
  std::vector<uint32_t> uMask;   // bit q: pair q of the unit holds this id
  std::vector<int32_t> dIds;     // each reference's distinct ids, once per reference
  std::vector<double> dWeight;   // count x weight of each distinct reference id
  std::vector<BmasUnit> units;
  std::vector<double> unitRefWeight;  // sum of dWeight over the unit's reference
  std::vector<int32_t> blocks;   // (unit, first row) per thread block, flattened
  int64_t colTotal = 0;
  int32_t maxD = 0;
};

struct BmasPlan : BmasPlanArrays {
  // Per response token: its row within its pair's unit (uIds[units[pairUnit[i]].uBegin + slot]);
  // left stale for pairs that are not computed (pairUnit -1), which nothing reads.
  std::vector<int32_t> respSlot;
  std::vector<int32_t> pairUnit; // per pair: unit index, or -1 (empty response or reference: 0)
  std::vector<int32_t> pairLocal;  // per pair: its bit q within the unit
  // Scratch kept between batches for its capacity: pairs sorted by reference, and the parts of a
  // plan made in parallel (each a run of references, indices local to the part).
  std::vector<int32_t> start, order, partRefs;  // partRefs: first reference of each part, and G
  std::vector<BmasPlanArrays> parts;
};

// `in` must have passed validateBmas. `blockRows` is the kernels' rows per thread block. Large
// batches are planned on the core thread pool (native/core/thread_pool.h), one run of references
// per task; the plan is the same, byte for byte, as on one thread.
void planBmas(const BmasInput& in, int vocabSize, int blockRows, BmasPlan& plan);

// Fills out[3N] from the row maxima (one per uIds entry) and per-pair column maxima; pairs of
// large batches are split over the core thread pool (each pair's sums in the same order).
void finishBmas(const BmasPlan& plan, const BmasInput& in, const float* rowMax, const float* colMax, float* out);

}  // namespace mrcuda
