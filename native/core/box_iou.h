// Box IoU / GIoU kernels (SPEC §5). Boxes are [x1, y1, x2, y2], four values per box. A box is
// valid when all four are finite, x2 > x1 and y2 > y1; an invalid box scores 0 with every box
// (IoU and GIoU alike), never NaN.
#pragma once

#include <cstddef>

namespace mr {

enum class BoxType { F32, F64 };

struct BoxArrayView {
  const void* data;
  BoxType type;
  std::size_t boxes;  // number of boxes (data holds 4 * boxes values)
};

// out[i] = IoU(a[i], b[i]) for i < a.boxes (a.boxes must equal b.boxes).
void box_iou(const BoxArrayView& a, const BoxArrayView& b, float* out, bool giou);

// out[i * M + j] = IoU(a[i], b[j]), N = a.boxes, M = b.boxes.
void box_iou_matrix(const BoxArrayView& a, const BoxArrayView& b, float* out, bool giou);

// The plain double-precision definition, one pair (used for rare fix-ups and by tests).
double box_iou_reference(const double* a, const double* b, bool giou);

}  // namespace mr
