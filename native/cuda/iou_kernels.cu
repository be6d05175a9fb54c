// Box IoU / GIoU on the device (SPEC §5). Arithmetic in double whatever the input type, so float64
// boxes lose nothing; float32 boxes are widened on the device.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>

#include "cuda_core.h"

namespace mrcuda {

namespace {

// Same rules and numbers as the TS kernel (lib/kernels/iouJs.ts), in double: valid means finite
// with x2 > x1 and y2 > y1 (NaN fails every comparison); an invalid box gives 0 for IoU and GIoU;
// results are clamped to [0, 1] / [-1, 1], never NaN.
__device__ __forceinline__ bool validBox(double x1, double y1, double x2, double y2) {
  return x2 > x1 && y2 > y1 && x1 > -INFINITY && x2 < INFINITY && y1 > -INFINITY && y2 < INFINITY;
}

// Areas that underflow or overflow: IoU and GIoU are invariant under per-axis scaling, so measure
// both axes in units of the enclosing box (halving first where the extent itself overflows).
__device__ double iouRescaled(double ax1, double ay1, double ax2, double ay2, double bx1, double by1, double bx2, double by2, bool giou) {
  double hx = 1, cw = fmax(ax2, bx2) - fmin(ax1, bx1);
  if (!(cw < INFINITY)) {
    hx = 0.5;
    cw = fmax(ax2, bx2) * hx - fmin(ax1, bx1) * hx;
  }
  double hy = 1, ch = fmax(ay2, by2) - fmin(ay1, by1);
  if (!(ch < INFINITY)) {
    hy = 0.5;
    ch = fmax(ay2, by2) * hy - fmin(ay1, by1) * hy;
  }
  const double aw = (ax2 * hx - ax1 * hx) / cw, ah = (ay2 * hy - ay1 * hy) / ch;
  const double bw = (bx2 * hx - bx1 * hx) / cw, bh = (by2 * hy - by1 * hy) / ch;
  const double iw = (fmin(ax2, bx2) * hx - fmax(ax1, bx1) * hx) / cw;
  const double ih = (fmin(ay2, by2) * hy - fmax(ay1, by1) * hy) / ch;
  const double inter = iw > 0 && ih > 0 ? iw * ih : 0;
  const double uni = aw * ah + bw * bh - inter;
  double iou = inter > 0 && uni > 0 ? inter / uni : 0;
  if (!(iou <= 1)) iou = iou > 1 ? 1 : 0;
  if (!giou) return iou;
  const double g = iou - (1 - fmin(uni, 1.0));
  return g >= -1 ? (g > 1 ? 1 : g) : -1;
}

template <typename T>
__device__ __forceinline__ float iouOne(const T* a, const T* b, bool giou) {
  const double ax1 = a[0], ay1 = a[1], ax2 = a[2], ay2 = a[3];
  const double bx1 = b[0], by1 = b[1], bx2 = b[2], by2 = b[3];
  if (!validBox(ax1, ay1, ax2, ay2) || !validBox(bx1, by1, bx2, by2)) return 0.0f;
  const double iw = fmin(ax2, bx2) - fmax(ax1, bx1);
  const double ih = fmin(ay2, by2) - fmax(ay1, by1);
  const double inter = (iw > 0 && ih > 0) ? iw * ih : 0.0;
  const double uni = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  if (!(uni > 1e-280 && uni < INFINITY)) return static_cast<float>(iouRescaled(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2, giou));
  const double iou = inter / uni;
  if (!giou) return static_cast<float>(iou);
  const double hull = (fmax(ax2, bx2) - fmin(ax1, bx1)) * (fmax(ay2, by2) - fmin(ay1, by1));
  if (!(hull < INFINITY)) return static_cast<float>(iouRescaled(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2, giou));
  const double g = iou - (hull - uni) / hull;
  return static_cast<float>(g < -1 ? -1 : g > 1 ? 1 : g);
}

template <typename T>
__global__ void iouPairsKernel(const T* __restrict__ a, const T* __restrict__ b, size_t n, float* __restrict__ out, bool giou) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    out[i] = iouOne(a + 4 * i, b + 4 * i, giou);
  }
}

