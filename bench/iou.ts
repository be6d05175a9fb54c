/**
 * Box IoU, float32: 1e6 elementwise pairs and a 1000 x 1000 matrix, native CPU addon vs numpy
 * (python3, same run) vs the memory floor: the bytes the kernel must move (inputs read once,
 * output written once) at the copy bandwidth measured here, with 1 and with all threads.
 * Env: BENCH_REPS (default 20).
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadCpuAddon } from '../lib/backend/cpuAddon.js';
import { printTable, rng } from './grpo.js';

const REPS = Number(process.env.BENCH_REPS ?? 20);
const N = 1_000_000;
const M = 1000;

function best(reps: number, fn: () => void): number {
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
}

function boxes(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const x = r() * 1000, y = r() * 1000;
    out.set([x, y, x + 1 + r() * 200, y + 1 + r() * 200], 4 * i);
  }
  return out;
}

/** Copy bandwidth (read + write bytes per second) with `threads` threads copying disjoint parts
 * of a buffer at the same time. `bytes` is the amount moved (read + write), chosen equal to what
 * the kernel moves, so both see the same cache levels. */
async function copyBandwidth(threads: number, reps: number, moved: number): Promise<number> {
  const bytes = Math.ceil(moved / 2 / 64 / threads) * 64 * threads;
  const src = new SharedArrayBuffer(bytes), dst = new SharedArrayBuffer(bytes);
  new Uint8Array(src).fill(1);
  new Uint8Array(dst).fill(2);
  if (threads === 1) {
    const s = new Uint8Array(src), d = new Uint8Array(dst);
    return (2 * bytes) / (best(reps, () => d.set(s)) / 1e3);
  }
  const sync = new SharedArrayBuffer(8 * (threads + 1));
  const code = `
    const { workerData } = require('node:worker_threads');
    const { src, dst, sync, index, threads, reps } = workerData;
    const flags = new Int32Array(sync);
    const part = src.byteLength / threads;
    const s = new Uint8Array(src, index * part, part), d = new Uint8Array(dst, index * part, part);
    for (let r = 0; r < reps; r++) {
      Atomics.wait(flags, 0, r);            // wait for round r to start
      d.set(s);
      Atomics.add(flags, 1, 1);
      Atomics.notify(flags, 1);
    }`;
  const workers = Array.from({ length: threads }, (_, index) => new Worker(code, { eval: true, workerData: { src, dst, sync, index, threads, reps } }));
  const flags = new Int32Array(sync);
  await new Promise((r) => setTimeout(r, 200)); // let the workers start
  let b = Infinity;
  for (let r = 0; r < reps; r++) {
    Atomics.store(flags, 1, 0);
    const t0 = performance.now();
    Atomics.store(flags, 0, r + 1);
    Atomics.notify(flags, 0);
    while (Atomics.load(flags, 1) < threads) Atomics.wait(flags, 1, Atomics.load(flags, 1), 50);
    b = Math.min(b, performance.now() - t0);
  }
  await Promise.all(workers.map((w) => w.terminate()));
  return (2 * bytes) / (b / 1e3);
}

async function main(): Promise<void> {
  const cpu = loadCpuAddon();
  if (!cpu.addon) {
    console.log(`native CPU addon unavailable: ${cpu.reason}`);
    return;
  }
  const addon = cpu.addon;
  const threads = addon.info().threads ?? os.cpus().length;
  const a = boxes(N, 1), b = boxes(N, 2);
  const am = boxes(M, 3), bm = boxes(M, 4);
  const out = new Float32Array(N), outM = new Float32Array(M * M);
  addon.boxIoUSync(a, b, out, false);
  const elem = best(REPS, () => addon.boxIoUSync(a, b, out, false));
  const elemG = best(REPS, () => addon.boxIoUSync(a, b, out, true));
  const mat = best(REPS, () => addon.boxIoUMatrixSync(am, bm, outM, false));
  const elemBytes = 2 * 16 * N + 4 * N;
  const matBytes = 4 * M * M + 2 * 16 * M;
  const bw = new Map<string, number>();
  for (const bytes of [elemBytes, matBytes]) {
    bw.set(`1:${bytes}`, await copyBandwidth(1, REPS, bytes));
    bw.set(`${threads}:${bytes}`, await copyBandwidth(threads, REPS, bytes));
  }
  const bw1 = bw.get(`1:${elemBytes}`) as number, bwN = bw.get(`${threads}:${elemBytes}`) as number;
  const floor1 = (bytes: number): number => (bytes / (bw.get(`1:${bytes}`) as number)) * 1e3;
  const floorN = (bytes: number): number => (bytes / (bw.get(`${threads}:${bytes}`) as number)) * 1e3;

  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync('python3', [path.join(__dirname, '..', '..', 'bench', 'numpy_iou.py'), String(N), String(M), String(Math.min(REPS, 10))], { encoding: 'utf8', env });
  const np = r.status === 0 ? (JSON.parse(r.stdout.trim()) as { elementwise_ms: number; matrix_ms: number; copy_gbs: number; numpy: string }) : undefined;
  if (!np) console.log(`numpy run failed: ${r.stderr || r.error}`);

  console.log(`box IoU float32, native ${addon.info().kernel} with ${threads} threads; copy bandwidth at the 1e6-pair size ${(bw1 / 1e9).toFixed(1)} GB/s (1 thread), ` +
    `${(bwN / 1e9).toFixed(1)} GB/s (${threads} threads); load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  printTable(['case', 'native ms', 'native GIoU ms', 'numpy ms', 'floor 1T ms', `floor ${threads}T ms`, 'vs numpy', 'vs floor'], [
    ['1e6 elementwise pairs', elem.toFixed(3), elemG.toFixed(3), np ? np.elementwise_ms.toFixed(3) : '-', floor1(elemBytes).toFixed(3),
      floorN(elemBytes).toFixed(3), np ? `${(np.elementwise_ms / elem).toFixed(1)}x` : '-', `${(elem / floorN(elemBytes)).toFixed(2)}x`],
    [`${M} x ${M} matrix`, mat.toFixed(3), '', np ? np.matrix_ms.toFixed(3) : '-', floor1(matBytes).toFixed(3), floorN(matBytes).toFixed(3),
      np ? `${(np.matrix_ms / mat).toFixed(1)}x` : '-', `${(mat / floorN(matBytes)).toFixed(2)}x`],
  ]);
  console.log('targets: 1e6 pairs within 1.5x of the memory floor and >= 3x numpy');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
