/**
 * The token-embedding table BMAS scores in. Rows are stored L2-normalised once, in f32, so every
 * backend computes cosine similarity as a plain dot product. Native copies (CPU wrapper, CUDA
 * device buffer) are created lazily per backend and released by `dispose()`.
 */
import { DisposedError, InvalidArgumentError, ValueRangeError } from '../errors.js';
import type { NativeTable } from '../backend/addonTypes.js';
import { addonFor } from '../backend/select.js';
import { normalizeRowsInPlace } from './normalize.js';

/** Turns text into token ids. `encode` adds no special tokens. */
export interface TextTokenizer {
  encode(text: string): Int32Array;
  /** Ids of control tokens (chat-template specials); they are left out of BMAS. */
  controlIds?: ReadonlySet<number>;
}

export interface TableOptions {
  tokenizer?: TextTokenizer;
  /** A label for logs and `/health` (model directory, "default", …). */
  name?: string;
}

const EMPTY_SET: ReadonlySet<number> = new Set();

function checkShape(vocabSize: unknown, dim: unknown): asserts vocabSize is number {
  if (typeof vocabSize !== 'number' || !Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > 0x7fffffff) {
    throw new ValueRangeError(`vocabSize must be a positive integer below 2^31 (got ${String(vocabSize)})`);
  }
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1 || dim > 1 << 20) {
    throw new ValueRangeError(`dim must be a positive integer up to 2^20 (got ${String(dim)})`);
  }
}

export class EmbeddingTable {
  readonly vocabSize: number;
  readonly dim: number;
  /** L2-normalised rows, row-major, `vocabSize * dim`; zero rows stay zero. Do not mutate. */
  readonly normalized: Float32Array;
  readonly tokenizer?: TextTokenizer;
  readonly name: string;
  private readonly native = new Map<'cpu' | 'cuda', NativeTable>();
  private disposed = false;

  private constructor(normalized: Float32Array, vocabSize: number, dim: number, opts: TableOptions) {
    this.normalized = normalized;
    this.vocabSize = vocabSize;
    this.dim = dim;
    this.tokenizer = opts.tokenizer;
    this.name = opts.name ?? 'array';
  }

  /** A table from raw row-major values (copied, then normalised); ids only, no tokenizer. */
  static fromArray(data: Float32Array | Float64Array | ArrayLike<number>, vocabSize: number, dim: number, opts: TableOptions = {}): EmbeddingTable {
    checkShape(vocabSize, dim);
    if (data === null || typeof data !== 'object' || typeof (data as ArrayLike<number>).length !== 'number') {
      throw new InvalidArgumentError('data must be a Float32Array (or array of numbers) of vocabSize * dim values');
    }
    if (data.length !== vocabSize * dim) {
      throw new InvalidArgumentError(`data has ${data.length} values, expected vocabSize * dim = ${vocabSize * dim}`);
    }
    const copy = Float32Array.from(data as ArrayLike<number>);
    normalizeRowsInPlace(copy, vocabSize, dim);
    return new EmbeddingTable(copy, vocabSize, dim, opts);
  }

  /** A table over rows that are already L2-normalised (by a loader); takes ownership, no copy. */
  static fromNormalized(normalized: Float32Array, vocabSize: number, dim: number, opts: TableOptions = {}): EmbeddingTable {
    checkShape(vocabSize, dim);
    if (!(normalized instanceof Float32Array) || normalized.length !== vocabSize * dim) {
      throw new InvalidArgumentError(`normalized must be a Float32Array of vocabSize * dim = ${vocabSize * dim} values`);
    }
    return new EmbeddingTable(normalized, vocabSize, dim, opts);
  }

  /** Loads the policy model's own tokenizer and input-embedding matrix from a Hugging Face
   * model directory, reading only that tensor. */
  static async fromPretrained(dir: string, opts?: import('./pretrained.js').PretrainedOptions): Promise<EmbeddingTable> {
    const { loadPretrained } = await import('./pretrained.js');
    return loadPretrained(dir, opts);
  }

  private static shipped: EmbeddingTable | undefined;

  /** The table shipped in the package (GloVe word vectors, see NOTICE), loaded once per process
   * and shared by every caller. */
  static async default(): Promise<EmbeddingTable> {
    return EmbeddingTable.defaultSync();
  }

  /** `default()` for synchronous callers: the shipped file is a few MB, so reading it inline is
   * cheap, and it happens once per process. */
  static defaultSync(): EmbeddingTable {
    if (!EmbeddingTable.shipped || EmbeddingTable.shipped.disposed) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { loadDefaultTableSync } = require('./defaultTable.js') as typeof import('./defaultTable.js');
      EmbeddingTable.shipped = loadDefaultTableSync();
    }
    return EmbeddingTable.shipped;
  }

  /** Ids of control tokens, left out of open-ended scoring. */
  get controlIds(): ReadonlySet<number> {
    return this.tokenizer?.controlIds ?? EMPTY_SET;
  }

  /** Token ids of `text` (no special tokens added). Throws when the table has no tokenizer. */
  tokenize(text: string): Int32Array {
    if (!this.tokenizer) {
      throw new InvalidArgumentError(`embedding table '${this.name}' has no tokenizer: pass token ids, or load it with fromPretrained()/default()`);
    }
    if (typeof text !== 'string') throw new InvalidArgumentError('text must be a string');
    return this.tokenizer.encode(text);
  }

  /** The native twin of this table for a backend, created on first use. */
  nativeTable(backend: 'cpu' | 'cuda'): NativeTable {
    this.assertAlive();
    let t = this.native.get(backend);
    if (!t) {
      t = addonFor(backend as 'cpu').createTable(this.normalized, this.vocabSize, this.dim);
      this.native.set(backend, t);
    }
    return t;
  }

  /** Frees native and device copies now (batches in flight finish first); later use throws
   * `DisposedError`. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.native.values()) t.dispose();
    this.native.clear();
  }

  assertAlive(): void {
    if (this.disposed) throw new DisposedError(`embedding table '${this.name}' was disposed`);
  }
}
