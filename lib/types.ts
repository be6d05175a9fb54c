/** Shared public types. */

/** `[x1, y1, x2, y2]` in continuous coordinates (no +1). */
export type Box = [number, number, number, number];

/** Where a kernel runs. `'auto'` picks CUDA, then native CPU, then TS, silently. */
export type BackendName = 'auto' | 'js' | 'cpu' | 'cuda';
/** A concrete backend. */
export type ConcreteBackend = Exclude<BackendName, 'auto'>;

export interface BackendOptions {
  backend?: BackendName;
}

/** Box data accepted by the IoU kernels: 4N numbers, or N boxes. */
export type BoxesInput = Float32Array | Float64Array | ArrayLike<number>[] | Box[];

/** Token ids accepted by BMAS. */
export type TokenIds = Int32Array | Uint32Array | ArrayLike<number>;

export type Task = 'matching' | 'chart' | 'iou' | 'open-ended';
export const TASKS: readonly Task[] = ['matching', 'chart', 'iou', 'open-ended'];
