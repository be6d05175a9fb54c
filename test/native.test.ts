/**
 * The native CPU addon, tested directly (through `loadCpuAddon`) and through the public API:
 * parity with a float64 reference written below, typed errors for bad input, concurrency,
 * an event loop that stays free during async batches, and GC while a batch is in flight.
 * The C++ core has its own tests (native/test, run under sanitizers by scripts/sanitize.sh).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCpuAddon } from '../lib/backend/cpuAddon.js';
import type { BmasJob, NativeAddon, NativeTable } from '../lib/backend/addonTypes.js';
import { BoxError, InvalidArgumentError, NativeError, TokenRangeError, ValueRangeError } from '../lib/errors.js';
import { EmbeddingTable } from '../lib/embeddings/table.js';
import { bmasBatch as publicBmasBatch, bmasBatchSync as publicBmasBatchSync } from '../lib/kernels/bmas.js';

const loaded = loadCpuAddon();
if (!loaded.addon && process.env.MIXED_REWARD_DISABLE_NATIVE !== '1') {
  // The addon is part of the build (`npm run build:native`); its absence is a failure here.
  throw new Error(`native CPU addon not loaded: ${loaded.reason}`);
}
const addon = loaded.addon as NativeAddon;

// ---------- float64 reference (SPEC §6, over the raw m x n matrix) ----------

interface Case {
  vocab: number;
  dim: number;
  rows: Float32Array; // L2-normalised (zero rows stay zero)
  pairs: { response: number[]; ref: number }[];
  refs: number[][];
  weights: Float32Array | null;
  combine: 0 | 1;
}

function normalise(raw: number[], vocab: number, dim: number): Float32Array {
  const out = new Float32Array(vocab * dim);
  for (let v = 0; v < vocab; v++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += raw[v * dim + k] ** 2;
    const n = Math.sqrt(s);
    if (n > 0) for (let k = 0; k < dim; k++) out[v * dim + k] = raw[v * dim + k] / n;
  }
  return out;
}

function referenceBmas(c: Case): Float64Array {
  const N = c.pairs.length;
  const out = new Float64Array(3 * N);
  const w = (t: number): number => (c.weights ? c.weights[t] : 1);
  const dot = (a: number, b: number): number => {
    let s = 0;
    for (let k = 0; k < c.dim; k++) s += c.rows[a * c.dim + k] * c.rows[b * c.dim + k];
    return s;
  };
  c.pairs.forEach((p, i) => {
    const r = p.response, g = c.refs[p.ref];
    if (r.length === 0 || g.length === 0) return;
    const colmax = new Float64Array(g.length).fill(-Infinity);
    let pn = 0, pd = 0;
    for (const a of r) {
      let m = -Infinity;
      g.forEach((b, j) => {
        const s = dot(a, b);
        if (s > m) m = s;
        if (s > colmax[j]) colmax[j] = s;
      });
      pn += w(a) * m;
      pd += w(a);
    }
    let rn = 0, rd = 0;
    g.forEach((b, j) => { rn += w(b) * colmax[j]; rd += w(b); });
    const P = pd > 0 ? pn / pd : 0, R = rd > 0 ? rn / rd : 0;
    out[i] = c.combine === 1 ? (P + R > 0 ? (2 * P * R) / (P + R) : 0) : (P + R) / 2;
    out[N + i] = P;
    out[2 * N + i] = R;
  });
  return out;
}

function pack(c: Case): BmasJob {
  const respOffsets = new Int32Array(c.pairs.length + 1);
  c.pairs.forEach((p, i) => { respOffsets[i + 1] = respOffsets[i] + p.response.length; });
  const refOffsets = new Int32Array(c.refs.length + 1);
  c.refs.forEach((g, i) => { refOffsets[i + 1] = refOffsets[i] + g.length; });
  return {
    respIds: Int32Array.from(c.pairs.flatMap((p) => p.response)),
    respOffsets,
    refIds: Int32Array.from(c.refs.flat()),
    refOffsets,
    pairRef: Int32Array.from(c.pairs.map((p) => p.ref)),
    weights: c.weights,
    combine: c.combine,
    precision: 0,
    out: new Float32Array(3 * c.pairs.length),
  };
}

/** Tolerance for the score of pair i: 1e-4, scaled for F1 by its condition number (2PR/(P+R)
 * amplifies rounding when P and R have opposite signs and P + R is near 0). */
