/**
 * L2-normalises `rows` rows of `dim` values in place. The norm is accumulated in float64 so that
 * the f32 result is the correctly rounded unit vector even for dim in the thousands; a zero row
 * (or one that is not finite) becomes all zeros, which gives similarity 0 with everything (SPEC §6).
 */
export function normalizeRowsInPlace(data: Float32Array, rows: number, dim: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let sq = 0;
    for (let k = 0; k < dim; k++) {
      const v = data[base + k];
      sq += v * v;
    }
    if (!(sq > 0) || !Number.isFinite(sq)) {
      data.fill(0, base, base + dim);
      continue;
    }
    const inv = 1 / Math.sqrt(sq);
    for (let k = 0; k < dim; k++) data[base + k] *= inv;
  }
}
