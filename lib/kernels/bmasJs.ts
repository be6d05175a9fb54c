/**
 * Pure-TS BMAS kernel over a packed batch (the same `BmasJob` the native addons take).
 *
 * Exactness of the shortcuts: max_j S_ij depends only on the id r_i, and the column maximum only
 * on which ids the response contains, so computing on distinct ids and weighting each row/column
 * maximum by its multiplicity gives the same P and R as the full m×n matrix. The responses of one
 * prompt share a reference, so the row maxima of all their distinct ids come from one |U|×|D|
 * similarity block per group. Dot products run over contiguous gathered rows with a 4×2 register
 * tile (six loads feed eight multiply-adds), in float64 arithmetic.
 */
import type { BmasJob } from '../backend/addonTypes.js';

/** Rows of U processed per tile; keeps the S tile and gathered rows in cache. */
const U_BLOCK = 64;
/** Columns of D per tile. */
const D_BLOCK = 512;
/** Cap on per-pair column-maximum buffers held at once (pairs × |D| values). */
const COLMAX_BUDGET = 1 << 22;

/** Reusable id -> slot map over the vocabulary, cleared by stamping instead of filling. */
class IdSlots {
  private stamp = new Int32Array(0);
  private slot = new Int32Array(0);
  private epoch = 0;
  reset(vocabSize: number): void {
    if (this.stamp.length < vocabSize) {
      this.stamp = new Int32Array(vocabSize);
      this.slot = new Int32Array(vocabSize);
      this.epoch = 0;
    }
    this.epoch++;
    if (this.epoch === 0x7fffffff) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
  }
  get(id: number): number {
    return this.stamp[id] === this.epoch ? this.slot[id] : -1;
  }
  set(id: number, s: number): void {
    this.stamp[id] = this.epoch;
    this.slot[id] = s;
  }
}

const slotsU = new IdSlots();
const slotsD = new IdSlots();
const slotsPair = new IdSlots();

function gather(table: Float32Array, dim: number, ids: ArrayLike<number>, count: number): Float32Array {
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) out.set(table.subarray(ids[i] * dim, ids[i] * dim + dim), i * dim);
  return out;
}

/**
 * S[u][d] for u in [u0, u1) and d in [d0, d1) into `tile` (row stride d1 - d0).
 * Rows of `a` and `b` are contiguous `dim`-vectors.
 */
function dotTile(a: Float32Array, u0: number, u1: number, b: Float32Array, d0: number, d1: number, dim: number, tile: Float64Array): void {
  const w = d1 - d0;
  let u = u0;
  for (; u + 4 <= u1; u += 4) {
    const a0 = u * dim, a1 = a0 + dim, a2 = a1 + dim, a3 = a2 + dim;
    let d = d0;
    for (; d + 2 <= d1; d += 2) {
      const b0 = d * dim, b1 = b0 + dim;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
      for (let k = 0; k < dim; k++) {
        const x0 = b[b0 + k], x1 = b[b1 + k];
        const y0 = a[a0 + k], y1 = a[a1 + k], y2 = a[a2 + k], y3 = a[a3 + k];
        s00 += y0 * x0; s01 += y0 * x1;
        s10 += y1 * x0; s11 += y1 * x1;
        s20 += y2 * x0; s21 += y2 * x1;
        s30 += y3 * x0; s31 += y3 * x1;
      }
      const r = (u - u0) * w + (d - d0);
      tile[r] = s00; tile[r + 1] = s01;
      tile[r + w] = s10; tile[r + w + 1] = s11;
      tile[r + 2 * w] = s20; tile[r + 2 * w + 1] = s21;
      tile[r + 3 * w] = s30; tile[r + 3 * w + 1] = s31;
    }
    for (; d < d1; d++) {
      const b0 = d * dim;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < dim; k++) {
        const x = b[b0 + k];
        s0 += a[a0 + k] * x; s1 += a[a1 + k] * x; s2 += a[a2 + k] * x; s3 += a[a3 + k] * x;
      }
      const r = (u - u0) * w + (d - d0);
      tile[r] = s0; tile[r + w] = s1; tile[r + 2 * w] = s2; tile[r + 3 * w] = s3;
    }
  }
  for (; u < u1; u++) {
    const a0 = u * dim;
    for (let d = d0; d < d1; d++) {
      const b0 = d * dim;
      let s = 0;
      for (let k = 0; k < dim; k++) s += a[a0 + k] * b[b0 + k];
      tile[(u - u0) * w + (d - d0)] = s;
    }
  }
}