function scoreTolerance(want: Float64Array, N: number, i: number, combine: 0 | 1): number {
  const P = want[N + i], R = want[2 * N + i];
  return combine === 1 && P + R > 0 ? 1e-4 * Math.max(1, ((Math.abs(P) + Math.abs(R)) / (P + R)) ** 2) : 1e-4;
}

/** Planar [score | P | R] output against the float64 reference. */
function assertCloseToReference(out: Float32Array, want: Float64Array, c: Case): void {
  const N = c.pairs.length;
  for (let i = 0; i < N; i++) {
    assert.ok(Math.abs(out[i] - want[i]) <= scoreTolerance(want, N, i, c.combine), `score ${out[i]} vs ${want[i]}`);
    assert.ok(Math.abs(out[N + i] - want[N + i]) <= 1e-4, `P ${out[N + i]} vs ${want[N + i]}`);
    assert.ok(Math.abs(out[2 * N + i] - want[2 * N + i]) <= 1e-4, `R ${out[2 * N + i]} vs ${want[2 * N + i]}`);
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// Random cases: small vocabularies so ids repeat within and across pairs; zero rows; odd dims;
// empty, single-token and repeated sequences; shared references; optional weights.
const caseArb: fc.Arbitrary<Case> = fc
  .record({ vocab: fc.integer({ min: 1, max: 40 }), dim: fc.integer({ min: 1, max: 70 }), nrefs: fc.integer({ min: 1, max: 4 }) })
  .chain(({ vocab, dim, nrefs }) => {
    const id = fc.integer({ min: 0, max: vocab - 1 });
    const seq = fc.oneof(
      fc.array(id, { maxLength: 40 }),
      fc.array(id, { minLength: 1, maxLength: 1 }),
      fc.tuple(id, fc.integer({ min: 1, max: 30 })).map(([t, n]) => Array<number>(n).fill(t)),
    );
    return fc.record({
      vocab: fc.constant(vocab),
      dim: fc.constant(dim),
      rows: fc
        .tuple(
          fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: vocab * dim, maxLength: vocab * dim }),
          fc.array(fc.boolean(), { minLength: vocab, maxLength: vocab }),
        )
        .map(([raw, zero]) => {
          zero.forEach((z, v) => { if (z && v % 3 === 0) raw.fill(0, v * dim, (v + 1) * dim); });
          return normalise(raw, vocab, dim);
        }),
      pairs: fc.array(fc.record({ response: seq, ref: fc.integer({ min: 0, max: nrefs - 1 }) }), { maxLength: 12 }),
      refs: fc.array(seq, { minLength: nrefs, maxLength: nrefs }),
      weights: fc.option(
        fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 5, noNaN: true })), { minLength: vocab, maxLength: vocab })
          .map((w) => Float32Array.from(w)),
        { nil: null },
      ),
      combine: fc.constantFrom(0 as const, 1 as const),
    });
  });

test('info() names the kernel and the thread count', () => {
  const info = addon.info();
  assert.ok(['avx512', 'avx2', 'scalar', 'neon'].includes(info.kernel), info.kernel);
  assert.ok(typeof info.threads === 'number' && info.threads >= 1);
});

test('hand-computed BMAS through the addon', () => {
  // e0 = (1,0), e1 = (0,1), e2 = (1,1)/√2. response [0, 0], reference [1, 2]:
  // S rows = [0, 1/√2] twice -> P = 1/√2; columns max = [0, 1/√2] -> R = 1/(2√2).
  const s = Math.SQRT1_2;
  const rows = Float32Array.from([1, 0, 0, 1, s, s]);
  const t = addon.createTable(rows, 3, 2);
  const job = pack({ vocab: 3, dim: 2, rows, pairs: [{ response: [0, 0], ref: 0 }], refs: [[1, 2]], weights: null, combine: 0 });
  addon.bmasBatchSync(t, job);
  assert.ok(Math.abs(job.out[1] - s) < 1e-6, `P ${job.out[1]}`);
  assert.ok(Math.abs(job.out[2] - s / 2) < 1e-6, `R ${job.out[2]}`);
  assert.ok(Math.abs(job.out[0] - (s + s / 2) / 2) < 1e-6, `score ${job.out[0]}`);
  t.dispose();
});