// One row of the matrix per blockIdx.y (strided), columns across threads: out[i*m + j].
template <typename T>
__global__ void iouMatrixKernel(const T* __restrict__ a, size_t n, const T* __restrict__ b, size_t m, float* __restrict__ out, bool giou) {
  for (size_t i = blockIdx.y; i < n; i += gridDim.y) {
    T box[4] = {a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3]};
    for (size_t j = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; j < m; j += static_cast<size_t>(gridDim.x) * blockDim.x) {
      out[i * m + j] = iouOne(box, b + 4 * j, giou);
    }
  }
}

// One scratch area for all IoU calls of the process, serialised.
struct IouScratch {
  std::mutex mu;
  unsigned char* dev = nullptr;
  size_t cap = 0;
  cudaStream_t stream = nullptr;
};
IouScratch& scratch() {
  static IouScratch* s = new IouScratch();  // never destroyed: no CUDA calls at process exit
  return *s;
}

Result fail(const char* what, cudaError_t e) {
  return Result::fail(Status::Native, std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

template <typename T>
Result runIou(const T* a, size_t n, const T* b, size_t m, float* out, bool giou, bool matrix) {
  const size_t outN = matrix ? n * m : n;
  if (outN == 0) return {};
  IouScratch& s = scratch();
  std::lock_guard<std::mutex> lock(s.mu);
  cudaError_t e = cudaSuccess;
  if (!s.stream) {
    e = cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) return fail("cudaStreamCreate", e);
  }
  const size_t aBytes = (4 * n * sizeof(T) + 255) / 256 * 256, bBytes = (4 * m * sizeof(T) + 255) / 256 * 256;
  const size_t need = aBytes + bBytes + outN * sizeof(float);
  if (need > s.cap) {
    if (s.dev) cudaFree(s.dev);
    s.dev = nullptr;
    s.cap = 0;
    e = cudaMalloc(reinterpret_cast<void**>(&s.dev), need);
    if (e != cudaSuccess) return fail("cudaMalloc (box IoU)", e);
    s.cap = need;
  }
  T* dA = reinterpret_cast<T*>(s.dev);
  T* dB = reinterpret_cast<T*>(s.dev + aBytes);
  float* dOut = reinterpret_cast<float*>(s.dev + aBytes + bBytes);
  e = cudaMemcpyAsync(dA, a, 4 * n * sizeof(T), cudaMemcpyHostToDevice, s.stream);
  if (e == cudaSuccess && m) e = cudaMemcpyAsync(dB, b, 4 * m * sizeof(T), cudaMemcpyHostToDevice, s.stream);
  if (e != cudaSuccess) return fail("copying boxes to the device", e);
  if (matrix) {
    const unsigned gx = static_cast<unsigned>(std::min<size_t>((m + 255) / 256, 64));
    const unsigned gy = static_cast<unsigned>(std::min<size_t>(n, 65535));
    iouMatrixKernel<T><<<dim3(gx, gy), 256, 0, s.stream>>>(dA, n, dB, m, dOut, giou);
  } else {
    const unsigned g = static_cast<unsigned>(std::min<size_t>((n + 255) / 256, 4096));
    iouPairsKernel<T><<<g, 256, 0, s.stream>>>(dA, dB, n, dOut, giou);
  }
  e = cudaGetLastError();
  if (e != cudaSuccess) return fail("box IoU kernel launch", e);
  e = cudaMemcpyAsync(out, dOut, outN * sizeof(float), cudaMemcpyDeviceToHost, s.stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(s.stream);
  if (e != cudaSuccess) return fail("box IoU", e);
  return {};
}

}  // namespace

Result boxIoU(const float* a, const float* b, size_t n, float* out, bool giou) { return runIou(a, n, b, n, out, giou, false); }
Result boxIoU(const double* a, const double* b, size_t n, float* out, bool giou) { return runIou(a, n, b, n, out, giou, false); }
Result boxIoUMatrix(const float* a, size_t n, const float* b, size_t m, float* out, bool giou) { return runIou(a, n, b, m, out, giou, true); }
Result boxIoUMatrix(const double* a, size_t n, const double* b, size_t m, float* out, bool giou) { return runIou(a, n, b, m, out, giou, true); }

}  // namespace mrcuda
