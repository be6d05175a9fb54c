/**
 * Embedding tables: the safetensors reader, fromPretrained on model directories written here
 * (a real byte-level BPE tokenizer.json, F32/F16/BF16 tensors, single and sharded, both Qwen
 * layouts), hostile files, and the default GloVe table.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelLoadError, InvalidArgumentError } from '../lib/errors.js';
import { readSafetensorsHeader, readTensorF32 } from '../lib/embeddings/safetensors.js';
import { loadPretrained } from '../lib/embeddings/pretrained.js';
import { loadDefaultTableSync, decodeWordTable } from '../lib/embeddings/defaultTable.js';
import { WordTokenizer, UNK_ID } from '../lib/embeddings/wordTokenizer.js';
import { EmbeddingTable } from '../lib/embeddings/table.js';
import { bmas } from '../lib/kernels/bmas.js';
import { packageRoot } from '../lib/backend/packageRoot.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mr-emb-test-'));
let dirCounter = 0;
function freshDir(): string {
  const d = path.join(tmpRoot, `m${dirCounter++}`);
  fs.mkdirSync(d);
  return d;
}

// ---------------------------------------------------------------- a small safetensors writer

type Dtype = 'F32' | 'F16' | 'BF16' | 'F64';

function f32Bits(v: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, v, true);
  return b.getUint32(0, true);
}

/** Exact encodings only: the test values are small multiples of 1/8, exact in every dtype. */
function encodeValues(values: number[], dtype: Dtype): Uint8Array {
  const size = { F32: 4, F16: 2, BF16: 2, F64: 8 }[dtype];
  const out = new Uint8Array(values.length * size);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (dtype === 'F32') dv.setFloat32(i * 4, v, true);
    else if (dtype === 'F64') dv.setFloat64(i * 8, v, true);
    else if (dtype === 'BF16') {
      const bits = f32Bits(v);
      if (bits & 0xffff) throw new Error(`${v} is not exact in bf16`);
      dv.setUint16(i * 2, bits >>> 16, true);
    } else {
      const bits = f32Bits(v);
      const sign = (bits >>> 31) << 15;
      if (v === 0) return dv.setUint16(i * 2, sign, true);
      const exp = ((bits >>> 23) & 0xff) - 127 + 15;
      if (exp <= 0 || exp >= 31 || bits & 0x1fff) throw new Error(`${v} is not exact in f16`);
      dv.setUint16(i * 2, sign | (exp << 10) | ((bits >>> 13) & 0x3ff), true);
    }
  });
  return out;
}

interface TensorSpec {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Writes a safetensors file; `patch` may rewrite the header object (hostile files). */
function writeSafetensors(file: string, tensors: TensorSpec[], patch?: (h: Record<string, any>) => void): void {
  const header: Record<string, any> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    off += t.bytes.length;
  }
  patch?.(header);
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(json), ...tensors.map((t) => Buffer.from(t.bytes))]));
}

/** Deterministic values, multiples of 1/8 in [-2, 2]; row `zeroRow` all zero. */
function matrix(rows: number, dim: number, seed: number, zeroRow = -1): number[] {
  const v: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < dim; k++) v.push(r === zeroRow ? 0 : (((r * 7 + k * 3 + seed * 5) % 33) - 16) / 8);
  }
  return v;
}

function normalized64(values: number[], rows: number, dim: number): number[] {
  const out = values.slice();
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += values[r * dim + k] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let k = 0; k < dim; k++) out[r * dim + k] = values[r * dim + k] * inv;
  }
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) assert.unreachable(`${what}[${i}] = ${actual[i]}, expected ${expected[i]}`);
  }
}

// ---------------------------------------------------------------- a real byte-level BPE tokenizer.json

/** GPT-2's byte-to-unicode table, which Qwen's byte-level BPE also uses. */
function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
}

/** Ids 0..255: the byte symbols (id = byte value); then each merge product in order; then
 * <|im_end|> (special) and <think> (not special). */