test('addon matches the float64 reference on random batches (sync and async)', async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const t = addon.createTable(c.rows, c.vocab, c.dim);
      const want = referenceBmas(c);
      const job = pack(c);
      addon.bmasBatchSync(t, job);
      assertCloseToReference(job.out, want, c);
      const job2 = pack(c);
      await addon.bmasBatch(t, job2);
      assert.equal(Array.from(job2.out), Array.from(job.out));
      t.dispose();
    }),
    { numRuns: 150 },
  );
});

test('large groups (many chunks, subgroups, wide references) match the reference', () => {
  const vocab = 700, dim = 37;
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const raw = Array.from({ length: vocab * dim }, () => rnd() - 0.5);
  const rows = normalise(raw, vocab, dim);
  const refs = [Array.from({ length: 300 }, () => Math.floor(rnd() * vocab)), [5]];
  const pairs = Array.from({ length: 70 }, (_, i) => ({
    response: Array.from({ length: 1 + Math.floor(rnd() * 120) }, () => Math.floor(rnd() ** 2 * vocab)),
    ref: i % 7 === 0 ? 1 : 0,
  }));
  const c: Case = { vocab, dim, rows, pairs, refs, weights: null, combine: 1 };
  const t = addon.createTable(rows, vocab, dim);
  const job = pack(c);
  addon.bmasBatchSync(t, job);
  assert.ok(maxDiff(job.out, referenceBmas(c)) <= 1e-4);
});

test("public API: backend 'cpu' equals backend 'js' and the reference", async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const table = EmbeddingTable.fromNormalized(c.rows, c.vocab, c.dim);
      const pairs = c.pairs.map((p) => ({ response: Int32Array.from(p.response), reference: Int32Array.from(c.refs[p.ref]) }));
      const opts = { combine: c.combine === 1 ? ('f1' as const) : ('mean' as const), weights: c.weights ?? undefined, detail: true as const };
      const cpu = publicBmasBatchSync(table, pairs, { ...opts, backend: 'cpu' });
      const js = publicBmasBatchSync(table, pairs, { ...opts, backend: 'js' });
      const cpuAsync = await publicBmasBatch(table, pairs, { ...opts, backend: 'cpu' });
      const want = referenceBmas(c);
      const N = pairs.length;
      assert.ok(maxDiff(cpu.precision, want.subarray(N, 2 * N)) <= 1e-4);
      assert.ok(maxDiff(cpu.recall, want.subarray(2 * N)) <= 1e-4);
      for (let i = 0; i < N; i++) {
        const tol = scoreTolerance(want, N, i, c.combine);
        assert.ok(Math.abs(cpu.score[i] - want[i]) <= tol, `score ${cpu.score[i]} vs ${want[i]}`);
        assert.ok(Math.abs(cpu.score[i] - js.score[i]) <= tol, `cpu ${cpu.score[i]} vs js ${js.score[i]}`);
      }
      assert.equal(Array.from(cpuAsync.score), Array.from(cpu.score));
      table.dispose();
    }),
    { numRuns: 80 },
  );
});

// ---------- errors ----------

function tinyTable(): { t: NativeTable; c: Case } {
  const rows = normalise([1, 0, 0, 1, 1, 1, 2, 1], 4, 2);
  const c: Case = { vocab: 4, dim: 2, rows, pairs: [{ response: [0, 1], ref: 0 }, { response: [2, 3, 1], ref: 0 }], refs: [[3, 2]], weights: null, combine: 0 };
  return { t: addon.createTable(rows, 4, 2), c };
}

