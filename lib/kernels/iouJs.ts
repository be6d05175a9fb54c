/**
 * Pure-TS box IoU / GIoU kernels (the `js` backend). Arithmetic is float64; results are written to
 * whatever array the caller passes (Float32Array for the public kernels, Float64Array for rewards,
 * where a threshold comparison must not see float32 rounding).
 *
 * SPEC §5: a box is valid when all four values are finite, x2 > x1 and y2 > y1; an invalid box has
 * IoU 0 with every box. Choice: its GIoU is 0 too (not -1), so an unparsable prediction is neither
 * rewarded nor punished more than "no overlap" by the IoU rule. No result is ever NaN:
 * IoU is in [0, 1], GIoU in [-1, 1].
 */

export type BoxData = ArrayLike<number>;
export type OutArray = Float32Array | Float64Array;

/**
 * Areas below this (or infinite ones) lose precision or overflow in the direct formula; those pairs
 * take the rescaled path. 1e-280 leaves ~28 decimal orders above the subnormal range.
 */
const TINY_AREA = 1e-280;

/** Validity per SPEC; NaN fails every comparison, and x2 > x1 makes x1 < Inf and x2 > -Inf. */
function isValid(x1: number, y1: number, x2: number, y2: number): boolean {
  return x2 > x1 && y2 > y1 && x1 > -Infinity && x2 < Infinity && y1 > -Infinity && y2 < Infinity;
}

/**
 * IoU and GIoU are invariant under translation and under scaling each axis separately, so a pair whose
 * areas underflow or overflow is recomputed with widths divided by the enclosing width and heights by
 * the enclosing height (enclosing area 1). Halving first keeps differences of ±1e308 finite.
 */
function rescaledPair(
  ax1: number, ay1: number, ax2: number, ay2: number,
  bx1: number, by1: number, bx2: number, by2: number,
  giou: boolean,
): number {
  // An axis is halved only when its extent overflows (coordinates near ±1.8e308); then the extent is
  // huge, so dividing by it is safe. Without overflow the differences stay exact even for subnormals.
  let hx = 1;
  let cw = Math.max(ax2, bx2) - Math.min(ax1, bx1);
  if (!(cw < Infinity)) {
    hx = 0.5;
    cw = Math.max(ax2, bx2) * hx - Math.min(ax1, bx1) * hx;
  }
  let hy = 1;
  let ch = Math.max(ay2, by2) - Math.min(ay1, by1);
  if (!(ch < Infinity)) {
    hy = 0.5;
    ch = Math.max(ay2, by2) * hy - Math.min(ay1, by1) * hy;
  }
  const aw = (ax2 * hx - ax1 * hx) / cw;
  const ah = (ay2 * hy - ay1 * hy) / ch;
  const bw = (bx2 * hx - bx1 * hx) / cw;
  const bh = (by2 * hy - by1 * hy) / ch;
  const iw = (Math.min(ax2, bx2) * hx - Math.max(ax1, bx1) * hx) / cw;
  const ih = (Math.min(ay2, by2) * hy - Math.max(ay1, by1) * hy) / ch;
  const inter = iw > 0 && ih > 0 ? iw * ih : 0;
  const union = aw * ah + bw * bh - inter;
  let iou = inter > 0 && union > 0 ? inter / union : 0;
  if (!(iou <= 1)) iou = iou > 1 ? 1 : 0;
  if (!giou) return iou;
  // Enclosing area is 1 in these units.
  const g = iou - (1 - Math.min(union, 1));
  return g >= -1 ? (g > 1 ? 1 : g) : -1;
}

