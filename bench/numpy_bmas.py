"""numpy baselines for the GRPO BMAS batch, on the ids and table rows written by bench/bmas.ts.

Usage: python3 numpy_bmas.py DIR REPS  ->  prints one JSON line {dense_ms, distinct_ms, scores...}
DIR holds meta.json, resp.i32 (P*R*m ids), ref.i32 (P*n ids), rows.i32 (used ids), rows.f32.
Both variants index into a full V-row table (zeros except the used rows, like a real one would
be all non-zero; untouched zero pages cost nothing here).
"""
import json
import os
import sys
import time

import numpy as np


def load(d):
    meta = json.load(open(os.path.join(d, "meta.json")))
    V, dim, P, R, m, n = (meta[k] for k in ("V", "d", "prompts", "perPrompt", "m", "n"))
    resp = np.fromfile(os.path.join(d, "resp.i32"), dtype=np.int32).reshape(P, R, m)
    ref = np.fromfile(os.path.join(d, "ref.i32"), dtype=np.int32).reshape(P, n)
    ids = np.fromfile(os.path.join(d, "rows.i32"), dtype=np.int32)
    rows = np.fromfile(os.path.join(d, "rows.f32"), dtype=np.float32).reshape(len(ids), dim)
    table = np.zeros((V, dim), dtype=np.float32)
    table[ids] = rows
    return table, resp, ref


def dense(table, resp, ref):
    """Per prompt: the reference rows gathered once; per response: gather, matmul, max."""
    P, R, m = resp.shape
    n = ref.shape[1]
    dim = table.shape[1]
    out = np.empty(P * R, dtype=np.float64)
    g = np.empty((n, dim), dtype=np.float32)
    x = np.empty((m, dim), dtype=np.float32)
    s = np.empty((m, n), dtype=np.float32)
    for p in range(P):
        np.take(table, ref[p], axis=0, out=g)
        gt = g.T
        for r in range(R):
            np.take(table, resp[p, r], axis=0, out=x)
            np.matmul(x, gt, out=s)
            out[p * R + r] = (s.max(axis=1).mean() + s.max(axis=0).mean()) / 2
    return out


def distinct(table, resp, ref):
    """Per prompt group: distinct ids of the responses (U) and of the reference (D), one
    |U| x |D| matmul, maxima weighted by counts (exact)."""
    P, R, m = resp.shape
    n = ref.shape[1]
    out = np.empty(P * R, dtype=np.float64)
    for p in range(P):
        d_ids, d_cnt = np.unique(ref[p], return_counts=True)
        u_ids, inv = np.unique(resp[p].ravel(), return_inverse=True)
        s = table[u_ids] @ table[d_ids].T
        rowmax = s.max(axis=1)
        inv = inv.reshape(R, m)
        for r in range(R):
            idx, cnt = np.unique(inv[r], return_counts=True)
            prec = float(cnt @ rowmax[idx]) / m
            rec = float(d_cnt @ s[idx].max(axis=0)) / n
            out[p * R + r] = (prec + rec) / 2
    return out


def best_ms(fn, reps):
    best, res = float("inf"), None
    for _ in range(reps):
        t0 = time.perf_counter()
        res = fn()
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return best, res


def main():
    d, reps = sys.argv[1], int(sys.argv[2])
    table, resp, ref = load(d)
    dense_ms, dense_scores = best_ms(lambda: dense(table, resp, ref), reps)
    distinct_ms, distinct_scores = best_ms(lambda: distinct(table, resp, ref), reps)
    print(json.dumps({
        "dense_ms": dense_ms,
        "distinct_ms": distinct_ms,
        "max_diff_variants": float(np.abs(dense_scores - distinct_scores).max()),
        "scores": distinct_scores.tolist(),
        "numpy": np.__version__,
    }))


if __name__ == "__main__":
    main()