function throwsClass(fn: () => unknown, cls: new (...a: never[]) => Error, pattern?: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    if (pattern) assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected ${cls.name}`);
}

test('out-of-range token ids throw TokenRangeError naming pair and position, before any write', async () => {
  const { t, c } = tinyTable();
  for (const bad of [4, -1, 2 ** 31 - 1]) {
    const job = pack(c);
    job.respIds[3] = bad; // pair 1, position 1
    job.out.fill(7);
    throwsClass(() => addon.bmasBatchSync(t, job), TokenRangeError, new RegExp(`${bad} of pair 1 at position 1`));
    assert.ok(job.out.every((v) => v === 7));
    try {
      await addon.bmasBatch(t, job);
      assert.unreachable('async must reject');
    } catch (err) {
      assert.ok(err instanceof TokenRangeError);
      assert.is((err as TokenRangeError).code, 'ERR_TOKEN_RANGE');
    }
  }
  const job = pack(c);
  job.refIds[1] = 99;
  throwsClass(() => addon.bmasBatchSync(t, job), TokenRangeError, /reference 0 at position 1/);
});

test('wrong types and shapes throw InvalidArgumentError naming the argument', () => {
  const { t, c } = tinyTable();
  const bad: [string, unknown][] = [
    ['respIds', Float32Array.from([0, 1, 2, 3, 1])],
    ['respIds', [0, 1, 2, 3, 1]],
    ['respOffsets', new Uint32Array([0, 2, 5])],
    ['refIds', null],
    ['pairRef', new Int32Array(3)],
    ['out', new Float64Array(6)],
    ['out', new Float32Array(5)],
    ['weights', new Float32Array(3)],
    ['weights', new Float64Array(4)],
  ];
  for (const [field, value] of bad) {
    const job = { ...pack(c), [field]: value } as BmasJob;
    throwsClass(() => addon.bmasBatchSync(t, job), InvalidArgumentError, new RegExp(`job\\.${field}`));
  }
  throwsClass(() => addon.bmasBatchSync({ vocabSize: 4, dim: 2, dispose() {} } as NativeTable, pack(c)), InvalidArgumentError, /table/);
  throwsClass(() => addon.bmasBatchSync(t, 'job' as unknown as BmasJob), InvalidArgumentError, /job/);
  const offsets = pack(c);
  offsets.respOffsets[1] = 9;
  throwsClass(() => addon.bmasBatchSync(t, offsets), InvalidArgumentError, /respOffsets\[1\]/);
  const pr = pack(c);
  pr.pairRef[0] = 1;
  throwsClass(() => addon.bmasBatchSync(t, pr), InvalidArgumentError, /pairRef\[0\]/);
  const w = pack(c);
  w.weights = Float32Array.from([1, -1, 1, 1]);
  throwsClass(() => addon.bmasBatchSync(t, w), ValueRangeError, /weights\[1\]/);
  throwsClass(() => addon.createTable(new Float32Array(7), 4, 2), InvalidArgumentError, /expected vocabSize \* dim/);
  throwsClass(() => addon.createTable(new Float64Array(8) as unknown as Float32Array, 4, 2), InvalidArgumentError, /data must be a Float32Array/);
  throwsClass(() => addon.createTable(new Float32Array(8), 4.5, 2), ValueRangeError, /vocabSize/);
  t.dispose();
  t.dispose(); // idempotent
  throwsClass(() => addon.bmasBatchSync(t, pack(c)), NativeError, /disposed/);
});

// ---------- concurrency, event loop, GC ----------

function bigCase(pairsN: number, len: number, vocab: number, dim: number): Case {
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const rows = normalise(Array.from({ length: vocab * dim }, () => rnd() - 0.5), vocab, dim);
  const refs = Array.from({ length: Math.ceil(pairsN / 8) }, () => Array.from({ length: len / 2 }, () => Math.floor(rnd() * vocab)));
  const pairs = Array.from({ length: pairsN }, (_, i) => ({
    response: Array.from({ length: len }, () => Math.floor(rnd() * vocab)),
    ref: Math.floor(i / 8),
  }));
  return { vocab, dim, rows, pairs, refs, weights: null, combine: 0 };
}

test('100 concurrent async batches give the sequential results', async () => {
  const c = bigCase(24, 64, 3000, 96);
  const t = addon.createTable(c.rows, c.vocab, c.dim);
  const seq = pack(c);
  addon.bmasBatchSync(t, seq);
  const jobs = Array.from({ length: 100 }, () => pack(c));
  await Promise.all(jobs.map((j) => addon.bmasBatch(t, j)));
  for (const j of jobs) assert.equal(Array.from(j.out), Array.from(seq.out));
  // Box IoU too.
  const a = Float32Array.from({ length: 4000 }, (_, i) => (i % 4 < 2 ? i % 97 : (i % 97) + 5 + (i % 13)));
  const b = a.map((v, i) => v + (i % 3));
  const want = new Float32Array(1000);
  addon.boxIoUSync(a, b, want, false);
  const outs = Array.from({ length: 100 }, () => new Float32Array(1000));
  await Promise.all(outs.map((o) => addon.boxIoU(a, b, o, false)));
  for (const o of outs) assert.equal(Array.from(o), Array.from(want));
  t.dispose();
});

test('the event loop keeps running during a large async batch', async () => {
  const c = bigCase(256, 256, 4000, 1024);
  const t = addon.createTable(c.rows, c.vocab, c.dim);
  const job = pack(c);
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 5);
  const t0 = performance.now();
  await addon.bmasBatch(t, job);
  const ms = performance.now() - t0;
  clearInterval(timer);
  // The batch must be long enough for the check to mean something, and the timer must have
  // fired through it (a blocked loop would give 0 or 1 ticks).
  assert.ok(ms > 30, `batch too fast to test (${ms.toFixed(1)} ms)`);
  assert.ok(ticks >= Math.min(3, Math.floor(ms / 20)), `${ticks} ticks in ${ms.toFixed(0)} ms`);
  assert.ok(job.out[0] !== 0);
  t.dispose();
});

function runChild(script: string, env: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mr-native-'));
  const file = path.join(dir, 'child.js');
  fs.writeFileSync(file, script);
  const r = spawnSync(process.execPath, ['--expose-gc', file], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const childPrelude = `
const { loadCpuAddon } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'backend', 'cpuAddon.js'))});
const addon = loadCpuAddon().addon;
if (!addon) { console.log('no addon'); process.exit(2); }
let seed = 3;
const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
function makeJob(N, len, vocab) {
  const respIds = Int32Array.from({ length: N * len }, () => Math.floor(rnd() * vocab));
  const respOffsets = Int32Array.from({ length: N + 1 }, (_, i) => i * len);
  const G = Math.ceil(N / 8);
  const refIds = Int32Array.from({ length: G * (len / 2) }, () => Math.floor(rnd() * vocab));
  const refOffsets = Int32Array.from({ length: G + 1 }, (_, i) => i * (len / 2));
  const pairRef = Int32Array.from({ length: N }, (_, i) => Math.floor(i / 8));
  return { respIds, respOffsets, refIds, refOffsets, pairRef, weights: null, combine: 0, precision: 0, out: new Float32Array(3 * N) };
}
function makeRows(vocab, dim) {
  const rows = new Float32Array(vocab * dim);
  for (let v = 0; v < vocab; v++) {
    let s = 0;
    for (let k = 0; k < dim; k++) { const x = rnd() - 0.5; rows[v * dim + k] = x; s += x * x; }
    for (let k = 0; k < dim; k++) rows[v * dim + k] /= Math.sqrt(s);
  }
  return rows;
}
`;

test('GC and dispose() while batches are in flight do not crash or change results', () => {
  const r = runChild(`${childPrelude}
