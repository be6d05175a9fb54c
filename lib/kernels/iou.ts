/**
 * Public box IoU kernels (SPEC §5): checks and packs the inputs, then dispatches to the backend chosen
 * by `resolveBackend` — pure TS, or the native CPU / CUDA addon through the `NativeAddon` contract.
 */
import { addonFor, resolveBackend } from '../backend/select.js';
import type { BoxArray, NativeAddon } from '../backend/addonTypes.js';
import { BoxError, InvalidArgumentError } from '../errors.js';
import type { BackendName, BoxesInput } from '../types.js';
import { iouElementwiseInto, iouMatrixInto } from './iouJs.js';

/** Box data accepted by the kernels: `BoxesInput`, or a flat array of 4N numbers. */
export type BoxIoUInput = BoxesInput | readonly number[];

export interface BoxIoUOptions {
  backend?: BackendName;
  /** Generalised IoU (in [-1, 1]) instead of IoU; invalid boxes still give 0. */
  giou?: boolean;
}

/** Short type description for error messages (typed arrays by class name). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  return typeof value;
}

/**
 * Float32Array / Float64Array pass through untouched (no copy: the native side reads them in place).
 * An array of boxes (`[[x1, y1, x2, y2], …]`) or a flat array of 4N numbers becomes a Float64Array.
 * Entries may be NaN or infinite (such boxes are invalid and score 0); they must be numbers.
 */
export function toBoxArray(input: BoxIoUInput, name: string): BoxArray {
  if (input instanceof Float32Array || input instanceof Float64Array) {
    if (input.length % 4 !== 0) {
      throw new BoxError(`${name} must hold 4 numbers per box (length ${input.length} is not a multiple of 4)`);
    }
    return input;
  }
  if (!Array.isArray(input)) {
    throw new InvalidArgumentError(`${name} must be a Float32Array, a Float64Array or an array of boxes (got ${describe(input)})`);
  }
  const n = input.length;
  if (n === 0) return new Float64Array(0);
  if (typeof input[0] === 'number') {
    if (n % 4 !== 0) throw new BoxError(`${name} must hold 4 numbers per box (length ${n} is not a multiple of 4)`);
    const out = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const v = input[k];
      if (typeof v !== 'number') throw new InvalidArgumentError(`${name}[${k}] must be a number (got ${describe(v)})`);
      out[k] = v;
    }
    return out;
  }
  const out = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) {
    const box = input[i] as unknown;
    if (box === null || typeof box !== 'object' || typeof (box as ArrayLike<number>).length !== 'number') {
      throw new InvalidArgumentError(`${name}[${i}] must be a box [x1, y1, x2, y2] (got ${describe(box)})`);
    }
    const b = box as ArrayLike<unknown>;
    if (b.length !== 4) throw new BoxError(`${name}[${i}] must hold 4 numbers (got ${b.length})`);
    for (let k = 0; k < 4; k++) {
      const v = b[k];
      if (typeof v !== 'number') throw new InvalidArgumentError(`${name}[${i}][${k}] must be a number (got ${describe(v)})`);
      out[4 * i + k] = v;
    }
  }
  return out;
}

function readGiou(opts: BoxIoUOptions | undefined): boolean {
  if (opts === undefined || opts === null) return false;
  if (typeof opts !== 'object') throw new InvalidArgumentError(`options must be an object (got ${describe(opts)})`);
  const g = opts.giou;
  if (g === undefined || g === null) return false;
  if (typeof g !== 'boolean') throw new InvalidArgumentError(`options.giou must be a boolean (got ${describe(g)})`);
  return g;
}

function native(backend: 'cpu' | 'cuda'): NativeAddon {
  return backend === 'cpu' ? addonFor('cpu') : addonFor('cuda');
}

interface Prepared {
  a: BoxArray;
  b: BoxArray;
  out: Float32Array;
  giou: boolean;
  backend: 'js' | 'cpu' | 'cuda';
}

/** Checks and packs the inputs; `matrix` sizes the output N·M instead of N (equal counts). */
function prepare(a: BoxIoUInput, b: BoxIoUInput, opts: BoxIoUOptions | undefined, matrix: boolean): Prepared {
  const giou = readGiou(opts);
  const pa = toBoxArray(a, 'a');
  const pb = toBoxArray(b, 'b');
  const na = pa.length / 4;
  const nb = pb.length / 4;
  if (!matrix && na !== nb) {
    throw new BoxError(`a and b must hold the same number of boxes (got ${na} and ${nb})`);
  }
  const backend = resolveBackend(opts?.backend);
  return { a: pa, b: pb, out: new Float32Array(matrix ? na * nb : na), giou, backend };
}

/** Elementwise IoU of N box pairs: Float32Array(N). */
export function boxIoU(a: BoxIoUInput, b: BoxIoUInput, opts?: BoxIoUOptions): Float32Array {
  const p = prepare(a, b, opts, false);
  if (p.out.length === 0) return p.out;
  if (p.backend === 'js') iouElementwiseInto(p.a, p.b, p.out, p.giou);
  else native(p.backend).boxIoUSync(p.a, p.b, p.out, p.giou);
  return p.out;
}

/** IoU of every box of a (N) with every box of b (M): Float32Array(N·M), `[i*M + j]`. */
export function boxIoUMatrix(a: BoxIoUInput, b: BoxIoUInput, opts?: BoxIoUOptions): Float32Array {
  const p = prepare(a, b, opts, true);
  if (p.out.length === 0) return p.out;
  if (p.backend === 'js') iouMatrixInto(p.a, p.b, p.out, p.giou);
  else native(p.backend).boxIoUMatrixSync(p.a, p.b, p.out, p.giou);
  return p.out;
}

/** `boxIoU` computed off the JS thread on native backends; bad input rejects. */
export async function boxIoUAsync(a: BoxIoUInput, b: BoxIoUInput, opts?: BoxIoUOptions): Promise<Float32Array> {
  const p = prepare(a, b, opts, false);
  if (p.out.length === 0) return p.out;
  if (p.backend === 'js') iouElementwiseInto(p.a, p.b, p.out, p.giou);
  else await native(p.backend).boxIoU(p.a, p.b, p.out, p.giou);
  return p.out;
}

/** `boxIoUMatrix` computed off the JS thread on native backends; bad input rejects. */
export async function boxIoUMatrixAsync(a: BoxIoUInput, b: BoxIoUInput, opts?: BoxIoUOptions): Promise<Float32Array> {
  const p = prepare(a, b, opts, true);
  if (p.out.length === 0) return p.out;
  if (p.backend === 'js') iouMatrixInto(p.a, p.b, p.out, p.giou);
  else await native(p.backend).boxIoUMatrix(p.a, p.b, p.out, p.giou);
  return p.out;
}
