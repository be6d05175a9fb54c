/**
 * The GRPO reference workload of ANCHORS.md, generated deterministically: P prompts × R responses,
 * response length m, reference length n, token ids drawn from Zipf(s) over the vocabulary (real
 * token streams are far from uniform), and a table of V unit rows of dimension d.
 */

/** xorshift128+ in 32-bit halves: fast, seedable, good enough for benchmark data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0 || 1, b = 0x9e3779b9, c = 0x85ebca6b, d = 0xc2b2ae35;
  return () => {
    const t = a ^ (a << 11);
    a = b; b = c; c = d;
    d = (d ^ (d >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return d / 4294967296;
  };
}

/** Sampler of ranks 0..V-1 with P(k) ∝ 1/(k+1)^s, by binary search on the cumulative weights. */
export function zipfSampler(V: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(V);
  let acc = 0;
  for (let k = 0; k < V; k++) cdf[k] = acc += 1 / Math.pow(k + 1, s);
  return () => {
    const u = random() * acc;
    let lo = 0, hi = V - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1; else hi = mid;
    }
    return lo;
  };
}

export interface GrpoShape {
  prompts: number;
  perPrompt: number;
  m: number;
  n: number;
  V: number;
  d: number;
  zipf: number;
  seed: number;
}

export const GRPO_FULL: GrpoShape = { prompts: 64, perPrompt: 8, m: 256, n: 128, V: 151936, d: 2048, zipf: 1.1, seed: 42 };

export interface GrpoBatch {
  /** pair i = prompt floor(i / perPrompt); responses[i] has m ids */
  responses: Int32Array[];
  /** one reference per prompt */
  references: Int32Array[];
  pairs: { response: Int32Array; reference: Int32Array }[];
}

export function makeGrpoBatch(shape: GrpoShape): GrpoBatch {
  const random = rng(shape.seed);
  const draw = zipfSampler(shape.V, shape.zipf, random);
  // Ranks are scattered over the vocabulary so frequent tokens are not adjacent rows.
  const scatter = (rank: number): number => (rank * 2654435761) % shape.V;
  const seq = (len: number): Int32Array => Int32Array.from({ length: len }, () => scatter(draw()));
  const references = Array.from({ length: shape.prompts }, () => seq(shape.n));
  const responses: Int32Array[] = [];
  const pairs: GrpoBatch['pairs'] = [];
  for (let p = 0; p < shape.prompts; p++) {
    for (let r = 0; r < shape.perPrompt; r++) {
      const response = seq(shape.m);
      responses.push(response);
      pairs.push({ response, reference: references[p] });
    }
  }
  return { responses, references, pairs };
}

/** V × d unit rows (random directions), row-major f32: what a loaded table holds. */
export function makeUnitTable(V: number, d: number, seed: number): Float32Array {
  const random = rng(seed ^ 0x5bd1e995);
  const data = new Float32Array(V * d);
  for (let r = 0; r < V; r++) {
    let sq = 0;
    const base = r * d;
    for (let k = 0; k < d; k++) {
      const v = random() * 2 - 1;
      data[base + k] = v;
      sq += v * v;
    }
    const inv = 1 / Math.sqrt(sq);
    for (let k = 0; k < d; k++) data[base + k] *= inv;
  }
  return data;
}

/** Prints rows as an aligned text table. */
export function printTable(header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  for (const [i, r] of cells.entries()) {
    console.log(r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}