(async () => {
  const vocab = 20000, dim = 256;
  const expected = (() => {
    seed = 3;
    const rows = makeRows(vocab, dim);
    const t = addon.createTable(rows, vocab, dim);
    const job = makeJob(64, 256, vocab);
    addon.bmasBatchSync(t, job);
    t.dispose();
    return Array.from(job.out);
  })();
  for (let round = 0; round < 3; round++) {
    seed = 3;
    // Nothing below is kept by this scope once the calls are made: only the addon holds them.
    const p = (() => {
      const t = addon.createTable(makeRows(vocab, dim), vocab, dim);
      const job = makeJob(64, 256, vocab);
      const pr = addon.bmasBatch(t, job).then(() => Array.from(job.out));
      t.dispose();
      return pr;
    })();
    const boxes = (() => {
      const a = Float64Array.from({ length: 4e5 }, (_, i) => (i % 4 < 2 ? i % 50 : (i % 50) + 10));
      const out = new Float32Array(1e5);
      return addon.boxIoUMatrix(a.subarray(0, 400), a.subarray(0, 4000), out, true).then(() => out[0]);
    })();
    for (let i = 0; i < 20; i++) { global.gc(); new Float32Array(1e6); await new Promise((r) => setImmediate(r)); }
    const got = await p;
    await boxes;
    global.gc();
    if (JSON.stringify(got) !== JSON.stringify(expected)) { console.log('mismatch'); process.exit(3); }
  }
  console.log('ok');
})().catch((e) => { console.log(String(e)); process.exit(4); });
`);
  assert.is(r.status, 0, r.out);
  assert.match(r.out, /ok/);
});

test('MIXED_REWARD_ISA forces lower kernels with the same results', () => {
  const script = `${childPrelude}
