// BMAS (bidirectional max-average similarity) over an L2-normalised embedding table, for a
// packed batch of (response, reference) pairs grouped by reference. See SPEC §6 and the
// `BmasJob` contract in lib/backend/addonTypes.ts, which this mirrors field for field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mr {

enum class Status : int {
  Ok = 0,
  BadShape,        // inconsistent sizes or an unknown option
  BadRespOffsets,  // index = position in respOffsets
  BadRefOffsets,   // index = position in refOffsets
  BadPairRef,      // index = pair, value = the reference number
  RespIdRange,     // index = pair, position = token position in its response, value = the id
  RefIdRange,      // index = reference, position = token position, value = the id
  BadWeight,       // index = vocabulary id, value = the weight
  OutOfMemory,
  Internal,
};

struct ErrorInfo {
  Status status = Status::Ok;
  std::int64_t index = -1;
  std::int64_t position = -1;
  double value = 0;
};

// A human-readable message naming the argument, the position and the bad value.
std::string describe(const ErrorInfo& e, std::int64_t vocab_size);

struct TableView {
  const float* data;  // vocab_size * dim floats, row-major, rows L2-normalised (zero rows allowed)
  std::int64_t vocab_size;
  std::int64_t dim;
};

struct BmasBatch {
  const std::int32_t* resp_ids;
  std::size_t resp_len;
  const std::int32_t* resp_offsets;  // n_pairs + 1
  std::size_t n_pairs;
  const std::int32_t* ref_ids;
  std::size_t ref_len;
  const std::int32_t* ref_offsets;   // n_refs + 1
  std::size_t n_refs;
  const std::int32_t* pair_ref;      // n_pairs
  const float* weights;              // vocab_size entries, or null for all ones
  int combine;                       // 0 = mean, 1 = f1
  float* out;                        // 3 * n_pairs: score, then P, then R (planar)
};

// Validates everything, then computes. Inputs are copied first, so a caller that mutates them
// meanwhile gets garbage scores at worst, never an out-of-bounds read. Never throws.
Status bmas_batch(const TableView& table, const BmasBatch& batch, ErrorInfo* err);

// Only the validation pass (used by tests).
Status bmas_validate(const TableView& table, const BmasBatch& batch, ErrorInfo* err);

}  // namespace mr
