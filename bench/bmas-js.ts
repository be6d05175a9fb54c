/**
 * Pure-TS BMAS against a plain triple-loop JS implementation, on a slice of the GRPO batch
 * (same shapes per pair, fewer prompts so it finishes in seconds). Both run on one thread.
 */
import { EmbeddingTable, bmasBatchSync } from '../lib/index.js';
import { GRPO_FULL, makeGrpoBatch, makeUnitTable, printTable } from './grpo.js';

/** The obvious implementation: for each pair, for each i, j, a dot product over d. */
function tripleLoop(table: Float32Array, d: number, pairs: { response: Int32Array; reference: Int32Array }[]): Float64Array {
  const out = new Float64Array(pairs.length);
  pairs.forEach(({ response: r, reference: g }, p) => {
    const colMax = new Float64Array(g.length).fill(-Infinity);
    let pSum = 0;
    for (let i = 0; i < r.length; i++) {
      let rowMax = -Infinity;
      for (let j = 0; j < g.length; j++) {
        let s = 0;
        const a = r[i] * d, b = g[j] * d;
        for (let k = 0; k < d; k++) s += table[a + k] * table[b + k];
        if (s > rowMax) rowMax = s;
        if (s > colMax[j]) colMax[j] = s;
      }
      pSum += rowMax;
    }
    let rSum = 0;
    for (let j = 0; j < g.length; j++) rSum += colMax[j];
    out[p] = (pSum / r.length + rSum / g.length) / 2;
  });
  return out;
}

export function runBmasJsBench(prompts = Number(process.env.BENCH_JS_PROMPTS ?? 2)): void {
  const shape = { ...GRPO_FULL, prompts };
  console.log(`\nBMAS pure TS vs plain JS triple loop: ${shape.prompts} prompts × ${shape.perPrompt} responses, m=${shape.m}, n=${shape.n}, d=${shape.d}, V=${shape.V}, Zipf(${shape.zipf}) ids, 1 thread`);
  const data = makeUnitTable(shape.V, shape.d, shape.seed);
  const table = EmbeddingTable.fromNormalized(data, shape.V, shape.d);
  const { pairs } = makeGrpoBatch(shape);

  bmasBatchSync(table, pairs.slice(0, 2), { backend: 'js' }); // warm-up (JIT)
  let t0 = performance.now();
  const fast = bmasBatchSync(table, pairs, { backend: 'js' });
  const tsMs = performance.now() - t0;
  t0 = performance.now();
  const plain = tripleLoop(data, shape.d, pairs);
  const plainMs = performance.now() - t0;
  let maxDiff = 0;
  for (let i = 0; i < pairs.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fast[i] - plain[i]));

  const perPair = (ms: number): string => (ms / pairs.length).toFixed(2);
  printTable(['implementation', 'batch ms', 'ms/pair', 'pairs/s', 'speed-up'], [
    ['plain JS triple loop', plainMs.toFixed(0), perPair(plainMs), (pairs.length / (plainMs / 1000)).toFixed(1), '1.00x'],
    ['mixed-reward js backend', tsMs.toFixed(0), perPair(tsMs), (pairs.length / (tsMs / 1000)).toFixed(1), `${(plainMs / tsMs).toFixed(2)}x`],
  ]);
  console.log(`max |difference| between the two: ${maxDiff.toExponential(2)}`);
}

if (require.main === module) runBmasJsBench();