function combineScores(p: number, r: number, combine: 0 | 1): number {
  if (combine === 1) return p + r > 0 ? (2 * p * r) / (p + r) : 0;
  return (p + r) / 2;
}

/** A validated batch prepared for the TS kernel; `runGroups` scores a range of references so
 * that the async path can yield to the event loop between slices. */
export interface JsBatchRun {
  readonly groupCount: number;
  runGroups(g0: number, g1: number): void;
}

/** The distinct ids of one reference: gathered unit rows, and each id's count × weight. */
interface RefGroup {
  rows: Float32Array;
  size: number;
  weight: number[];
  weightSum: number;
}

export function prepareBmasJs(table: Float32Array, dim: number, vocabSize: number, job: BmasJob): JsBatchRun {
  const { refIds, refOffsets, pairRef, weights, out } = job;
  const nPairs = pairRef.length;
  const nRefs = refOffsets.length - 1;
  out.fill(0);

  // Pairs of each reference, in input order.
  const groupStart = new Int32Array(nRefs + 1);
  for (let i = 0; i < nPairs; i++) groupStart[pairRef[i] + 1]++;
  for (let g = 0; g < nRefs; g++) groupStart[g + 1] += groupStart[g];
  const groupPairs = new Int32Array(nPairs);
  const fill = groupStart.slice(0, nRefs);
  for (let i = 0; i < nPairs; i++) groupPairs[fill[pairRef[i]]++] = i;

  const runGroup = (g: number): void => {
    const refBegin = refOffsets[g], refEnd = refOffsets[g + 1];
    const pairsOfGroup = groupPairs.subarray(groupStart[g], groupStart[g + 1]);
    if (refEnd === refBegin || pairsOfGroup.length === 0) return; // empty reference: every score 0

    // Distinct reference ids with their total weight (count × w).
    slotsD.reset(vocabSize);
    const dIds: number[] = [];
    const dWeight: number[] = [];
    for (let j = refBegin; j < refEnd; j++) {
      const id = refIds[j];
      let s = slotsD.get(id);
      if (s < 0) {
        s = dIds.length;
        slotsD.set(id, s);
        dIds.push(id);
        dWeight.push(0);
      }
      dWeight[s] += weights ? weights[id] : 1;
    }
    const ref: RefGroup = {
      rows: gather(table, dim, dIds, dIds.length),
      size: dIds.length,
      weight: dWeight,
      weightSum: dWeight.reduce((a, w) => a + w, 0),
    };

    // Pairs are processed in chunks so that their column-maximum buffers stay bounded.
    const chunk = Math.max(1, Math.floor(COLMAX_BUDGET / ref.size));
    for (let c0 = 0; c0 < pairsOfGroup.length; c0 += chunk) {
      scoreChunk(table, dim, vocabSize, job, pairsOfGroup.subarray(c0, Math.min(pairsOfGroup.length, c0 + chunk)), ref);
    }
  };
  return {
    groupCount: nRefs,
    runGroups(g0: number, g1: number): void {
      for (let g = g0; g < g1; g++) runGroup(g);
    },
  };
}

