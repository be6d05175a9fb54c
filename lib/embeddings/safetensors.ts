/**
 * A strict reader for the safetensors format (https://huggingface.co/docs/safetensors):
 * `u64 LE header length N` · `N bytes of JSON header` · `data section`. Each header entry gives a
 * tensor's dtype, shape and [begin, end) byte offsets relative to the data section.
 *
 * Only the header and the one tensor asked for are read, with positioned reads in chunks, and the
 * values are converted to f32 straight into the destination array: peak memory while loading is the
 * f32 result plus one chunk, never the file. Every size is checked against the file before
 * anything is allocated, so a hostile header cannot drive a giant allocation.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelLoadError } from '../errors.js';

/** Bytes per element of each dtype in the safetensors spec (the sub-byte F4/F6 types are left out). */
const ITEM_SIZE: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** The dtypes that can be converted to f32 for an embedding table. */
const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16', 'F64'];

/** The reference implementation's bound: a header above 100 MB is refused as hostile. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** 4 MiB per positioned read: large enough to stream at disk speed, small next to any real table. */
const CHUNK_BYTES = 4 * 1024 * 1024;

export interface TensorInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Number of elements (product of the shape; 1 for a scalar). */
  readonly numel: number;
  /** Absolute byte offsets in the file, [begin, end). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly file: string;
  readonly fileSize: number;
  /** Absolute offset of the data section (8 + header length). */
  readonly dataStart: number;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
}

function fail(file: string, what: string): never {
  throw new ModelLoadError(`${path.basename(file)}: ${what} (${file})`);
}

async function readExactly(fh: fs.promises.FileHandle, file: string, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.byteLength) {
    const { bytesRead } = await fh.read(buf, done, buf.byteLength - done, position + done);
    if (bytesRead === 0) fail(file, `unexpected end of file at byte ${position + done} (file truncated or changed while reading)`);
    done += bytesRead;
  }
}

async function openForReading(file: string): Promise<fs.promises.FileHandle> {
  try {
    return await fs.promises.open(file, 'r');
  } catch (err) {
    fail(file, `cannot open: ${(err as Error).message}`);
  }
}

function isSafeNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and validates one header entry; `dataSize` is the byte length of the data section. */
function parseEntry(file: string, name: string, raw: unknown, dataStart: number, dataSize: number): TensorInfo {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(file, `header entry '${name}' is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string') fail(file, `tensor '${name}' has no dtype string`);
  const itemSize = ITEM_SIZE[dtype];
  if (itemSize === undefined) fail(file, `tensor '${name}' has unknown dtype '${dtype.slice(0, 32)}'`);
  if (!Array.isArray(shape) || shape.length > 16 || !shape.every(isSafeNonNegInt)) {
    fail(file, `tensor '${name}' has an invalid shape (expected up to 16 non-negative integers)`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isSafeNonNegInt(offsets[0]) || !isSafeNonNegInt(offsets[1])) {
    fail(file, `tensor '${name}' has invalid data_offsets (expected [begin, end])`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(file, `tensor '${name}' has data_offsets [${begin}, ${end}] with begin > end`);
  if (end > dataSize) {
    fail(file, `tensor '${name}' has data_offsets [${begin}, ${end}] outside the data section of ${dataSize} bytes (file truncated?)`);
  }
  // The byte span is bounded by the file, so numel is checked against it without overflow:
  // stop multiplying as soon as the product exceeds what the span could hold.
  const maxNumel = (end - begin) / itemSize;
  let numel = 1;
  for (const d of shape as number[]) {
    numel *= d;
    if (numel > maxNumel) break;
  }
  if (numel * itemSize !== end - begin) {
    fail(file, `tensor '${name}' (${dtype} [${(shape as number[]).join(', ')}]) needs ${numel > maxNumel ? 'more than ' + (end - begin) : numel * itemSize} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype, shape: (shape as number[]).slice(), numel, begin: dataStart + begin, end: dataStart + end };
}

/** Reads and validates the header of a safetensors file (a few reads, no tensor data). */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const fh = await openForReading(file);
  try {
    const fileSize = (await fh.stat()).size;
    if (fileSize < 8) fail(file, `file of ${fileSize} bytes is too short for a safetensors header`);
    const lenBuf = new Uint8Array(8);
    await readExactly(fh, file, lenBuf, 0);
    const headerLen = new DataView(lenBuf.buffer).getBigUint64(0, true);
    if (headerLen > BigInt(fileSize - 8)) fail(file, `header length ${headerLen} exceeds the file size ${fileSize}`);
    if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(file, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    const n = Number(headerLen);
    if (n < 2) fail(file, `header length ${n} is too short for a JSON object`);
    const headerBuf = new Uint8Array(n);
    await readExactly(fh, file, headerBuf, 8);
    if (headerBuf[0] !== 0x7b /* '{' */) fail(file, 'header is not a JSON object');
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBuf));
    } catch (err) {
      fail(file, `header is not valid UTF-8 JSON: ${(err as Error).message}`);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(file, 'header is not a JSON object');
    const dataStart = 8 + n;
    const dataSize = fileSize - dataStart;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
      if (key === '__metadata__') {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(file, '__metadata__ is not an object');
        metadata = {};
        for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) {
          if (typeof mv !== 'string') fail(file, `__metadata__ value '${mk}' is not a string`);
          metadata[mk] = mv;
        }
        continue;
      }
      tensors.set(key, parseEntry(file, key, value, dataStart, dataSize));
    }
    return { file, fileSize, dataStart, tensors, metadata };
  } finally {
    await fh.close();
  }
}

