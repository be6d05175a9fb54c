/**
 * IoU reward for grounding (SPEC §5). Predicted boxes come from `parseBoxes(extractAnswer(response))`;
 * they are matched one-to-one with the true boxes by optimal assignment, and the reward divides by the
 * larger count, so extra boxes (including copies of a true box) and missing boxes both lower it.
 */
import { maxWeightAssignment } from '../boxes/assignment.js';
import { checkImageSize, parseBoxes, type ImageSize } from '../boxes/parseBoxes.js';
import { resolveBackend } from '../backend/select.js';
import { BoxError, InvalidArgumentError, ValueRangeError } from '../errors.js';
import { describe } from '../kernels/iou.js';
import { iouMatrixInto } from '../kernels/iouJs.js';
import { extractAnswer } from '../text/extractAnswer.js';
import type { BackendName, Box } from '../types.js';

export interface IouRewardOptions {
  /** With t in (0, 1]: a matched pair scores 1 when IoU >= t, else 0. */
  threshold?: number;
  /** Converts 0–1000 normalised boxes (Qwen2-VL, InternVL) to pixels, in the response and a string answer. */
  imageSize?: ImageSize;
  /** Checked like every kernel option; the few boxes of one sample are always scored in float64 TS. */
  backend?: BackendName;
}

export type IouAnswer = Box | Box[] | string | Float32Array | Float64Array;

function checkFinite(v: unknown, where: string): number {
  if (typeof v !== 'number') throw new InvalidArgumentError(`${where} must be a number (got ${describe(v)})`);
  if (!Number.isFinite(v)) throw new BoxError(`${where} must be a finite number (got ${v})`);
  return v;
}

/** The true boxes as 4T float64 values. Malformed answers throw: they are the trainer's data, not model output. */
export function answerBoxes(answer: unknown, imageSize: ImageSize | undefined): Float64Array {
  if (typeof answer === 'string') {
    const boxes = parseBoxes(answer, { imageSize });
    const out = new Float64Array(4 * boxes.length);
    boxes.forEach((box, i) => {
      for (let k = 0; k < 4; k++) out[4 * i + k] = checkFinite(box[k], `answer box ${i}`);
    });
    return out;
  }
  if (answer instanceof Float32Array || answer instanceof Float64Array) {
    if (answer.length % 4 !== 0) throw new BoxError(`answer must hold 4 numbers per box (length ${answer.length})`);
    const out = Float64Array.from(answer);
    for (let k = 0; k < out.length; k++) checkFinite(out[k], `answer[${k}]`);
    return out;
  }
  if (!Array.isArray(answer)) {
    throw new InvalidArgumentError(`answer must be a box [x1, y1, x2, y2], an array of boxes or a string (got ${describe(answer)})`);
  }
  if (answer.length > 0 && !Array.isArray(answer[0]) && !ArrayBuffer.isView(answer[0])) {
    // A single box.
    if (answer.length !== 4) throw new BoxError(`answer must be a box of 4 numbers [x1, y1, x2, y2] (got ${answer.length} values)`);
    const out = new Float64Array(4);
    for (let k = 0; k < 4; k++) out[k] = checkFinite(answer[k], `answer[${k}]`);
    return out;
  }
  const out = new Float64Array(4 * answer.length);
  answer.forEach((box: unknown, i: number) => {
    if (!Array.isArray(box) && !(box instanceof Float32Array || box instanceof Float64Array)) {
      throw new InvalidArgumentError(`answer[${i}] must be a box [x1, y1, x2, y2] (got ${describe(box)})`);
    }
    if (box.length !== 4) throw new BoxError(`answer[${i}] must hold 4 numbers (got ${box.length})`);
    for (let k = 0; k < 4; k++) out[4 * i + k] = checkFinite(box[k], `answer[${i}][${k}]`);
  });
  return out;
}

/** The `threshold` option: undefined/null for none, else a number in (0, 1]. */
export function checkThreshold(t: unknown, name = 'options.threshold'): number | undefined {
  if (t === undefined || t === null) return undefined;
  if (typeof t !== 'number') throw new InvalidArgumentError(`${name} must be a number (got ${describe(t)})`);
  if (!(t > 0 && t <= 1)) throw new ValueRangeError(`${name} must be in (0, 1] (got ${t})`);
  return t;
}

/**
 * Reward in [0, 1]: (sum of matched IoUs) / max(#predicted, #true), or with a threshold
 * hits / max(#predicted, #true). Both empty: 1; exactly one empty: 0. Never throws on a response string.
 */
export function iouReward(response: string, answer: IouAnswer, opts?: IouRewardOptions): number {
  if (typeof response !== 'string') throw new InvalidArgumentError(`response must be a string (got ${describe(response)})`);
  if (opts !== undefined && opts !== null && typeof opts !== 'object') {
    throw new InvalidArgumentError(`options must be an object (got ${describe(opts)})`);
  }
  const threshold = checkThreshold(opts?.threshold);
  const imageSize = checkImageSize(opts ?? undefined);
  if (opts?.backend !== undefined) resolveBackend(opts.backend);
  const truth = answerBoxes(answer, imageSize);
  const predBoxes = parseBoxes(extractAnswer(response), { imageSize });

  const nt = truth.length / 4;
  const np = predBoxes.length;
  if (np === 0 && nt === 0) return 1;
  if (np === 0 || nt === 0) return 0;

  const pred = new Float64Array(4 * np);
  predBoxes.forEach((box, i) => pred.set(box, 4 * i));
  // Float64 IoU so that `IoU >= t` is decided on the exact ratio, not on a float32 rounding of it.
  const iou = new Float64Array(np * nt);
  iouMatrixInto(pred, truth, iou, false);
  const denom = Math.max(np, nt);

  if (threshold === undefined) {
    const { total } = maxWeightAssignment(iou, np, nt);
    return clamp01(total / denom);
  }
  // Lexicographic objective as one weight: a hit is worth more than any total IoU (at most k = min side),
  // so the optimum maximises hits first, then IoU. Hit weights are small integers: exact in float64.
  const big = Math.min(np, nt) + 1;
  const w = new Float64Array(iou.length);
  for (let k = 0; k < iou.length; k++) w[k] = (iou[k] >= threshold ? big : 0) + iou[k];
  const { rowToCol } = maxWeightAssignment(w, np, nt);
  let hits = 0;
  for (let i = 0; i < np; i++) {
    const j = rowToCol[i];
    if (j >= 0 && iou[i * nt + j] >= threshold) hits++;
  }
  return hits / denom;
}

function clamp01(x: number): number {
  return x > 1 ? 1 : x > 0 ? x : 0;
}
