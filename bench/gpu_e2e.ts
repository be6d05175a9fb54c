/**
 * End-to-end timing of the GRPO batch through the public API on the CUDA backend (bench/gpu.sh
 * runs it on the GPU machine): `bmasBatch(table, pairs, { backend: 'cuda' })` from JS, against
 * the kernel time the addon measured with CUDA events. The GRPO batch of bench/grpo.ts: the sizes
 * and Zipf(1.1) id law of the C++ bench.
 */
import { EmbeddingTable, bmasBatch, bmasBatchSync, backends } from '../lib/index.js';
import { loadCudaAddon } from '../lib/backend/cudaAddon.js';
import { GRPO_FULL, makeGrpoBatch, makeUnitTable } from './grpo.js';

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
  const { V, d, seed } = GRPO_FULL;
  const table = EmbeddingTable.fromNormalized(makeUnitTable(V, d, seed), V, d);
  const { pairs } = makeGrpoBatch(GRPO_FULL);
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
