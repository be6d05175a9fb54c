/**
 * End-to-end timing of the GRPO batch through the public API on the CUDA backend (bench/gpu.sh
 * runs it on the GPU machine): `bmasBatch(table, pairs, { backend: 'cuda' })` from JS, against
 * the kernel time the addon measured with CUDA events. Same sizes and id law as the C++ bench.
 */
import { EmbeddingTable, bmasBatch, bmasBatchSync, backends } from '../lib/index.js';
import { loadCudaAddon } from '../lib/backend/cudaAddon.js';
import { rng } from './grpo.js';

const V = 151936, D = 2048, PROMPTS = 64, PER = 8, M = 256, N = 128;

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function main(): Promise<void> {
  const cuda = backends().cuda;
  if (!cuda.available) {
    console.log(`cuda backend unavailable: ${cuda.reason}`);
    process.exitCode = 1;
    return;
  }
  const next = rng(2505);
  const data = new Float32Array(V * D);
  for (let i = 0; i < data.length; i++) data[i] = next() - 0.5;
  const table = EmbeddingTable.fromNormalized(data, V, D);
  for (let v = 0; v < V; v++) {
    let ss = 0;
    for (let k = 0; k < D; k++) ss += data[v * D + k] ** 2;
    const inv = 1 / Math.sqrt(ss);
    for (let k = 0; k < D; k++) data[v * D + k] *= inv;
  }
  // Zipf(1.1) ranks mapped to shuffled ids.
  const cdf = new Float64Array(V);
  let acc = 0;
  for (let k = 0; k < V; k++) cdf[k] = acc += Math.pow(k + 1, -1.1);
  for (let k = 0; k < V; k++) cdf[k] /= acc;
  const perm = Int32Array.from({ length: V }, (_, i) => i);
  for (let k = V - 1; k > 0; k--) {
    const j = Math.floor(next() * (k + 1));
    [perm[k], perm[j]] = [perm[j], perm[k]];
  }
  const draw = (): number => {
    const u = next();
    let lo = 0, hi = V - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return perm[lo];
  };
  const pairs: { response: Int32Array; reference: Int32Array }[] = [];
  for (let g = 0; g < PROMPTS; g++) {
    const reference = Int32Array.from({ length: N }, draw);
    for (let r = 0; r < PER; r++) pairs.push({ response: Int32Array.from({ length: M }, draw), reference });
  }
  const addon = loadCudaAddon().addon!;
  console.log(`device: ${String(cuda.kernel)}`);
  for (const precision of ['exact', 'fast'] as const) {
    const t0 = performance.now();
    bmasBatchSync(table, pairs, { backend: 'cuda', precision }); // first call uploads the table
    const first = performance.now() - t0;
    const wall: number[] = [], kernel: number[] = [], syncWall: number[] = [];
    for (let it = 0; it < 20; it++) {
      const a = performance.now();
      await bmasBatch(table, pairs, { backend: 'cuda', precision });
      wall.push(performance.now() - a);
      kernel.push(addon.lastKernelMs());
      const b = performance.now();
      bmasBatchSync(table, pairs, { backend: 'cuda', precision });
      syncWall.push(performance.now() - b);
    }
    console.log(
      `RESULT js e2e ${precision.padEnd(5)} bmasBatch median ${median(wall).toFixed(3)} ms, bmasBatchSync ${median(syncWall).toFixed(3)} ms, ` +
        `kernel ${median(kernel).toFixed(3)} ms, overhead ${(median(wall) - median(kernel)).toFixed(3)} ms (first call incl. upload ${first.toFixed(0)} ms)`,
    );
  }
  table.dispose();
}

void main();
