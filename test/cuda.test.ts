/**
 * The CUDA backend. Everywhere: loading never crashes or hangs, and without a GPU the backend is
 * unavailable with a reason and explicit requests throw ERR_BACKEND_UNAVAILABLE. Where a GPU is
 * present (the device machine, bench/gpu.sh): parity of BMAS against a float64 reference written
 * plainly below and against the other backends, and of box IoU against the TS kernel.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  EmbeddingTable, bmas, bmasBatch, bmasBatchSync, backends, boxIoU, boxIoUMatrix, boxIoUAsync, boxIoUMatrixAsync,
  BackendUnavailableError, TokenRangeError, DisposedError,
} from '../lib/index.js';
import { cudaAddonPath, loadCudaAddon } from '../lib/backend/cudaAddon.js';

const status = backends().cuda;
const gpu = status.available;

/** mulberry32: small, seeded, good enough for test data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Combine = 'mean' | 'f1';

/** BMAS straight from SPEC §6 in float64: normalise rows, full S, row and column maxima. */
function reference(raw: Float32Array, dim: number, r: ArrayLike<number>, g: ArrayLike<number>, w: Float32Array | undefined, combine: Combine) {
  if (r.length === 0 || g.length === 0) return { score: 0, precision: 0, recall: 0 };
  const unit = (t: number): Float64Array => {
    const row = new Float64Array(dim);
    let ss = 0;
    for (let k = 0; k < dim; k++) {
      row[k] = raw[t * dim + k];
      ss += row[k] * row[k];
    }
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let k = 0; k < dim; k++) row[k] *= inv;
    return row;
  };
  const R = Array.from(r, unit);
  const G = Array.from(g, unit);
  const S = R.map((a) => G.map((b) => a.reduce((s, x, k) => s + x * b[k], 0)));
  const wt = (t: number): number => (w ? w[t] : 1);
  let pn = 0, pd = 0, rn = 0, rd = 0;
  for (let i = 0; i < r.length; i++) {
    pn += wt(r[i]) * Math.max(...S[i]);
    pd += wt(r[i]);
  }
  for (let j = 0; j < g.length; j++) {
    rn += wt(g[j]) * Math.max(...S.map((row) => row[j]));
    rd += wt(g[j]);
  }
  const precision = pd > 0 ? pn / pd : 0;
  const recall = rd > 0 ? rn / rd : 0;
  const score = combine === 'f1' ? (precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0) : (precision + recall) / 2;
  return { score, precision, recall };
}

function randomTable(next: () => number, vocab: number, dim: number): Float32Array {
  const data = new Float32Array(vocab * dim);
  for (let i = 0; i < data.length; i++) data[i] = next() * 2 - 1;
  for (let v = 0; v < vocab; v += 11) data.fill(0, v * dim, (v + 1) * dim); // zero rows: similarity 0
  if (vocab > 8) data.copyWithin(7 * dim, 3 * dim, 4 * dim); // duplicate rows: ties
  return data;
}