const TOK = (() => {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[b2u.get(b)!] = b;
  let id = 256;
  const merges: [string, string][] = [];
  for (const w of ['Ġcat', 'Ġmat', 'the', 'Ġthe']) {
    let cur = w[0];
    for (let k = 1; k < w.length; k++) {
      merges.push([cur, w[k]]);
      cur += w[k];
      if (!(cur in vocab)) vocab[cur] = id++;
    }
  }
  const imEnd = id;
  const think = id + 1;
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: imEnd, content: '<|im_end|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: think, content: '<think>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
  return { json, vocab, imEnd, think, maxId: think };
})();

function writeTokenizer(dir: string): void {
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(TOK.json));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 32768, eos_token: '<|im_end|>' }));
}

const ROWS = 300; // padded beyond the tokenizer's 269 ids, like real checkpoints
const DIM = 12;

/** A model directory with one safetensors file holding `tensors`. */
function singleFileModel(tensors: TensorSpec[], withTokenizer = true): string {
  const dir = freshDir();
  if (withTokenizer) writeTokenizer(dir);
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return dir;
}

function tensor(name: string, dtype: Dtype, rows: number, dim: number, values: number[]): TensorSpec {
  return { name, dtype, shape: [rows, dim], bytes: encodeValues(values, dtype) };
}

