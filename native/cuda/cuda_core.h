// CUDA backend core: device table, BMAS batch, box IoU, device probe. No Node types: pointers,
// sizes and status codes in, so the same code is driven by the addon binding and by the
// standalone test/benchmark (native/cuda/test_bench.cu) on machines without Node.js.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mrcuda {

// Which typed error a failure maps to on the JS side (see lib/errors.ts).
enum class Status : int {
  Ok = 0,
  InvalidArgument = 1,  // wrong length / shape / flag value
  TokenRange = 2,       // token id outside [0, vocabSize)
  ValueRange = 3,       // a weight that is negative or not finite
  BadBoxes = 4,         // box array length not a multiple of 4, unequal counts
  Native = 5,           // CUDA error, allocation failure, disposed table
};

struct Result {
  Status status = Status::Ok;
  std::string message;
  bool ok() const { return status == Status::Ok; }
  static Result fail(Status s, std::string m) { return Result{s, std::move(m)}; }
};

struct ProbeInfo {
  bool ok = false;
  std::string reason;  // when !ok: 'no CUDA driver (...)', 'no device', ...
  std::string device;
  std::string computeCapability;  // "9.0"
  int major = 0, minor = 0;
  std::size_t memoryBytes = 0;
  int multiprocessors = 0;
  int runtimeVersion = 0, driverVersion = 0;
};

// Never throws; safe with no driver and no device (the CUDA runtime is linked statically).
ProbeInfo probe();

// Packed BMAS batch, the BmasJob of lib/backend/addonTypes.ts as plain pointers.
struct BmasInput {
  const int32_t* respIds; std::size_t respIdsLen;
  const int32_t* respOffsets; std::size_t respOffsetsLen;  // N + 1
  const int32_t* refIds; std::size_t refIdsLen;
  const int32_t* refOffsets; std::size_t refOffsetsLen;    // G + 1
  const int32_t* pairRef; std::size_t pairRefLen;          // N
  const float* weights; std::size_t weightsLen;            // nullptr = all ones; else vocabSize
  int combine;    // 0 mean, 1 f1
  int precision;  // 0 exact (fp32 FFMA), 1 fast (bf16 tensor cores)
  std::size_t outLen;                                      // 3N
};

// Checks every length, offset, pair reference, token id and weight; touches no memory outside
// the given arrays. Must pass before bmasRun.
Result validateBmas(const BmasInput& in, int vocabSize);

class DeviceTable;  // opaque: f32 rows (padded stride) on the device, bf16 copy made lazily

Result tableCreate(const float* rows, int vocabSize, int dim, DeviceTable** out);
// Frees device memory now (waits for a batch in flight); later batches fail. Idempotent.
void tableDispose(DeviceTable* t);
void tableDestroy(DeviceTable* t);  // tableDispose, then frees the handle itself
int tableVocab(const DeviceTable* t);
int tableDim(const DeviceTable* t);

// Where the time of one bmasRun goes, milliseconds (host clock, except the two device spans).
struct BmasPhases {
  double plan = 0;     // planBmas
  double stage = 0;    // buffers, packing into pinned memory, H2D and memset enqueued
  double launch = 0;   // kernel launch enqueued
  double wait = 0;     // from the launch to the end of cudaStreamSynchronize (kernel + D2H)
  double finish = 0;   // finishBmas
  float kernel = 0;    // device: the BMAS kernel (events)
  float d2h = 0;       // device: the copy of the maxima back (events)
};

// Runs a validated batch; `out` has 3N floats, planar [score | P | R]. kernelMs receives the
// time of the BMAS kernels alone (CUDA events), or 0 when nothing ran on the device. `phases`,
// when given, receives the breakdown above.
Result bmasRun(DeviceTable* t, const BmasInput& in, float* out, float* kernelMs, BmasPhases* phases = nullptr);

// Box IoU on the device (SPEC §5): invalid box -> 0, never NaN. T is float or double.
Result boxIoU(const float* a, const float* b, std::size_t n, float* out, bool giou);
Result boxIoU(const double* a, const double* b, std::size_t n, float* out, bool giou);
Result boxIoUMatrix(const float* a, std::size_t n, const float* b, std::size_t m, float* out, bool giou);
Result boxIoUMatrix(const double* a, std::size_t n, const double* b, std::size_t m, float* out, bool giou);

}  // namespace mrcuda
