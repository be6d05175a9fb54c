/**
 * BMAS (SPEC §6): public entry points, input validation and packing, and dispatch to a backend.
 * Every backend receives the same packed `BmasJob`; validation happens here first (and again in
 * native code), so a bad token id is a `TokenRangeError` on every backend.
 */
import { InvalidArgumentError, TokenRangeError, ValueRangeError } from '../errors.js';
import type { BmasJob } from '../backend/addonTypes.js';
import { addonFor, resolveBackend } from '../backend/select.js';
import { EmbeddingTable } from '../embeddings/table.js';
import type { BackendOptions, TokenIds } from '../types.js';
import { prepareBmasJs } from './bmasJs.js';

export interface BmasOptions extends BackendOptions {
  /** 'mean' (default): (P + R) / 2, the paper's BMAS; 'f1': 2PR / (P + R). */
  combine?: 'mean' | 'f1';
  /** Per-token weights indexed by token id (length vocabSize, finite, >= 0); default all 1. */
  weights?: Float32Array;
  /** 'exact' (default, within 1e-4 of float64) or 'fast' (CUDA BF16 tensor cores; exact elsewhere). */
  precision?: 'exact' | 'fast';
  /** Return precision and recall as well as the score. */
  detail?: boolean;
}

export interface BmasPair {
  response: TokenIds;
  reference: TokenIds;
}

export interface BmasDetail {
  score: number;
  precision: number;
  recall: number;
}

export interface BmasBatchDetail {
  score: Float32Array;
  precision: Float32Array;
  recall: Float32Array;
}

function checkTable(table: unknown): asserts table is EmbeddingTable {
  if (!(table instanceof EmbeddingTable)) {
    throw new InvalidArgumentError('table must be an EmbeddingTable (EmbeddingTable.fromArray / fromPretrained / default)');
  }
  table.assertAlive();
}

function checkWeights(weights: unknown, vocabSize: number): Float32Array | null {
  if (weights === undefined || weights === null) return null;
  if (!(weights instanceof Float32Array)) throw new InvalidArgumentError('options.weights must be a Float32Array indexed by token id');
  if (weights.length !== vocabSize) {
    throw new InvalidArgumentError(`options.weights has length ${weights.length}, expected vocabSize = ${vocabSize}`);
  }
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (!(w >= 0) || w === Infinity) throw new ValueRangeError(`options.weights[${i}] = ${w} must be finite and >= 0`);
  }
  return weights;
}

function checkCombine(combine: unknown): 0 | 1 {
  if (combine === undefined || combine === 'mean') return 0;
  if (combine === 'f1') return 1;
  throw new InvalidArgumentError(`options.combine must be 'mean' or 'f1' (got ${JSON.stringify(combine)})`);
}

function checkPrecision(precision: unknown): 0 | 1 {
  if (precision === undefined || precision === 'exact') return 0;
  if (precision === 'fast') return 1;
  throw new InvalidArgumentError(`options.precision must be 'exact' or 'fast' (got ${JSON.stringify(precision)})`);
}

/** Index of the first id outside [0, vocabSize), or -1. */
function firstOutOfRange(ids: Int32Array, vocabSize: number): number {
  for (let i = 0; i < ids.length; i++) if (ids[i] < 0 || ids[i] >= vocabSize) return i;
  return -1;
}

/** Copies `ids` into `dst` at `at`, checking each is an integer in [0, vocabSize). */
function copyIds(ids: unknown, what: string, vocabSize: number, dst: Int32Array, at: number): void {
  if (ids instanceof Int32Array) {
    const bad = firstOutOfRange(ids, vocabSize);
    if (bad >= 0) throw new TokenRangeError(`${what}[${bad}] = ${ids[bad]} is outside [0, ${vocabSize})`);
    dst.set(ids, at);
    return;
  }
  const arr = ids as ArrayLike<number>;
  const n = arr.length;
  for (let i = 0; i < n; i++) {
    const id = arr[i];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new TokenRangeError(`${what}[${i}] = ${String(id)} is not a token id in [0, ${vocabSize})`);
    }
    dst[at + i] = id;
  }
}

function idLength(ids: unknown, what: string): number {
  if (ids === null || typeof ids !== 'object' || typeof (ids as ArrayLike<number>).length !== 'number') {
    throw new InvalidArgumentError(`${what} must be an Int32Array or an array of token ids`);
  }
  return (ids as ArrayLike<number>).length;
}

/** Content key of a reference, so that pairs with equal references share one group. */
function refKey(ids: Int32Array, begin: number, end: number): string {
  return Buffer.from(ids.buffer, ids.byteOffset + begin * 4, (end - begin) * 4).toString('latin1');
}

