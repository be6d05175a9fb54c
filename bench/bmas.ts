/**
 * The GRPO batch of ANCHORS.md at full size (512 pairs = 64 prompts x 8 responses, m = 256,
 * n = 128, d = 2048, V = 151936, Zipf(1.1) ids): native CPU addon vs numpy's best dense
 * variant vs numpy's distinct-id variant (both run by python3 on the same ids and rows), and
 * the pure-TS backend on a slice. Only the rows the batch uses are filled, but every id indexes
 * a V-row table (untouched rows stay unmapped zero pages).
 * Env: BENCH_REPS (default 5), BENCH_TS_PROMPTS (default 2), BENCH_NO_NUMPY=1.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCpuAddon } from '../lib/backend/cpuAddon.js';
import { EmbeddingTable } from '../lib/embeddings/table.js';
import { bmasBatch, bmasBatchSync, packBmasJob } from '../lib/kernels/bmas.js';
import { GRPO_FULL, makeGrpoBatch, printTable, rng } from './grpo.js';

const REPS = Number(process.env.BENCH_REPS ?? 5);
const TS_PROMPTS = Number(process.env.BENCH_TS_PROMPTS ?? 2);

function timeBest(reps: number, fn: () => void): { best: number; median: number } {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { best: t[0], median: t[Math.floor(t.length / 2)] };
}

async function timeBestAsync(reps: number, fn: () => Promise<unknown>): Promise<{ best: number; median: number }> {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { best: t[0], median: t[Math.floor(t.length / 2)] };
}

async function main(): Promise<void> {
  const shape = GRPO_FULL;
  const { V, d } = shape;
  const batch = makeGrpoBatch(shape);
  const used = new Set<number>();
  for (const p of batch.pairs) {
    for (const id of p.response) used.add(id);
    for (const id of p.reference) used.add(id);
  }
  const usedIds = Int32Array.from([...used].sort((a, b) => a - b));
  const data = new Float32Array(V * d);
  const random = rng(shape.seed ^ 0x5bd1e995);
  for (const id of usedIds) {
    const row = data.subarray(id * d, (id + 1) * d);
    let sq = 0;
    for (let k = 0; k < d; k++) { const v = random() * 2 - 1; row[k] = v; sq += v * v; }
    const inv = 1 / Math.sqrt(sq);
    for (let k = 0; k < d; k++) row[k] *= inv;
  }
  const table = EmbeddingTable.fromNormalized(data, V, d);
  const N = batch.pairs.length;
  console.log(`GRPO batch: ${N} pairs (${shape.prompts} prompts x ${shape.perPrompt}), m=${shape.m}, n=${shape.n}, ` +
    `d=${d}, V=${V}, Zipf(${shape.zipf}); ${usedIds.length} distinct ids used; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);

  const rows: (string | number)[][] = [];
  const cpu = loadCpuAddon();
  let nativeMs = NaN;
  let nativeScores: Float32Array | undefined;
  if (cpu.addon) {
    const addon = cpu.addon;
    const info = addon.info();
    const job = packBmasJob(table, batch.pairs, {});
    const nt = table.nativeTable('cpu');
    addon.bmasBatchSync(nt, job); // warm-up: page in the rows, start the pool
    const kernel = timeBest(REPS, () => addon.bmasBatchSync(nt, job));
    const api = timeBest(REPS, () => { nativeScores = bmasBatchSync(table, batch.pairs, { backend: 'cpu' }); });
    const apiAsync = await timeBestAsync(REPS, () => bmasBatch(table, batch.pairs, { backend: 'cpu' }));
    nativeMs = api.best;
    rows.push([`native ${info.kernel}, ${info.threads} threads: kernel (packed job)`, kernel.best.toFixed(1), kernel.median.toFixed(1)]);
    rows.push(['native: bmasBatchSync (public API, incl. packing)', api.best.toFixed(1), api.median.toFixed(1)]);
    rows.push(['native: bmasBatch (async)', apiAsync.best.toFixed(1), apiAsync.median.toFixed(1)]);
  } else {
    console.log(`native CPU addon unavailable: ${cpu.reason}`);
  }

  let numpy: { dense_ms: number; distinct_ms: number; max_diff_variants: number; scores: number[]; numpy: string } | undefined;
  if (process.env.BENCH_NO_NUMPY !== '1') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mr-bench-bmas-'));
    try {
      fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(shape));
      const resp = new Int32Array(N * shape.m);
      batch.pairs.forEach((p, i) => resp.set(p.response, i * shape.m));
      const ref = new Int32Array(shape.prompts * shape.n);
      batch.references.forEach((r, i) => ref.set(r, i * shape.n));
      fs.writeFileSync(path.join(dir, 'resp.i32'), resp);
      fs.writeFileSync(path.join(dir, 'ref.i32'), ref);
      fs.writeFileSync(path.join(dir, 'rows.i32'), usedIds);
      const fd = fs.openSync(path.join(dir, 'rows.f32'), 'w');
      for (const id of usedIds) fs.writeSync(fd, data.subarray(id * d, (id + 1) * d));
      fs.closeSync(fd);
      // ANCHORS.md: these two variables mis-tune OpenBLAS on this machine; unset for numpy only.
      const env = { ...process.env };
      delete env.OPENBLAS_CORETYPE;
      delete env.OPENBLAS_L2_SIZE;
      const r = spawnSync('python3', [path.join(__dirname, '..', '..', 'bench', 'numpy_bmas.py'), dir, String(Math.max(2, Math.min(REPS, 3)))],
        { encoding: 'utf8', env, maxBuffer: 64 << 20 });
      if (r.status === 0) {
        numpy = JSON.parse(r.stdout.trim().split('\n').pop() as string);
      } else {
        console.log(`numpy run failed: ${r.stderr || r.error}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  if (numpy) {
    rows.push([`numpy ${numpy.numpy}: dense, reference gathered once per prompt`, numpy.dense_ms.toFixed(1), '']);
    rows.push(['numpy: distinct ids per prompt group, count-weighted', numpy.distinct_ms.toFixed(1), '']);
  }

  // Pure TS on a slice (whole prompts), scaled to the full batch.
  const slice = batch.pairs.slice(0, TS_PROMPTS * shape.perPrompt);
  const ts = timeBest(1, () => bmasBatchSync(table, slice, { backend: 'js' }));
  const tsFull = (ts.best * N) / slice.length;
  rows.push([`pure TS (1 thread), ${slice.length} pairs scaled x${N / slice.length}`, tsFull.toFixed(0), '']);

  console.log('');
  printTable(['implementation', 'best ms', 'median ms'], rows);
  console.log('');
  if (numpy && Number.isFinite(nativeMs)) {
    console.log(`native vs numpy dense:        ${(numpy.dense_ms / nativeMs).toFixed(2)}x faster (target >= 2x)`);
    console.log(`native vs numpy distinct-ids: ${(numpy.distinct_ms / nativeMs).toFixed(2)}x faster (target >= 1x)`);
    console.log(`native vs pure TS:            ${(tsFull / nativeMs).toFixed(0)}x faster`);
    console.log(`distance to the ~64 ms distinct-id FP32 floor (ANCHORS.md): ${(nativeMs / 64).toFixed(2)}x`);
    if (nativeScores) {
      let diff = 0;
      numpy.scores.forEach((s, i) => { diff = Math.max(diff, Math.abs(s - (nativeScores as Float32Array)[i])); });
      console.log(`max |native - numpy| score difference: ${diff.toExponential(2)} (numpy dense vs distinct: ${numpy.max_diff_variants.toExponential(2)})`);
    }
  }
  table.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
