/**
 * Optimal one-to-one assignment maximising total weight on a rectangular matrix (the matching step of
 * the IoU reward, SPEC §5). Shortest augmenting paths with dual potentials (Hungarian method in the
 * Jonker–Volgenant form): O(k²·K) for a k×K problem, k = min side, which is run on the rows of the
 * smaller side (the matrix is read transposed when it has more rows than columns).
 */
import { BoxError, InvalidArgumentError, ValueRangeError } from '../errors.js';

export interface Assignment {
  /** rowToCol[i] = column matched to row i, or -1 when row i is unmatched (only when rows > cols). */
  rowToCol: Int32Array;
  /** colToRow[j] = row matched to column j, or -1 (only when cols > rows). */
  colToRow: Int32Array;
  /** Sum of the weights of the matched pairs. */
  total: number;
}

/**
 * Maximum-weight matching of `rows × cols` weights (row-major, `weights[i*cols + j]`). Every row of the
 * smaller side is matched (weights may be negative; all must be finite).
 */
export function maxWeightAssignment(weights: ArrayLike<number>, rows: number, cols: number): Assignment {
  if (!Number.isInteger(rows) || rows < 0) throw new ValueRangeError(`rows must be a non-negative integer (got ${rows})`);
  if (!Number.isInteger(cols) || cols < 0) throw new ValueRangeError(`cols must be a non-negative integer (got ${cols})`);
  if (weights === null || typeof weights !== 'object' || typeof weights.length !== 'number') {
    throw new InvalidArgumentError('weights must be an array or TypedArray of numbers');
  }
  if (weights.length !== rows * cols) {
    throw new BoxError(`weights must hold rows*cols = ${rows * cols} values (got ${weights.length})`);
  }
  for (let k = 0; k < weights.length; k++) {
    const w = weights[k];
    if (typeof w !== 'number' || !Number.isFinite(w)) throw new ValueRangeError(`weights[${k}] must be a finite number (got ${w})`);
  }
  const rowToCol = new Int32Array(rows).fill(-1);
  const colToRow = new Int32Array(cols).fill(-1);
  if (rows === 0 || cols === 0) return { rowToCol, colToRow, total: 0 };

  const transposed = rows > cols;
  const n = transposed ? cols : rows;
  const m = transposed ? rows : cols;
  // Cost to minimise for (small-side index i, large-side index j).
  const cost = transposed
    ? (i: number, j: number): number => -weights[j * cols + i]
    : (i: number, j: number): number => -weights[i * cols + j];
  const match = solveMin(n, m, cost);

  let total = 0;
  for (let i = 0; i < n; i++) {
    const j = match[i];
    if (transposed) {
      rowToCol[j] = i;
      colToRow[i] = j;
      total += weights[j * cols + i];
    } else {
      rowToCol[i] = j;
      colToRow[j] = i;
      total += weights[i * cols + j];
    }
  }
  return { rowToCol, colToRow, total };
}

/**
 * Minimum-cost assignment of n rows into m >= n columns. Index 0 of the potentials and of `owner` is
 * a virtual column/row from which each new row's augmenting path starts.
 */
function solveMin(n: number, m: number, cost: (i: number, j: number) => number): Int32Array {
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const owner = new Int32Array(m + 1); // owner[j] = row (1-based) holding column j, 0 = free
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    owner[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = owner[j0];
      let delta = Infinity;
      let j1 = -1;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[owner[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (owner[j0] !== 0);
    do {
      const j1 = way[j0];
      owner[j0] = owner[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const match = new Int32Array(n);
  for (let j = 1; j <= m; j++) if (owner[j] !== 0) match[owner[j] - 1] = j - 1;
  return match;
}