async function rejects(p: Promise<unknown> | (() => unknown), pattern: RegExp): Promise<ModelLoadError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    assert.ok(err instanceof ModelLoadError, `expected ModelLoadError, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    assert.is((err as ModelLoadError).code, 'ERR_MODEL_LOAD');
    assert.match((err as Error).message, pattern);
    return err as ModelLoadError;
  }
  assert.unreachable(`expected a ModelLoadError matching ${pattern}`);
  throw new Error('unreachable');
}

// ---------------------------------------------------------------- safetensors reader

for (const dtype of ['F32', 'F16', 'BF16', 'F64'] as const) {
  test(`safetensors: ${dtype} tensor read back exactly`, async () => {
    const dir = freshDir();
    const values = matrix(5, 7, 3);
    const file = path.join(dir, 'x.safetensors');
    writeSafetensors(file, [
      { name: 'bias', dtype: 'F32', shape: [3], bytes: encodeValues([1, 2, 3], 'F32') },
      tensor('w', dtype, 5, 7, values),
    ]);
    const h = await readSafetensorsHeader(file);
    assert.equal(h.metadata, { format: 'pt' });
    assert.equal(h.tensors.get('w')!.shape, [5, 7]);
    assert.equal(Array.from(await readTensorF32(h, 'w')), values);
    assert.equal(Array.from(await readTensorF32(h, 'w', { rows: 2 })), values.slice(0, 14));
    assert.equal(Array.from(await readTensorF32(h, 'bias')), [1, 2, 3]);
  });
}

test('safetensors: f16 subnormals, infinities and negative zero convert exactly', async () => {
  const dir = freshDir();
  const file = path.join(dir, 'h.safetensors');
  const raw = [0x0001, 0x03ff, 0x7c00, 0xfc00, 0x8000, 0x3c00, 0xc000, 0x7bff];
  const bytes = new Uint8Array(new Uint16Array(raw).buffer);
  writeSafetensors(file, [{ name: 'h', dtype: 'F16', shape: [8], bytes }]);
  const got = await readTensorF32(await readSafetensorsHeader(file), 'h');
  assert.equal(Array.from(got), [2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity, -0, 1, -2, 65504]);
  assert.ok(Object.is(got[4], -0));
});

test('safetensors: a tensor larger than one read chunk (4 MiB) streams correctly', async () => {
  const dir = freshDir();
  const file = path.join(dir, 'big.safetensors');
  const n = 3 * 1024 * 1024 + 17; // 6 MiB of bf16, 12 MiB of f32
  const bytes = new Uint8Array(n * 2);
  const u16 = new Uint16Array(bytes.buffer);
  for (let i = 0; i < n; i++) u16[i] = 0x3f80 + (i % 127); // 1 + (i % 127) / 128
  writeSafetensors(file, [{ name: 'w', dtype: 'BF16', shape: [n], bytes }]);
  const got = await readTensorF32(await readSafetensorsHeader(file), 'w');
  for (const i of [0, 1, 126, 127, 2 * 1024 * 1024 - 1, 2 * 1024 * 1024, n - 1]) assert.is(got[i], 1 + (i % 127) / 128);
});

// ---------------------------------------------------------------- fromPretrained

test('tokenizer: the hand-built tokenizer.json loads and gives the constructed ids', async () => {
  const dir = singleFileModel([tensor('model.embed_tokens.weight', 'F32', ROWS, DIM, matrix(ROWS, DIM, 1))]);
  const table = await loadPretrained(dir);
  const v = TOK.vocab;
  assert.equal(Array.from(table.tokenize('the cat<|im_end|> mat')), [v['the'], v['Ġcat'], TOK.imEnd, v['Ġmat']]);
  assert.equal(Array.from(table.tokenize('<think>the dog')), [TOK.think, v['the'], 32, 100, 111, 103]);
  assert.equal(Array.from(table.tokenize('')), []);
  // No special tokens are added, and junk never throws.
  assert.is(table.tokenize('\ud800x\u0000é😀').length, 3 + 1 + 1 + 2 + 4); // U+FFFD, x, NUL, é, 😀 as bytes
  assert.equal([...table.controlIds], [TOK.imEnd]);
});

test('fromPretrained: Qwen (old layout) F32 single file, values exact after normalisation', async () => {
  const values = matrix(ROWS, DIM, 1, 5);
  const dir = singleFileModel([
    tensor('lm_head.weight', 'F32', ROWS, DIM, matrix(ROWS, DIM, 9)),
    tensor('model.embed_tokens.weight', 'F32', ROWS, DIM, values),
    tensor('model.norm.weight', 'F32', 1, DIM, matrix(1, DIM, 2)),
  ]);
  const table = await EmbeddingTable.fromPretrained(dir);
  assert.is(table.vocabSize, ROWS);
  assert.is(table.dim, DIM);
  assert.is(table.name, dir);
  assertClose(table.normalized, normalized64(values, ROWS, DIM), 1e-6, 'normalized');
  assert.equal(Array.from(table.normalized.subarray(5 * DIM, 6 * DIM)), new Array(DIM).fill(0));
});

test('fromPretrained: Qwen2.5-VL new layout in BF16 beside a vision tower', async () => {
  const values = matrix(ROWS, DIM, 2);
  const dir = singleFileModel([
    tensor('model.visual.patch_embed.proj.weight', 'BF16', 8, DIM, matrix(8, DIM, 4)),
    tensor('model.language_model.embed_tokens.weight', 'BF16', ROWS, DIM, values),
    tensor('lm_head.weight', 'BF16', ROWS, DIM, matrix(ROWS, DIM, 3)),
  ]);
  const table = await loadPretrained(dir);
  assertClose(table.normalized, normalized64(values, ROWS, DIM), 1e-6, 'normalized');
});

test('fromPretrained: sharded F16 (index.json), embedding in the second shard', async () => {
  const dir = freshDir();
  writeTokenizer(dir);
  const values = matrix(ROWS, DIM, 4);
  writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), [tensor('model.layers.0.mlp.weight', 'F16', 4, DIM, matrix(4, DIM, 0))]);
  writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), [
    tensor('model.norm.weight', 'F16', 1, DIM, matrix(1, DIM, 1)),
    tensor('model.embed_tokens.weight', 'F16', ROWS, DIM, values),
  ]);
  fs.writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({
      metadata: { total_size: 0 },
      weight_map: {
        'model.layers.0.mlp.weight': 'model-00001-of-00002.safetensors',
        'model.norm.weight': 'model-00002-of-00002.safetensors',
        'model.embed_tokens.weight': 'model-00002-of-00002.safetensors',
      },
    }),
  );
  const table = await loadPretrained(dir);
  assert.is(table.vocabSize, ROWS);
  assertClose(table.normalized, normalized64(values, ROWS, DIM), 1e-6, 'normalized');
});

test('fromPretrained: InternLM2, GPT-2 and BERT tensor names are found', async () => {
  for (const name of ['language_model.model.tok_embeddings.weight', 'transformer.wte.weight', 'bert.embeddings.word_embeddings.weight']) {
    const values = matrix(ROWS, DIM, 6);
    const dir = singleFileModel([tensor(name, 'F32', ROWS, DIM, values)]);
    assertClose((await loadPretrained(dir)).normalized, normalized64(values, ROWS, DIM), 1e-6, name);
  }
});

test('fromPretrained: opts.tensor, opts.vocabSize and opts.tokenizer', async () => {
  const values = matrix(ROWS, DIM, 7);
  const dir = singleFileModel([
    tensor('model.embed_tokens.weight', 'F32', ROWS, DIM, matrix(ROWS, DIM, 8)),
    tensor('custom.embedding', 'F32', ROWS, DIM, values),
  ]);
  const t1 = await loadPretrained(dir, { tensor: 'custom.embedding' });
  assertClose(t1.normalized, normalized64(values, ROWS, DIM), 1e-6, 'custom');
  const t2 = await loadPretrained(dir, { tensor: 'custom.embedding', vocabSize: 'tokenizer' });
  assert.is(t2.vocabSize, TOK.maxId + 1);
  assertClose(t2.normalized, normalized64(values, ROWS, DIM).slice(0, (TOK.maxId + 1) * DIM), 1e-6, 'truncated');
  const t3 = await loadPretrained(dir, { tokenizer: false, name: 'ids-only' });
  assert.is(t3.tokenizer, undefined);
  assert.is(t3.name, 'ids-only');
  await rejects(loadPretrained(dir, { tensor: 'nope.weight' }), /no tensor named 'nope\.weight'.*candidates: model\.embed_tokens\.weight F32 \[300, 12\]/);
  try {
    await loadPretrained(dir, { vocabSize: 'all' as never });
    assert.unreachable('bad vocabSize accepted');
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError);
  }
});

test('fromPretrained: BMAS over the loaded table matches a float64 reference on the written tensor', async () => {
  const values = matrix(ROWS, DIM, 11, 3);
  const dir = singleFileModel([tensor('model.embed_tokens.weight', 'BF16', ROWS, DIM, values)]);
  const table = await loadPretrained(dir);
  const resp = [TOK.vocab['the'], TOK.vocab['Ġcat'], 3, 17, 100];
  const ref = [TOK.vocab['Ġmat'], 45, 3, 260, 299, 7];
  const unit = normalized64(values, ROWS, DIM);
  const dot = (a: number, b: number) => {
    let s = 0;
    for (let k = 0; k < DIM; k++) s += unit[a * DIM + k] * unit[b * DIM + k];
    return s;
  };
  const P = resp.reduce((acc, a) => acc + Math.max(...ref.map((b) => dot(a, b))), 0) / resp.length;
  const R = ref.reduce((acc, b) => acc + Math.max(...resp.map((a) => dot(a, b))), 0) / ref.length;
  const got = bmas(table, Int32Array.from(resp), Int32Array.from(ref), { backend: 'js' });
  assert.ok(Math.abs(got - (P + R) / 2) < 1e-5, `bmas ${got} vs float64 ${(P + R) / 2}`);
});

// ---------------------------------------------------------------- hostile and broken model directories

test('hostile: header length larger than the file', async () => {
  const dir = freshDir();
  const file = path.join(dir, 'model.safetensors');
  const buf = Buffer.alloc(64);
  buf.writeBigUInt64LE(1000n);
  fs.writeFileSync(file, buf);
  await rejects(loadPretrained(dir), /model\.safetensors: header length 1000 exceeds the file size 64/);
  buf.writeBigUInt64LE(0xffffffffffffffffn);
  fs.writeFileSync(file, buf);
  await rejects(readSafetensorsHeader(file), /header length 18446744073709551615 exceeds the file size/);
});

test('hostile: header length above 100 MB (sparse file, nothing allocated)', async () => {
  const dir = freshDir();
  const file = path.join(dir, 'model.safetensors');
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(150n * 1024n * 1024n);
  fs.writeFileSync(file, buf);
  fs.truncateSync(file, 200 * 1024 * 1024);
  const before = process.memoryUsage().arrayBuffers;
  await rejects(readSafetensorsHeader(file), /exceeds the 104857600-byte limit/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'no large buffer allocated');
});

test('hostile: header that is not JSON, or not an object', async () => {
  const dir = freshDir();
  const file = path.join(dir, 'model.safetensors');
  for (const [json, pattern] of [
    ['{"a": [1, 2', /not valid UTF-8 JSON/],
    ['[1, 2, 3]', /not a JSON object/],
    ['{"w": 5}', /header entry 'w' is not an object/],
    ['{"__metadata__": {"k": 1}}', /__metadata__ value 'k' is not a string/],
  ] as const) {
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(file, Buffer.concat([head, Buffer.from(json)]));
    await rejects(readSafetensorsHeader(file), pattern);
  }
  fs.writeFileSync(file, Buffer.from([1, 2, 3]));
  await rejects(readSafetensorsHeader(file), /too short/);
});

test('hostile: offsets outside the data section, claimed giant tensor', async () => {
  const values = matrix(ROWS, DIM, 1);
  const dir = freshDir();
  writeTokenizer(dir);
  const file = path.join(dir, 'model.safetensors');
  writeSafetensors(file, [tensor('model.embed_tokens.weight', 'F32', ROWS, DIM, values)], (h) => {
    h['model.embed_tokens.weight'].data_offsets = [0, ROWS * DIM * 4 + 4];
  });
  await rejects(loadPretrained(dir), /data_offsets \[0, 14404\] outside the data section of 14400 bytes/);
  const before = process.memoryUsage().arrayBuffers;
  writeSafetensors(file, [tensor('model.embed_tokens.weight', 'F32', ROWS, DIM, values)], (h) => {
    h['model.embed_tokens.weight'].shape = [1e9, 1e6];
    h['model.embed_tokens.weight'].data_offsets = [0, 4e15];
  });
  await rejects(loadPretrained(dir), /outside the data section/);
  writeSafetensors(file, [tensor('model.embed_tokens.weight', 'F32', ROWS, DIM, values)], (h) => {
    h['model.embed_tokens.weight'].shape = [1e9, 1e6];
  });
  await rejects(loadPretrained(dir), /needs more than 14400 bytes but data_offsets span 14400/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'no giant allocation');
  writeSafetensors(file, [tensor('model.embed_tokens.weight', 'F32', ROWS, DIM, values)], (h) => {
    h['model.embed_tokens.weight'].data_offsets = [100, 4];
  });
  await rejects(loadPretrained(dir), /begin > end/);
  writeSafetensors(file, [tensor('model.embed_tokens.weight', 'F32', ROWS, DIM, values)], (h) => {
    h['model.embed_tokens.weight'].shape = [ROWS, -DIM];
  });
  await rejects(loadPretrained(dir), /invalid shape/);
});

test('hostile: wrong dtype string, wrong shape, non-float or 3-D embedding', async () => {
  const values = matrix(ROWS, DIM, 1);
  const mk = (patch: (h: Record<string, any>) => void) => {
    const dir = freshDir();
    writeTokenizer(dir);
    writeSafetensors(path.join(dir, 'model.safetensors'), [tensor('model.embed_tokens.weight', 'F32', ROWS, DIM, values)], patch);
    return dir;
  };
  await rejects(loadPretrained(mk((h) => (h['model.embed_tokens.weight'].dtype = 'F33'))), /model\.safetensors: tensor 'model\.embed_tokens\.weight' has unknown dtype 'F33'/);
  await rejects(loadPretrained(mk((h) => (h['model.embed_tokens.weight'].shape = [ROWS, DIM + 1]))), /F32 \[300, 13\]\) needs more than 14400 bytes/);
  await rejects(loadPretrained(mk((h) => (h['model.embed_tokens.weight'].shape = [ROWS, DIM - 1]))), /needs 13200 bytes but data_offsets span 14400/);
  await rejects(loadPretrained(mk((h) => (h['model.embed_tokens.weight'].dtype = 'I32'))), /has dtype I32; only F32, F16, BF16, F64 can be loaded/);
  await rejects(loadPretrained(mk((h) => (h['model.embed_tokens.weight'].shape = [ROWS, 3, 4]))), /has shape \[300, 3, 4\], expected \[vocab, dim\]/);
});

test('hostile: truncated shard, missing shard, shard outside the directory', async () => {
  const dir = freshDir();
  writeTokenizer(dir);
  const shard = path.join(dir, 'model-00001-of-00002.safetensors');
  writeSafetensors(shard, [tensor('model.embed_tokens.weight', 'BF16', ROWS, DIM, matrix(ROWS, DIM, 1))]);
  fs.truncateSync(shard, fs.statSync(shard).size - 10);
  const index = (map: Record<string, string>) =>
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: map }));
  index({ 'model.embed_tokens.weight': 'model-00001-of-00002.safetensors', 'lm_head.weight': 'model-00002-of-00002.safetensors' });
  await rejects(loadPretrained(dir), /model-00001-of-00002\.safetensors: tensor 'model\.embed_tokens\.weight' has data_offsets \[0, 7200\] outside the data section of 7190 bytes \(file truncated\?\)/);
  index({ 'model.embed_tokens.weight': 'model-00003-of-00003.safetensors' });
  await rejects(loadPretrained(dir), /shard model-00003-of-00003\.safetensors \(holding tensor 'model\.embed_tokens\.weight'\) is missing/);
  index({ 'model.embed_tokens.weight': '../elsewhere.safetensors' });
  await rejects(loadPretrained(dir), /outside the model directory/);
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), '{"weight_map": ');
  await rejects(loadPretrained(dir), /cannot read model\.safetensors\.index\.json/);
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), '{"metadata": {}}');
  await rejects(loadPretrained(dir), /no "weight_map" object/);
});

test('hostile: no embedding tensor lists the candidates', async () => {
  const dir = singleFileModel([
    tensor('encoder.token_embedding.weight', 'F32', ROWS, DIM, matrix(ROWS, DIM, 1)),
    { name: 'pos_embed', dtype: 'F32', shape: [DIM], bytes: encodeValues(matrix(1, DIM, 1), 'F32') },
    tensor('layers.0.weight', 'F32', 2, DIM, matrix(2, DIM, 1)),
  ]);
  const err = await rejects(loadPretrained(dir), /no input-embedding tensor with a known name.*candidates: encoder\.token_embedding\.weight F32 \[300, 12\] \(pass opts\.tensor\)/);
  assert.not.match(err.message, /pos_embed/); // 1-D: not a candidate
  const none = singleFileModel([tensor('layers.0.weight', 'F32', 2, DIM, matrix(2, DIM, 1))]);
  await rejects(loadPretrained(none), /no 2-D tensor named like an embedding among 1 tensors/);
});

test('broken: missing directory, no weights, no or bad tokenizer, tokenizer larger than the matrix', async () => {
  await rejects(loadPretrained(path.join(tmpRoot, 'does-not-exist')), /cannot be read/);
  const empty = freshDir();
  fs.writeFileSync(path.join(empty, 'pytorch_model.bin'), 'x');
  await rejects(loadPretrained(empty), /no safetensors weights.*found pytorch_model\.bin/);
  const noTok = singleFileModel([tensor('model.embed_tokens.weight', 'F32', ROWS, DIM, matrix(ROWS, DIM, 1))], false);
  await rejects(loadPretrained(noTok), /cannot read tokenizer\.json/);
  fs.writeFileSync(path.join(noTok, 'tokenizer.json'), '{not json');
  await rejects(loadPretrained(noTok), /tokenizer\.json is not valid JSON/);
  fs.writeFileSync(path.join(noTok, 'tokenizer.json'), '{"model": {}}');
  await rejects(loadPretrained(noTok), /cannot build the tokenizer/);
  const small = singleFileModel([tensor('model.embed_tokens.weight', 'F32', 200, DIM, matrix(200, DIM, 1))]);
  await rejects(loadPretrained(small), /produces ids up to 268 but tensor 'model\.embed_tokens\.weight' has only 200 rows/);
  try {
    await loadPretrained('');
    assert.unreachable('empty dir accepted');
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError);
  }
});

// ---------------------------------------------------------------- default table

/** Plain float64 BMAS ('mean'), control ids removed as openEndedReward does. */
function bmas64(table: EmbeddingTable, a: string, b: string): number {
  const keep = (ids: Int32Array) => Array.from(ids).filter((id) => !table.controlIds.has(id));
  const r = keep(table.tokenize(a));
  const g = keep(table.tokenize(b));
  if (!r.length || !g.length) return 0;
  const d = table.dim;
  const e = table.normalized;
  const s = (i: number, j: number) => {
    let acc = 0;
    for (let k = 0; k < d; k++) acc += e[i * d + k] * e[j * d + k];
    return acc;
  };
  const P = r.reduce((acc, i) => acc + Math.max(...g.map((j) => s(i, j))), 0) / r.length;
  const R = g.reduce((acc, j) => acc + Math.max(...r.map((i) => s(i, j))), 0) / g.length;
  return (P + R) / 2;
}

test('default table: loads offline, 50,000 words + <unk>, rows normalised', async () => {
  const table = loadDefaultTableSync();
  assert.is(table.vocabSize, 50001);
  assert.is(table.dim, 100);
  assert.equal(Array.from(table.normalized.subarray(0, 100)), new Array(100).fill(0));
  for (const r of [1, 2, 777, 50000]) {
    let s = 0;
    for (let k = 0; k < 100; k++) s += table.normalized[r * 100 + k] ** 2;
    assert.ok(Math.abs(s - 1) < 1e-5, `row ${r} norm² ${s}`);
  }
  assert.equal([...table.controlIds], [UNK_ID]);
  const tok = table.tokenizer as WordTokenizer;
  assert.is(tok.idOf('the'), 1); // the most frequent word
  assert.is(tok.idOf(','), 2);
  assert.ok(loadDefaultTableSync().vocabSize === 50001);
  const shared = await EmbeddingTable.default();
  assert.is(await EmbeddingTable.default(), shared, 'memoised');
});

test('default table: word tokenizer splits like the GloVe corpus', async () => {
  const tok = (await EmbeddingTable.default()).tokenizer as WordTokenizer;
  assert.equal(tok.tokens("Don't stop: it's a WELL-KNOWN café, isn't it?!"), [
    'do', 'not', 'stop', ':', 'it', "'s", 'a', 'well-known', 'café', ',', 'is', 'not', 'it', '?', '!',
  ]);
  assert.equal(tok.tokens('Can’t won’t we’ll they’ve I’m he’d'), ['ca', 'not', 'wo', 'not', 'we', 'will', 'they', 'have', 'i', 'am', 'he', 'would']);
  assert.equal(tok.tokens('3.5 km... 1,000 -- x'), ['3.5', 'km', '.', '1,000', '-', 'x']);
  const ids = tok.encode('a naïve café state-funded 😀');
  assert.equal(Array.from(ids), [UNK_ID, tok.idOf('naive'), tok.idOf('cafe'), tok.idOf('state'), tok.idOf('funded'), UNK_ID]);
  assert.ok(tok.idOf('naive') > 0 && tok.idOf('cafe') > 0 && tok.idOf('funded') > 0);
});

test('default table: the tokenizer never throws and stays linear on junk', async () => {
  const table = await EmbeddingTable.default();
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
      const ids = table.tokenize(s);
      return ids.every((id) => id >= 0 && id < table.vocabSize);
    }),
    { numRuns: 300 },
  );
  for (const junk of ['\ud800', '\udc00a', "'''", "n't", "x'", '-.-,', '\u0000\uffff']) table.tokenize(junk);
  const big = 'the cat-sat.on,1,2 ’s ü😀!!'.repeat(200_000); // ~5.4 MB
  const t0 = performance.now();
  const ids = table.tokenize(big);
  const ms = performance.now() - t0;
  assert.ok(ids.length > 1_000_000);
  assert.ok(ms < 10_000, `5 MB took ${ms} ms`);
  const letters = 'a'.repeat(5_000_000);
  assert.equal(Array.from(table.tokenize(letters)), [UNK_ID]);
});

test('default table: paraphrases score clearly above unrelated sentences', async () => {
  const table = await EmbeddingTable.default();
  const triples: [string, string, string][] = [
    ['a cat sits on the mat', 'a kitten rests on the rug', 'stock prices fell sharply'],
    ['the dog is running in the park', 'a puppy runs through the garden', 'the government passed a new tax law'],
    ['a man is riding a bicycle down the street', 'a person cycles along the road', 'the recipe needs two cups of flour'],
    ['two children are playing soccer on the field', 'kids play football on the grass', 'the bank raised interest rates'],
    ['the stock market crashed today', 'shares plunged on wall street', 'a bird is singing in the tree'],
    ['a woman is cooking dinner in the kitchen', 'a lady prepares a meal at home', 'the rocket launched into orbit'],
    ['heavy rain flooded the city streets', 'a storm caused flooding in the town', 'she plays the violin beautifully'],
    ['the doctor examined the patient', 'a physician checked the sick man', 'the team won the championship game'],
    ['a plane is taking off from the airport', 'an airplane departs from the runway', 'he painted the fence white'],
    ['the students are studying for their exams', 'pupils prepare for the tests at school', 'the ship sank in the ocean'],
    ['a chart showing sales growth over five years', 'a graph of revenue increasing across several years', 'a kitten sleeping on a sofa'],
    ['the president gave a speech to congress', 'the leader addressed lawmakers in a speech', 'fresh vegetables are sold at the market'],
  ];
  let total = 0;
  for (const [a, para, other] of triples) {
    const strip = (t: string) => table.tokenize(t).filter((id) => !table.controlIds.has(id));
    const sp = bmas(table, strip(a), strip(para), { backend: 'js' });
    const so = bmas(table, strip(a), strip(other), { backend: 'js' });
    assert.ok(Math.abs(sp - bmas64(table, a, para)) < 1e-4, 'bmas agrees with float64');
    assert.ok(sp > so + 0.03, `"${a}": paraphrase ${sp.toFixed(3)} vs unrelated ${so.toFixed(3)}`);
    total += sp - so;
  }
  assert.ok(total / triples.length > 0.1, `mean margin ${total / triples.length}`);
  assert.ok(Math.abs(bmas64(table, 'a cat sits on the mat', 'a cat sits on the mat') - 1) < 1e-6);
});

test('default table: a corrupt file is a ModelLoadError', async () => {
  await rejects(() => decodeWordTable(new Uint8Array(10)), /file too short/);
  await rejects(() => decodeWordTable(new Uint8Array(64)), /not a mixed-reward word table/);
  const good = fs.readFileSync(path.join(packageRoot, 'data', 'glove-100d-50k.bin'));
  await rejects(() => decodeWordTable(good.subarray(0, good.length - 1)), /does not match 50001 rows of 100 values/);
});

test.after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

test.run();