/** Validates and packs pairs into the backend-neutral job. */
export function packBmasJob(table: EmbeddingTable, pairs: readonly BmasPair[], opts: BmasOptions): BmasJob {
  if (!Array.isArray(pairs)) throw new InvalidArgumentError('pairs must be an array of { response, reference }');
  const n = pairs.length;
  const respOffsets = new Int32Array(n + 1);
  let refTotal = 0;
  for (let i = 0; i < n; i++) {
    const p = pairs[i] as BmasPair | undefined;
    if (p === null || typeof p !== 'object') throw new InvalidArgumentError(`pairs[${i}] must be an object { response, reference }`);
    respOffsets[i + 1] = respOffsets[i] + idLength(p.response, `pairs[${i}].response`);
    refTotal += idLength(p.reference, `pairs[${i}].reference`);
    if (respOffsets[i + 1] > 0x7fffffff - 1 || refTotal > 0x7fffffff - 1) throw new ValueRangeError('batch too large (over 2^31 tokens)');
  }
  const V = table.vocabSize;
  const respIds = new Int32Array(respOffsets[n]);
  const scratch = new Int32Array(refTotal);
  const refStarts: number[] = [0];
  const pairRef = new Int32Array(n);
  const byKey = new Map<string, number>();
  // The responses of one prompt usually pass the very same reference object: reuse its group
  // without copying or hashing it again.
  const byObject = new Map<object, number>();
  let used = 0;
  for (let i = 0; i < n; i++) {
    copyIds(pairs[i].response, `pairs[${i}].response`, V, respIds, respOffsets[i]);
    const ref = pairs[i].reference;
    const known = byObject.get(ref as object);
    if (known !== undefined) {
      pairRef[i] = known;
      continue;
    }
    copyIds(ref, `pairs[${i}].reference`, V, scratch, used);
    const key = refKey(scratch, used, used + ref.length);
    const g = byKey.get(key);
    if (g !== undefined) {
      pairRef[i] = g;
    } else {
      pairRef[i] = refStarts.length - 1;
      byKey.set(key, pairRef[i]);
      used += ref.length;
      refStarts.push(used);
    }
    byObject.set(ref as object, pairRef[i]);
  }
  return {
    respIds,
    respOffsets,
    refIds: scratch.slice(0, used),
    refOffsets: Int32Array.from(refStarts),
    pairRef,
    weights: checkWeights(opts.weights, V),
    combine: checkCombine(opts.combine),
    precision: checkPrecision(opts.precision),
    out: new Float32Array(3 * n),
  };
}

function unpack(out: Float32Array, n: number): BmasBatchDetail {
  return { score: out.slice(0, n), precision: out.slice(n, 2 * n), recall: out.slice(2 * n, 3 * n) };
}

function checkOptions(opts: unknown): BmasOptions {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object') throw new InvalidArgumentError('options must be an object');
  return opts as BmasOptions;
}

/** Yield to the event loop between slices of the TS kernel so timers and I/O keep running. */
const JS_SLICE_MS = 8;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Validation and packing shared by the sync and async entry points. */
function startBatch(table: EmbeddingTable, pairs: readonly BmasPair[], options: BmasOptions | undefined) {
  const opts = checkOptions(options);
  checkTable(table);
  const backend = resolveBackend(opts.backend);
  const job = packBmasJob(table, pairs, opts);
  const n = job.pairRef.length;
  const result = (): Float32Array | BmasBatchDetail => (opts.detail ? unpack(job.out, n) : job.out.slice(0, n));
  return { backend, job, n, result };
}

export function bmasBatchSync(table: EmbeddingTable, pairs: readonly BmasPair[], opts: BmasOptions & { detail: true }): BmasBatchDetail;
export function bmasBatchSync(table: EmbeddingTable, pairs: readonly BmasPair[], opts?: BmasOptions): Float32Array;
/** BMAS of each pair, blocking the calling thread. */
export function bmasBatchSync(table: EmbeddingTable, pairs: readonly BmasPair[], options?: BmasOptions): Float32Array | BmasBatchDetail {
  const { backend, job, n, result } = startBatch(table, pairs, options);
  if (backend === 'js') {
    const run = prepareBmasJs(table.normalized, table.dim, table.vocabSize, job);
    run.runGroups(0, run.groupCount);
  } else if (n > 0) {
    addonFor(backend as 'cpu').bmasBatchSync(table.nativeTable(backend), job);
  }
  return result();
}

export function bmasBatch(table: EmbeddingTable, pairs: readonly BmasPair[], opts: BmasOptions & { detail: true }): Promise<BmasBatchDetail>;
export function bmasBatch(table: EmbeddingTable, pairs: readonly BmasPair[], opts?: BmasOptions): Promise<Float32Array>;
/** BMAS of each pair, computed off the JS thread (native backends) or in slices that keep the
 * event loop free (TS backend). Input errors reject the promise. */
export async function bmasBatch(table: EmbeddingTable, pairs: readonly BmasPair[], options?: BmasOptions): Promise<Float32Array | BmasBatchDetail> {
  const { backend, job, n, result } = startBatch(table, pairs, options);
  if (backend === 'js') {
    const run = prepareBmasJs(table.normalized, table.dim, table.vocabSize, job);
    let g = 0;
    while (g < run.groupCount) {
      const t0 = performance.now();
      while (g < run.groupCount && performance.now() - t0 < JS_SLICE_MS) run.runGroups(g, ++g);
      if (g < run.groupCount) await yieldToLoop();
    }
  } else if (n > 0) {
    await addonFor(backend as 'cpu').bmasBatch(table.nativeTable(backend), job);
  }
  return result();
}

export function bmas(table: EmbeddingTable, response: TokenIds, reference: TokenIds, opts: BmasOptions & { detail: true }): BmasDetail;
export function bmas(table: EmbeddingTable, response: TokenIds, reference: TokenIds, opts?: BmasOptions): number;
/** BMAS of one (response, reference) pair of token ids. */
export function bmas(table: EmbeddingTable, response: TokenIds, reference: TokenIds, options?: BmasOptions): number | BmasDetail {
  const opts = checkOptions(options);
  const r = bmasBatchSync(table, [{ response, reference }], { ...opts, detail: true });
  if (opts.detail) return { score: r.score[0], precision: r.precision[0], recall: r.recall[0] };
  return r.score[0];
}