/** Scores `pairs` (indices into the job) against their shared reference group. */
function scoreChunk(table: Float32Array, dim: number, vocabSize: number, job: BmasJob, pairs: Int32Array, ref: RefGroup): void {
  const { respIds, respOffsets, weights, combine, out } = job;
  const nPairs = job.pairRef.length;
  const nD = ref.size;
  // Union U of the chunk's distinct response ids; per pair, its (slot in U, weight) entries.
  slotsU.reset(vocabSize);
  const uIds: number[] = [];
  const pairEntries: { slots: number[]; weight: number[] }[] = [];
  for (let q = 0; q < pairs.length; q++) {
    const p = pairs[q];
    slotsPair.reset(vocabSize);
    const slots: number[] = [];
    const weight: number[] = [];
    for (let i = respOffsets[p]; i < respOffsets[p + 1]; i++) {
      const id = respIds[i];
      let ps = slotsPair.get(id);
      if (ps < 0) {
        let s = slotsU.get(id);
        if (s < 0) {
          s = uIds.length;
          slotsU.set(id, s);
          uIds.push(id);
        }
        ps = slots.length;
        slotsPair.set(id, ps);
        slots.push(s);
        weight.push(0);
      }
      weight[ps] += weights ? weights[id] : 1;
    }
    pairEntries.push({ slots, weight });
  }
  const nU = uIds.length;
  if (nU === 0) return; // every response empty: scores stay 0

  // Which pairs hold each u (CSR), so a tile row updates exactly those pairs' column maxima.
  const holdStart = new Int32Array(nU + 1);
  for (const e of pairEntries) for (const s of e.slots) holdStart[s + 1]++;
  for (let s = 0; s < nU; s++) holdStart[s + 1] += holdStart[s];
  const holders = new Int32Array(holdStart[nU]);
  const cursor = holdStart.slice(0, nU);
  pairEntries.forEach((e, q) => {
    for (const s of e.slots) holders[cursor[s]++] = q;
  });

  const gatheredU = gather(table, dim, uIds, nU);
  const rowMax = new Float64Array(nU).fill(-Infinity);
  const colMax = new Float64Array(pairs.length * nD).fill(-Infinity);
  const tile = new Float64Array(U_BLOCK * Math.min(D_BLOCK, nD));

  for (let d0 = 0; d0 < nD; d0 += D_BLOCK) {
    const d1 = Math.min(nD, d0 + D_BLOCK);
    const w = d1 - d0;
    for (let u0 = 0; u0 < nU; u0 += U_BLOCK) {
      const u1 = Math.min(nU, u0 + U_BLOCK);
      dotTile(gatheredU, u0, u1, ref.rows, d0, d1, dim, tile);
      for (let u = u0; u < u1; u++) {
        const row = (u - u0) * w;
        let m = rowMax[u];
        for (let d = 0; d < w; d++) if (tile[row + d] > m) m = tile[row + d];
        rowMax[u] = m;
        for (let h = holdStart[u]; h < holdStart[u + 1]; h++) {
          const base = holders[h] * nD + d0;
          for (let d = 0; d < w; d++) if (tile[row + d] > colMax[base + d]) colMax[base + d] = tile[row + d];
        }
      }
    }
  }

  for (let q = 0; q < pairs.length; q++) {
    const p = pairs[q];
    const { slots, weight } = pairEntries[q];
    if (slots.length === 0) continue; // empty response: score, P and R are 0
    let num = 0, den = 0;
    for (let k = 0; k < slots.length; k++) {
      num += weight[k] * rowMax[slots[k]];
      den += weight[k];
    }
    const precision = den > 0 ? num / den : 0;
    let rnum = 0;
    for (let d = 0; d < nD; d++) rnum += ref.weight[d] * colMax[q * nD + d];
    const recall = ref.weightSum > 0 ? rnum / ref.weightSum : 0;
    out[p] = combineScores(precision, recall, combine);
    out[nPairs + p] = precision;
    out[2 * nPairs + p] = recall;
  }
}