let f16Table: Float32Array | undefined;

/** All 65536 half-precision values as f32 (exact: every f16 is representable in f32). */
function halfToFloatTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1024 + frac) * 2 ** (exp - 25);
  }
  f16Table = t;
  return t;
}

const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

// One small function per dtype: each a tight monomorphic loop (~2 ns per element here).
function bf16ToF32(src: Uint8Array, count: number, dst: Float32Array, at: number): void {
  // bf16 is the top half of an f32: widening is a 16-bit shift of the bit pattern, exact.
  // An Int32Array view takes `x << 16` (a signed int32) without conversion.
  const s = new Uint16Array(src.buffer, src.byteOffset, count);
  const d = new Int32Array(dst.buffer, dst.byteOffset + at * 4, count);
  for (let i = 0; i < count; i++) d[i] = s[i] << 16;
}

function f16ToF32(src: Uint8Array, count: number, dst: Float32Array, at: number): void {
  const s = new Uint16Array(src.buffer, src.byteOffset, count);
  const d = dst.subarray(at, at + count);
  const table = halfToFloatTable();
  for (let i = 0; i < count; i++) d[i] = table[s[i]];
}

function f64ToF32(src: Uint8Array, count: number, dst: Float32Array, at: number): void {
  const s = new Float64Array(src.buffer, src.byteOffset, count);
  dst.set(s, at);
}

/** Big-endian hosts: decode through a DataView (slow, but correct). */
function anyToF32BigEndianHost(dtype: string, src: Uint8Array, count: number, dst: Float32Array, at: number): void {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const widen = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < count; i++) {
    if (dtype === 'F32') dst[at + i] = dv.getFloat32(i * 4, true);
    else if (dtype === 'F64') dst[at + i] = dv.getFloat64(i * 8, true);
    else if (dtype === 'F16') dst[at + i] = halfToFloatTable()[dv.getUint16(i * 2, true)];
    else {
      widen.setUint32(0, dv.getUint16(i * 2, true) << 16);
      dst[at + i] = widen.getFloat32(0);
    }
  }
}

/** Converts `count` little-endian elements of `dtype` in `src` into `dst[at..]`. */
function convertChunk(dtype: string, src: Uint8Array, count: number, dst: Float32Array, at: number): void {
  if (!LITTLE_ENDIAN_HOST) anyToF32BigEndianHost(dtype, src, count, dst, at);
  else if (dtype === 'BF16') bf16ToF32(src, count, dst, at);
  else if (dtype === 'F16') f16ToF32(src, count, dst, at);
  else if (dtype === 'F64') f64ToF32(src, count, dst, at);
  else throw new Error(`internal: no converter for ${dtype}`);
}

export interface ReadTensorOptions {
  /** Read only the first `rows` rows (along dimension 0) of the tensor. */
  rows?: number;
}

/**
 * Reads one floating-point tensor as f32, row-major. With `rows`, reads only that many leading
 * rows. Throws ModelLoadError for a non-float dtype, an allocation that fails, or a short file.
 */
export async function readTensorF32(header: SafetensorsHeader, name: string, opts: ReadTensorOptions = {}): Promise<Float32Array> {
  const { file } = header;
  const info = header.tensors.get(name);
  if (!info) fail(file, `no tensor named '${name}'`);
  if (!FLOAT_DTYPES.includes(info.dtype)) {
    fail(file, `tensor '${name}' has dtype ${info.dtype}; only ${FLOAT_DTYPES.join(', ')} can be loaded as embeddings`);
  }
  const itemSize = ITEM_SIZE[info.dtype];
  let numel = info.numel;
  if (opts.rows !== undefined) {
    const rows0 = info.shape[0] ?? 1;
    if (!Number.isSafeInteger(opts.rows) || opts.rows < 0 || opts.rows > rows0) {
      fail(file, `cannot read ${opts.rows} rows of tensor '${name}' with ${rows0} rows`);
    }
    numel = rows0 === 0 ? 0 : (numel / rows0) * opts.rows;
  }
  let out: Float32Array;
  try {
    out = new Float32Array(numel);
  } catch (err) {
    fail(file, `cannot allocate ${numel} f32 values for tensor '${name}': ${(err as Error).message}`);
  }
  if (numel === 0) return out;
  const fh = await openForReading(file);
  try {
    // The file may have changed since its header was read.
    const size = (await fh.stat()).size;
    if (size < info.begin + numel * itemSize) fail(file, `file is ${size} bytes, shorter than tensor '${name}' needs (truncated?)`);
    if (info.dtype === 'F32' && LITTLE_ENDIAN_HOST) {
      // Same layout as the destination: read straight into it, no staging buffer.
      const bytes = new Uint8Array(out.buffer, out.byteOffset, numel * 4);
      for (let off = 0; off < bytes.byteLength; off += CHUNK_BYTES) {
        await readExactly(fh, file, bytes.subarray(off, Math.min(off + CHUNK_BYTES, bytes.byteLength)), info.begin + off);
      }
      return out;
    }
    const perChunk = Math.floor(CHUNK_BYTES / itemSize);
    const staging = new Uint8Array(Math.min(perChunk, numel) * itemSize);
    for (let at = 0; at < numel; at += perChunk) {
      const count = Math.min(perChunk, numel - at);
      const view = staging.subarray(0, count * itemSize);
      await readExactly(fh, file, view, info.begin + at * itemSize);
      convertChunk(info.dtype, view, count, out, at);
    }
    return out;
  } finally {
    await fh.close();
  }
}