/** IoU (or GIoU) of one pair of boxes, float64. */
export function iouPair(
  ax1: number, ay1: number, ax2: number, ay2: number,
  bx1: number, by1: number, bx2: number, by2: number,
  giou = false,
): number {
  if (!isValid(ax1, ay1, ax2, ay2) || !isValid(bx1, by1, bx2, by2)) return 0;
  const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  const ih = Math.min(ay2, by2) - Math.max(ay1, by1);
  const inter = iw > 0 && ih > 0 ? iw * ih : 0;
  const union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  if (!(union > TINY_AREA && union < Infinity)) return rescaledPair(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2, giou);
  // inter <= each area and union >= inter hold in rounded arithmetic too (monotone rounding): iou <= 1.
  const iou = inter / union;
  if (!giou) return iou;
  const c = (Math.max(ax2, bx2) - Math.min(ax1, bx1)) * (Math.max(ay2, by2) - Math.min(ay1, by1));
  if (!(c < Infinity)) return rescaledPair(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2, giou);
  const g = iou - (c - union) / c;
  return g < -1 ? -1 : g > 1 ? 1 : g;
}

/** out[i] = IoU(a box i, b box i) for i < n (n = a.length / 4, lengths already checked). */
export function iouElementwiseInto(a: BoxData, b: BoxData, out: OutArray, giou: boolean): void {
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    out[i] = iouPair(a[o], a[o + 1], a[o + 2], a[o + 3], b[o], b[o + 1], b[o + 2], b[o + 3], giou);
  }
}

/** out[i*M + j] = IoU(a box i, b box j), row-major (lengths already checked). */
export function iouMatrixInto(a: BoxData, b: BoxData, out: OutArray, giou: boolean): void {
  const n = a.length >> 2;
  const m = b.length >> 2;
  // Columns copied once into float64 planes: the inner loop then reads contiguous doubles.
  const bx1 = new Float64Array(m);
  const by1 = new Float64Array(m);
  const bx2 = new Float64Array(m);
  const by2 = new Float64Array(m);
  const bArea = new Float64Array(m);
  const bOk = new Uint8Array(m);
  for (let j = 0; j < m; j++) {
    const o = 4 * j;
    bx1[j] = b[o];
    by1[j] = b[o + 1];
    bx2[j] = b[o + 2];
    by2[j] = b[o + 3];
    bOk[j] = isValid(bx1[j], by1[j], bx2[j], by2[j]) ? 1 : 0;
    bArea[j] = (bx2[j] - bx1[j]) * (by2[j] - by1[j]);
  }
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    const ax1 = +a[o], ay1 = +a[o + 1], ax2 = +a[o + 2], ay2 = +a[o + 3];
    const row = i * m;
    if (!isValid(ax1, ay1, ax2, ay2)) {
      out.fill(0, row, row + m);
      continue;
    }
    const aArea = (ax2 - ax1) * (ay2 - ay1);
    for (let j = 0; j < m; j++) {
      if (bOk[j] === 0) {
        out[row + j] = 0;
        continue;
      }
      const iw = Math.min(ax2, bx2[j]) - Math.max(ax1, bx1[j]);
      const ih = Math.min(ay2, by2[j]) - Math.max(ay1, by1[j]);
      const inter = iw > 0 && ih > 0 ? iw * ih : 0;
      const union = aArea + bArea[j] - inter;
      if (giou || !(union > TINY_AREA && union < Infinity)) {
        out[row + j] = iouPair(ax1, ay1, ax2, ay2, bx1[j], by1[j], bx2[j], by2[j], giou);
      } else {
        out[row + j] = inter / union;
      }
    }
  }
}

/** Elementwise IoU of n pairs into a new Float32Array. */
export function boxIoUJs(a: BoxData, b: BoxData, giou = false): Float32Array {
  const out = new Float32Array(a.length >> 2);
  iouElementwiseInto(a, b, out, giou);
  return out;
}

/** IoU matrix (N·M, row-major) into a new Float32Array. */
export function boxIoUMatrixJs(a: BoxData, b: BoxData, giou = false): Float32Array {
  const out = new Float32Array((a.length >> 2) * (b.length >> 2));
  iouMatrixInto(a, b, out, giou);
  return out;
}
