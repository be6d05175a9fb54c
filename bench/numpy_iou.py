"""numpy baselines for box IoU (float32), the usual vectorised formulation.

Usage: python3 numpy_iou.py N M REPS  ->  one JSON line {elementwise_ms, matrix_ms, copy_gbs}
Boxes are generated here (numpy's timing does not depend on the values); the elementwise case
has N pairs, the matrix case M x M.
"""
import json
import sys
import time

import numpy as np


def iou_elementwise(a, b):
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 2], b[:, 2])
    y2 = np.minimum(a[:, 3], b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a + area_b - inter)


def iou_matrix(a, b):
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def boxes(rng, n):
    xy = rng.uniform(0, 1000, size=(n, 2)).astype(np.float32)
    wh = rng.uniform(1, 200, size=(n, 2)).astype(np.float32)
    return np.concatenate([xy, xy + wh], axis=1)


def best_ms(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return best


def main():
    n, m, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(1)
    a, b = boxes(rng, n), boxes(rng, n)
    am, bm = boxes(rng, m), boxes(rng, m)
    src = np.ones(16 << 20, dtype=np.float32)
    dst = np.empty_like(src)
    copy_ms = best_ms(lambda: np.copyto(dst, src), reps)
    print(json.dumps({
        "elementwise_ms": best_ms(lambda: iou_elementwise(a, b), reps),
        "matrix_ms": best_ms(lambda: iou_matrix(am, bm), reps),
        "copy_gbs": 2 * src.nbytes / copy_ms / 1e6,
        "numpy": np.__version__,
    }))


if __name__ == "__main__":
    main()