function randomIds(next: () => number, vocab: number, len: number): Int32Array {
  const ids = new Int32Array(len);
  for (let i = 0; i < len; i++) ids[i] = next() < 0.3 ? Math.floor(next() * 6) : Math.floor(next() * vocab); // repeats
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Everywhere

test('backends() reports cuda without crashing, with a reason when unavailable', () => {
  assert.type(status.available, 'boolean');
  if (!status.available) {
    assert.type(status.reason, 'string');
    assert.ok((status.reason as string).length > 0);
  } else {
    assert.type(status.kernel, 'string');
  }
  // Cached: a second call gives the same answer without probing again.
  assert.is(loadCudaAddon(), loadCudaAddon());
});

test('MIXED_REWARD_DISABLE_CUDA=1 disables the backend (fresh process)', () => {
  const index = path.resolve(__dirname, '..', 'lib', 'index.js');
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(index)}).backends().cuda))`], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, MIXED_REWARD_DISABLE_CUDA: '1' },
  });
  assert.is(r.status, 0, r.stderr);
  const cuda = JSON.parse(r.stdout) as { available: boolean; reason: string };
  assert.is(cuda.available, false);
  assert.match(cuda.reason, /MIXED_REWARD_DISABLE_CUDA/);
});

test('the built addon loads directly in a child process and probe() answers', () => {
  if (!fs.existsSync(cudaAddonPath)) {
    assert.match(status.reason ?? '', /not built/);
    return;
  }
  const r = spawnSync(process.execPath, ['-e', `const a=require(${JSON.stringify(cudaAddonPath)});process.stdout.write(JSON.stringify({keys:Object.keys(a),probe:a.probe(),probe2:a.probe()}))`], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.is(r.signal, null, 'the child must not be killed');
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { keys: string[]; probe: { ok: boolean; reason?: string; device?: string }; probe2: { ok: boolean } };
  for (const k of ['init', 'info', 'probe', 'createTable', 'bmasBatchSync', 'bmasBatch', 'boxIoUSync', 'boxIoU', 'boxIoUMatrixSync', 'boxIoUMatrix', 'lastKernelMs']) {
    assert.ok(out.keys.includes(k), `addon exports ${k}`);
  }
  assert.is(out.probe.ok, gpu);
  assert.is(out.probe2.ok, gpu);
  if (!gpu) assert.match(out.probe.reason ?? '', /no CUDA driver|no device|driver|unsupported/);
  else assert.type(out.probe.device, 'string');
});

if (!gpu) {
  test('without a GPU, backend: cuda throws ERR_BACKEND_UNAVAILABLE', async () => {
    const table = EmbeddingTable.fromArray(new Float32Array([1, 0, 0, 1]), 2, 2);
    const calls: (() => unknown)[] = [
      () => bmasBatchSync(table, [{ response: [0], reference: [1] }], { backend: 'cuda' }),
      () => bmas(table, [0], [1], { backend: 'cuda' }),
      () => boxIoU([[0, 0, 1, 1]], [[0, 0, 1, 1]], { backend: 'cuda' }),
      () => boxIoUMatrix([[0, 0, 1, 1]], [[0, 0, 1, 1]], { backend: 'cuda' }),
    ];
    for (const call of calls) {
      try {
        call();
        assert.unreachable('should throw');
      } catch (err) {
        assert.instance(err, BackendUnavailableError);
        assert.is((err as BackendUnavailableError).code, 'ERR_BACKEND_UNAVAILABLE');
        assert.is((err as BackendUnavailableError).reason, status.reason);
      }
    }
    try {
      await bmasBatch(table, [{ response: [0], reference: [1] }], { backend: 'cuda' });
      assert.unreachable('should reject');
    } catch (err) {
      assert.is((err as BackendUnavailableError).code, 'ERR_BACKEND_UNAVAILABLE');
    }
    // 'auto' falls back silently.
    assert.ok(Math.abs(bmas(table, [0], [0]) - 1) < 1e-6);
  });
}

// ---------------------------------------------------------------------------------------------
// With a GPU

if (gpu) {
  const others = (['cpu', 'js'] as const).filter((b) => backends()[b].available);

  test('cuda BMAS matches float64 within 1e-4 (exact) on random batches, and the other backends', () => {
    const next = rng(42);
    let worst = 0, worstFast = 0;
    for (const dim of [1, 3, 17, 64, 129, 300]) {
      const vocab = 40 + Math.floor(next() * 400);
      const raw = randomTable(next, vocab, dim);
      const table = EmbeddingTable.fromArray(raw, vocab, dim);
      const refs = Array.from({ length: 1 + Math.floor(next() * 4) }, () => randomIds(next, vocab, next() < 0.15 ? 0 : next() < 0.3 ? 140 + Math.floor(next() * 60) : 1 + Math.floor(next() * 30)));
      const pairs = Array.from({ length: next() < 0.2 ? 40 : 1 + Math.floor(next() * 12) }, () => ({
        response: randomIds(next, vocab, next() < 0.1 ? 0 : next() < 0.2 ? 150 : 1 + Math.floor(next() * 25)),
        reference: refs[Math.floor(next() * refs.length)],
      }));
      const weights = next() < 0.5 ? undefined : Float32Array.from({ length: vocab }, () => (next() < 0.2 ? 0 : next() * 3));
      const combine: Combine = next() < 0.5 ? 'mean' : 'f1';
      const got = bmasBatchSync(table, pairs, { backend: 'cuda', detail: true, combine, weights });
      const fast = bmasBatchSync(table, pairs, { backend: 'cuda', precision: 'fast', combine, weights });
      pairs.forEach((p, i) => {
        const want = reference(raw, dim, p.response, p.reference, weights, combine);
        const err = Math.max(Math.abs(got.score[i] - want.score), Math.abs(got.precision[i] - want.precision), Math.abs(got.recall[i] - want.recall));
        assert.ok(err <= 1e-4, `dim ${dim} pair ${i}: |cuda - float64| = ${err}`);
        worst = Math.max(worst, err);
        worstFast = Math.max(worstFast, Math.abs(fast[i] - want.score));
      });
      for (const b of others) {
        const o = bmasBatchSync(table, pairs, { backend: b, combine, weights });
        o.forEach((v, i) => assert.ok(Math.abs(v - got.score[i]) <= 1e-4, `cuda vs ${b}, pair ${i}: ${got.score[i]} vs ${v}`));
      }
      table.dispose();
    }
    assert.ok(worstFast <= 2e-2, `fast mode error ${worstFast}`);
    console.log(`  cuda parity: max |exact - float64| = ${worst.toExponential(2)}, max |fast - float64| = ${worstFast.toExponential(2)}`);
  });

  test('cuda bmasBatch (async) equals bmasBatchSync; lastKernelMs is measured', async () => {
    const next = rng(7);
    const vocab = 500, dim = 96;
    const table = EmbeddingTable.fromArray(randomTable(next, vocab, dim), vocab, dim);
    const ref = randomIds(next, vocab, 50);
    const pairs = Array.from({ length: 16 }, () => ({ response: randomIds(next, vocab, 80), reference: ref }));
    const a = await bmasBatch(table, pairs, { backend: 'cuda' });
    const s = bmasBatchSync(table, pairs, { backend: 'cuda' });
    assert.equal(Array.from(a), Array.from(s));
    const addon = loadCudaAddon().addon!;
    assert.ok(addon.lastKernelMs() > 0);
    table.dispose();
  });

  test('cuda: empty inputs score 0; out-of-range ids throw TokenRangeError; disposed tables throw', async () => {
    const table = EmbeddingTable.fromArray(new Float32Array([1, 0, 0, 1, 1, 1]), 3, 2);
    assert.equal(Array.from(bmasBatchSync(table, [{ response: [], reference: [1] }, { response: [0], reference: [] }], { backend: 'cuda' })), [0, 0]);
    assert.is(bmasBatchSync(table, [], { backend: 'cuda' }).length, 0);
    for (const bad of [[3], [-1], [0.5]]) {
      assert.throws(() => bmasBatchSync(table, [{ response: bad, reference: [0] }], { backend: 'cuda' }), (e: unknown) => e instanceof TokenRangeError);
    }
    try {
      await bmasBatch(table, [{ response: [0], reference: [7] }], { backend: 'cuda' });
      assert.unreachable('should reject');
    } catch (e) {
      assert.instance(e, TokenRangeError);
    }
    // The addon re-validates a job that bypasses the TS layer.
    const addon = loadCudaAddon().addon!;
    const nt = addon.createTable(new Float32Array([1, 0, 0, 1]), 2, 2);
    const job = {
      respIds: new Int32Array([0, 5]), respOffsets: new Int32Array([0, 2]), refIds: new Int32Array([1]), refOffsets: new Int32Array([0, 1]),
      pairRef: new Int32Array([0]), weights: null, combine: 0 as const, precision: 0 as const, out: new Float32Array(3),
    };
    assert.throws(() => addon.bmasBatchSync(nt, job), (e: unknown) => e instanceof TokenRangeError);
    job.respIds[1] = 1;
    job.pairRef[0] = 3;
    assert.throws(() => addon.bmasBatchSync(nt, job), (e: unknown) => (e as { code?: string }).code === 'ERR_INVALID_ARG');
    nt.dispose();
    nt.dispose();
    job.pairRef[0] = 0;
    assert.throws(() => addon.bmasBatchSync(nt, job), (e: unknown) => (e as { code?: string }).code === 'ERR_NATIVE');
    table.dispose();
    assert.throws(() => bmasBatchSync(table, [{ response: [0], reference: [1] }], { backend: 'cuda' }), (e: unknown) => e instanceof DisposedError);
  });

  test('cuda box IoU matches the TS kernel (IoU and GIoU, invalid boxes, f32 and f64)', async () => {
    const next = rng(5);
    const make = (n: number): Float64Array => {
      const a = new Float64Array(4 * n);
      for (let i = 0; i < n; i++) {
        const x = next() * 100, y = next() * 100;
        a.set([x, y, x + next() * 50 - 3, y + next() * 50 - 3], 4 * i);
        if (next() < 0.05) a[4 * i] = NaN;
        if (next() < 0.05) a[4 * i + 2] = Infinity;
      }
      return a;
    };
    const a = make(300), b = make(200);
    for (const giou of [false, true]) {
      const want = boxIoUMatrix(a, b, { backend: 'js', giou });
      const got = boxIoUMatrix(a, b, { backend: 'cuda', giou });
      const gotAsync = await boxIoUMatrixAsync(Float32Array.from(a), Float32Array.from(b), { backend: 'cuda', giou });
      const wantF32 = boxIoUMatrix(Float32Array.from(a), Float32Array.from(b), { backend: 'js', giou });
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(got[i] - want[i]) <= 1e-6, `matrix ${i}: ${got[i]} vs ${want[i]}`);
        assert.ok(Math.abs(gotAsync[i] - wantF32[i]) <= 1e-6, `matrix f32 ${i}`);
        assert.ok(Number.isFinite(got[i]));
      }
      const ea = a.subarray(0, 800);
      const pw = boxIoU(ea, b, { backend: 'js', giou });
      const pg = await boxIoUAsync(ea, Float32Array.from(b), { backend: 'cuda', giou });
      const pgs = boxIoU(ea, b, { backend: 'cuda', giou });
      for (let i = 0; i < pw.length; i++) {
        assert.ok(Math.abs(pgs[i] - pw[i]) <= 1e-6, `pairs ${i}`);
        assert.ok(Math.abs(pg[i] - pw[i]) <= 1e-6, `pairs mixed types ${i}`);
      }
    }
  });
}

test.run();
