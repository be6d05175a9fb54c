/**
 * The contract between the TS layer and the native addons (CPU: `mixed_reward.node`, built by
 * node-gyp; CUDA: `mixed_reward_cuda.node`, built by cmake-js). Both export the same shape, so the
 * TS dispatch code is one path. The TS layer validates types and packs inputs; the addons
 * re-validate every length, offset and token id before touching memory, and throw the typed
 * error classes handed to them by `init()`.
 */
import type { errorClasses } from '../errors.js';

/** A table of L2-normalised f32 rows living on the addon's side. The CPU addon keeps a reference
 * to `data` (no copy); the CUDA addon copies it to the device once. */
export interface NativeTable {
  readonly vocabSize: number;
  readonly dim: number;
  /** Frees native/device memory now; later use throws. Idempotent. */
  dispose(): void;
}

/**
 * One BMAS batch, packed. Pairs are grouped by reference: pair i has response tokens
 * `respIds[respOffsets[i] .. respOffsets[i+1])` and reference number `pairRef[i]`, whose tokens are
 * `refIds[refOffsets[g] .. refOffsets[g+1])`. Pairs that share a reference (the responses of one
 * prompt) are computed together, on the distinct ids of the group.
 */
export interface BmasJob {
  respIds: Int32Array;
  /** length N + 1, non-decreasing, respOffsets[0] = 0, respOffsets[N] = respIds.length */
  respOffsets: Int32Array;
  refIds: Int32Array;
  /** length G + 1, same rules */
  refOffsets: Int32Array;
  /** length N, each in [0, G) */
  pairRef: Int32Array;
  /** per-vocabulary-id weights, length vocabSize, finite and >= 0; null = all ones */
  weights: Float32Array | null;
  /** 0 = mean (BMAS), 1 = f1 */
  combine: 0 | 1;
  /** 0 = exact (meets 1e-4 vs float64), 1 = fast (CUDA BF16 tensor cores; CPU treats as exact) */
  precision: 0 | 1;
  /** length 3N, planar: out[i] = score, out[N + i] = precision P, out[2N + i] = recall R */
  out: Float32Array;
}

export type BoxArray = Float32Array | Float64Array;

export interface AddonInfo {
  /** e.g. 'avx512', 'avx2', 'scalar', 'neon' for CPU; the device name for CUDA */
  kernel: string;
  threads?: number;
  [key: string]: unknown;
}

export interface NativeAddon {
  /** Called once after loading, before anything else. */
  init(classes: typeof errorClasses): void;
  info(): AddonInfo;
  createTable(data: Float32Array, vocabSize: number, dim: number): NativeTable;
  bmasBatchSync(table: NativeTable, job: BmasJob): void;
  /** Runs off the JS thread; resolves when `job.out` is filled. Keeps `job` and `table` alive. */
  bmasBatch(table: NativeTable, job: BmasJob): Promise<void>;
  /** `out` has N = a.length / 4 entries; `giou` selects generalised IoU. */
  boxIoUSync(a: BoxArray, b: BoxArray, out: Float32Array, giou: boolean): void;
  boxIoU(a: BoxArray, b: BoxArray, out: Float32Array, giou: boolean): Promise<void>;
  /** `out` has N·M entries, row-major. */
  boxIoUMatrixSync(a: BoxArray, b: BoxArray, out: Float32Array, giou: boolean): void;
  boxIoUMatrix(a: BoxArray, b: BoxArray, out: Float32Array, giou: boolean): Promise<void>;
}

/** The CUDA addon adds device probing; `probe()` never throws. */
export interface CudaAddon extends NativeAddon {
  probe(): { ok: boolean; reason?: string; device?: string; computeCapability?: string; memoryBytes?: number };
  /** Kernel time of the last BMAS batch in milliseconds (CUDA events), for benchmarks. */
  lastKernelMs(): number;
}