const vocab = 500, dim = 77;
const rows = makeRows(vocab, dim);
const t = addon.createTable(rows, vocab, dim);
const job = makeJob(16, 40, vocab);
addon.bmasBatchSync(t, job);
console.log(JSON.stringify({ kernel: addon.info().kernel, out: Array.from(job.out) }));
`;
  const base = runChild(script);
  assert.is(base.status, 0, base.out);
  const ref = JSON.parse(base.out) as { kernel: string; out: number[] };
  for (const isa of ['scalar', 'avx2', 'avx512']) {
    const r = runChild(script, { MIXED_REWARD_ISA: isa });
    assert.is(r.status, 0, r.out);
    const got = JSON.parse(r.out) as { kernel: string; out: number[] };
    const order = ['scalar', 'neon', 'avx2', 'avx512'];
    // A level above the CPU's best is ignored, never obeyed.
    if (order.indexOf(isa) <= order.indexOf(ref.kernel)) assert.is(got.kernel, isa);
    assert.ok(maxDiff(got.out, ref.out) <= 1e-5, `${isa}: ${maxDiff(got.out, ref.out)}`);
  }
});

// ---------- box IoU ----------

function refIoU(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, giou: boolean): number {
  const [ax1, ay1, ax2, ay2] = [a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3]].map(Number);
  const [bx1, by1, bx2, by2] = [b[4 * j], b[4 * j + 1], b[4 * j + 2], b[4 * j + 3]].map(Number);
  const ok = (x1: number, y1: number, x2: number, y2: number): boolean =>
    [x1, y1, x2, y2].every(Number.isFinite) && x2 > x1 && y2 > y1;
  if (!ok(ax1, ay1, ax2, ay2) || !ok(bx1, by1, bx2, by2)) return 0;
  const iw = Math.max(0, Math.min(ax2, bx2) - Math.max(ax1, bx1));
  const ih = Math.max(0, Math.min(ay2, by2) - Math.max(ay1, by1));
  const inter = iw * ih;
  const union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  let r = inter / union;
  if (giou) {
    const encl = (Math.max(ax2, bx2) - Math.min(ax1, bx1)) * (Math.max(ay2, by2) - Math.min(ay1, by1));
    r -= (encl - union) / encl;
  }
  return r;
}

const coord = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: -20, max: 60 }).map((v) => v / 2) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
);
const boxesArb = (n: number) => fc.array(coord, { minLength: 4 * n, maxLength: 4 * n });

test('box IoU / GIoU (elementwise, matrix; f32, f64; sync, async) match the reference', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 30 }).chain((n) => fc.tuple(boxesArb(n), boxesArb(n), fc.integer({ min: 0, max: 9 }))),
      fc.boolean(),
      fc.boolean(),
      async ([av, bv, m], giou, f64) => {
        const Arr = f64 ? Float64Array : Float32Array;
        const a = Arr.from(av), b = Arr.from(bv);
        const n = a.length / 4;
        const out = new Float32Array(n);
        addon.boxIoUSync(a, b, out, giou);
        for (let i = 0; i < n; i++) {
          assert.ok(Math.abs(out[i] - refIoU(a, i, b, i, giou)) <= 1e-6, `pair ${i}: ${out[i]} vs ${refIoU(a, i, b, i, giou)}`);
        }
        const out2 = new Float32Array(n);
        await addon.boxIoU(a, b, out2, giou);
        assert.equal(Array.from(out2), Array.from(out));
        const bm = b.subarray(0, 4 * Math.min(m, n));
        const M = bm.length / 4;
        const mat = new Float32Array(n * M);
        addon.boxIoUMatrixSync(a, bm, mat, giou);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < M; j++) assert.ok(Math.abs(mat[i * M + j] - refIoU(a, i, bm, j, giou)) <= 1e-6);
        const mat2 = new Float32Array(n * M);
        await addon.boxIoUMatrix(a, bm, mat2, giou);
        assert.equal(Array.from(mat2), Array.from(mat));
      },
    ),
    { numRuns: 200 },
  );
});

test('box IoU on a large batch (threaded path) and hand values', () => {
  const n = 200_000;
  const a = new Float32Array(4 * n), b = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    a.set([i % 100, i % 37, (i % 100) + 10, (i % 37) + 4], 4 * i);
    b.set([(i % 100) + (i % 7), i % 37, (i % 100) + 12, (i % 37) + 5], 4 * i);
  }
  a[4 * 123] = NaN;
  const out = new Float32Array(n);
  addon.boxIoUSync(a, b, out, false);
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(out[i] - refIoU(a, i, b, i, false)));
  assert.ok(worst <= 1e-6, `worst ${worst}`);
  assert.is(out[123], 0);
  const o = new Float32Array(1);
  addon.boxIoUSync(Float32Array.from([0, 0, 2, 2]), Float32Array.from([1, 1, 3, 3]), o, false);
  assert.ok(Math.abs(o[0] - 1 / 7) < 1e-7);
  addon.boxIoUSync(Float32Array.from([0, 0, 1, 1]), Float32Array.from([2, 2, 3, 3]), o, true);
  assert.ok(Math.abs(o[0] - (0 - (9 - 2) / 9)) < 1e-7, `giou ${o[0]}`);
});

test('box argument errors', () => {
  const f = new Float32Array(8);
  throwsClass(() => addon.boxIoUSync(new Float32Array(6), new Float32Array(6), new Float32Array(1), false), BoxError, /multiple of 4/);
  throwsClass(() => addon.boxIoUSync(f, new Float32Array(4), new Float32Array(2), false), BoxError, /equal counts/);
  throwsClass(() => addon.boxIoUSync(new Int32Array(8) as unknown as Float32Array, f, new Float32Array(2), false), InvalidArgumentError, /a must be/);
  throwsClass(() => addon.boxIoUSync(f, f, new Float64Array(2) as unknown as Float32Array, false), InvalidArgumentError, /out must be/);
  throwsClass(() => addon.boxIoUSync(f, f, new Float32Array(3), false), InvalidArgumentError, /out has 3/);
  throwsClass(() => addon.boxIoUMatrixSync(f, new Float32Array(12), new Float32Array(5), false), InvalidArgumentError, /expected 6/);
  throwsClass(() => addon.boxIoUSync(f, f, new Float32Array(2), 'yes' as unknown as boolean), InvalidArgumentError, /giou/);
  // out sharing memory with an input: results as if the inputs had been read first.
  const buf = Float32Array.from([0, 0, 2, 2, 1, 1, 3, 3]);
  const out = buf.subarray(0, 1);
  addon.boxIoUSync(buf.subarray(0, 4), buf.subarray(4, 8), out, false);
  assert.ok(Math.abs(out[0] - 1 / 7) < 1e-7);
});

test.run();
