import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { rejectsCode, throwsCode } from './helpers.js';
import { boxIoU, boxIoUAsync, boxIoUMatrix, boxIoUMatrixAsync } from '../lib/kernels/iou.js';
import { boxIoUJs, boxIoUMatrixJs, iouPair } from '../lib/kernels/iouJs.js';
import { iouReward } from '../lib/rewards/iou.js';
import { backends } from '../lib/backend/select.js';
import type { Box } from '../lib/types.js';



function close(actual: number, expected: number, tol = 1e-6, msg = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected}, got ${actual}`);
}

/** Plain float64 reference, written from the definitions (SPEC §5). */
function refIoU(a: number[], b: number[], giou: boolean): number {
  const valid = (x: number[]): boolean => x.every(Number.isFinite) && x[2] > x[0] && x[3] > x[1];
  if (!valid(a) || !valid(b)) return 0;
  const areaA = (a[2] - a[0]) * (a[3] - a[1]);
  const areaB = (b[2] - b[0]) * (b[3] - b[1]);
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  const union = areaA + areaB - inter;
  const iou = inter / union;
  if (!giou) return iou;
  const c = (Math.max(a[2], b[2]) - Math.min(a[0], b[0])) * (Math.max(a[3], b[3]) - Math.min(a[1], b[1]));
  return iou - (c - union) / c;
}

// ---------- kernels: hand-computed values ----------

test('boxIoU: hand-computed IoU and GIoU', () => {
  const cases: [Box, Box, number, number][] = [
    // inter 1, union 4+4-1 = 7; enclosing 3x3 = 9: GIoU = 1/7 - 2/9 = -5/63
    [[0, 0, 2, 2], [1, 1, 3, 3], 1 / 7, -5 / 63],
    // inter 2x2... shifted by 1 in x: inter 1x2 = 2, union 6, enclosing 3x2 = 6
    [[0, 0, 2, 2], [1, 0, 3, 2], 1 / 3, 1 / 3],
    // identical
    [[1, 2, 5, 7], [1, 2, 5, 7], 1, 1],
    // contained: 4 / 16; enclosing = outer box
    [[0, 0, 4, 4], [1, 1, 3, 3], 0.25, 0.25],
    // disjoint: union 2, enclosing 3x3 = 9: GIoU = -(9-2)/9
    [[0, 0, 1, 1], [2, 2, 3, 3], 0, -7 / 9],
    // touching edges: no area in common, enclosing 2x1 = union
    [[0, 0, 1, 1], [1, 0, 2, 1], 0, 0],
    // half of a box: [0,0,10,5] inside [0,0,10,10]
    [[0, 0, 10, 10], [0, 0, 10, 5], 0.5, 0.5],
    // decimals and negatives: inter [-0.5,0]x[-0.5,0] = 0.25, areas 1 and 1 -> 0.25/1.75
    [[-1, -1, 0, 0], [-0.5, -0.5, 0.5, 0.5], 1 / 7, 1 / 7 - (2.25 - 1.75) / 2.25],
  ];
  for (const [a, b, iou, giou] of cases) {
    close(boxIoU([a], [b], { backend: 'js' })[0], iou, 1e-7, `IoU ${a} ${b}`);
    close(boxIoU([b], [a], { backend: 'js' })[0], iou, 1e-7, `IoU ${b} ${a}`);
    close(boxIoU([a], [b], { backend: 'js', giou: true })[0], giou, 1e-7, `GIoU ${a} ${b}`);
    close(iouPair(...a, ...b), iou, 1e-15);
    close(iouPair(...a, ...b, true), giou, 1e-15);
  }
});

test('boxIoU: invalid boxes give 0 (IoU and GIoU), never NaN', () => {
  const good: Box = [0, 0, 2, 2];
  const invalid: Box[] = [
    [0, 0, 0, 2], // zero width
    [0, 0, 2, 0], // zero height
    [2, 0, 0, 2], // x2 < x1
    [0, 2, 2, 0], // y2 < y1
    [NaN, 0, 2, 2],
    [0, 0, Infinity, 2],
    [-Infinity, 0, 2, 2],
    [0, -Infinity, 2, Infinity],
  ];
  for (const bad of invalid) {
    for (const giou of [false, true]) {
      assert.is(boxIoU([bad], [good], { backend: 'js', giou })[0], 0, `${bad} giou=${giou}`);
      assert.is(boxIoU([good], [bad], { backend: 'js', giou })[0], 0);
      assert.is(boxIoU([bad], [bad], { backend: 'js', giou })[0], 0);
      assert.equal(Array.from(boxIoUMatrix([good, bad], [bad, good], { backend: 'js', giou })), [0, 1, 0, 0]);
    }
  }
});

test('boxIoU: extreme magnitudes stay exact and finite', () => {
  // Areas overflow float64 in the direct formula.
  const huge: Box = [-1e308, -1e308, 1e308, 1e308];
  assert.is(boxIoU([huge], [huge], { backend: 'js' })[0], 1);
  close(boxIoU([huge], [[0, 0, 1e308, 1e308]], { backend: 'js' })[0], 0.25, 1e-7);
  close(boxIoU([huge], [[0, 0, 1e308, 1e308]], { backend: 'js', giou: true })[0], 0.25, 1e-7);
  // Areas underflow.
  const tiny: Box = [0, 0, 1e-200, 1e-200];
  assert.is(boxIoU([tiny], [tiny], { backend: 'js' })[0], 1);
  close(boxIoU([tiny], [[0, 0, 1e-200, 5e-201]], { backend: 'js' })[0], 0.5, 1e-7);
  close(boxIoU([tiny], [[0, 0, 1e-200, 5e-201]], { backend: 'js', giou: true })[0], 0.5, 1e-7);
  // Disjoint and far apart: IoU 0, GIoU close to -1.
  const far = boxIoU([[0, 0, 1, 1]], [[1e300, 1e300, 1e300 + 1e290, 1e300 + 1e290]], { backend: 'js', giou: true })[0];
  assert.ok(far >= -1 && far < -0.99);
  const sub = boxIoU([[0, 0, 5e-324, 5e-324]], [[0, 0, 5e-324, 5e-324]], { backend: 'js' })[0];
  assert.is(sub, 1);
});

test('boxIoUMatrix: row-major N x M with hand values', () => {
  const a: Box[] = [
    [0, 0, 2, 2],
    [0, 0, 4, 4],
  ];
  const b: Box[] = [
    [1, 1, 3, 3],
    [0, 0, 2, 2],
    [10, 10, 11, 11],
  ];
  const m = boxIoUMatrix(a, b, { backend: 'js' });
  assert.is(m.length, 6);
  // row 0: 1/7, 1, 0; row 1: [1,1,3,3] in [0,0,4,4] -> 4/16, [0,0,2,2] -> 4/16, 0
  const expected = [1 / 7, 1, 0, 0.25, 0.25, 0];
  expected.forEach((e, k) => close(m[k], e, 1e-7, `m[${k}]`));
  assert.ok(m instanceof Float32Array);
});

test('kernels: input forms — Float32Array, Float64Array, arrays of boxes, flat arrays', () => {
  const a = [0, 0, 2, 2, 0, 0, 4, 4];
  const b = [1, 1, 3, 3, 1, 1, 3, 3];
  const want = [1 / 7, 0.25];
  const forms = [
    [new Float64Array(a), new Float64Array(b)],
    [new Float32Array(a), new Float32Array(b)],
    [new Float32Array(a), new Float64Array(b)],
    [a, b],
    [
      [a.slice(0, 4), a.slice(4)],
      [b.slice(0, 4), b.slice(4)],
    ],
  ] as const;
  for (const [x, y] of forms) {
    const r = boxIoU(x as unknown as number[][], y as unknown as number[][], { backend: 'js' });
    assert.ok(r instanceof Float32Array && r.length === 2);
    want.forEach((w, k) => close(r[k], w, 1e-7));
  }
  assert.is(boxIoU([], [], { backend: 'js' }).length, 0);
  assert.is(boxIoU(new Float32Array(0), new Float32Array(0)).length, 0);
  assert.is(boxIoUMatrix([], [[0, 0, 1, 1]], { backend: 'js' }).length, 0);
  assert.is(boxIoUMatrix([[0, 0, 1, 1]], new Float64Array(0), { backend: 'js' }).length, 0);
});

test('kernels: bad input throws typed errors naming the argument', () => {
  throwsCode(() => boxIoU(new Float32Array(5), new Float32Array(5)), 'ERR_BAD_BOXES', /\ba\b/);
  throwsCode(() => boxIoU(new Float32Array(4), new Float32Array(7)), 'ERR_BAD_BOXES', /\bb\b/);
  throwsCode(() => boxIoU(new Float32Array(4), new Float32Array(8)), 'ERR_BAD_BOXES', /same number/);
  throwsCode(() => boxIoU([[0, 0, 1, 1]], []), 'ERR_BAD_BOXES');
  throwsCode(() => boxIoUMatrix(new Float64Array(3), new Float64Array(4)), 'ERR_BAD_BOXES', /\ba\b/);
  throwsCode(() => boxIoUMatrix([[0, 0, 1]], [[0, 0, 1, 1]]), 'ERR_BAD_BOXES', /a\[0\]/);
  throwsCode(() => boxIoUMatrix([0, 0, 1, 1, 2], [[0, 0, 1, 1]]), 'ERR_BAD_BOXES', /\ba\b/);
  throwsCode(() => boxIoU('boxes' as unknown as number[][], []), 'ERR_INVALID_ARG', /\ba\b/);
  throwsCode(() => boxIoU(new Int32Array(4) as unknown as Float32Array, new Float32Array(4)), 'ERR_INVALID_ARG', /Int32Array/);
  throwsCode(() => boxIoU(null as unknown as number[][], []), 'ERR_INVALID_ARG');
  throwsCode(() => boxIoUMatrix([[0, 0, 1, 1]], [['0', 0, 1, 1]] as unknown as number[][]), 'ERR_INVALID_ARG', /b\[0\]\[0\]/);
  throwsCode(() => boxIoUMatrix([[0, 0, 1, 1]], [5] as unknown as number[][]), 'ERR_BAD_BOXES');
  throwsCode(() => boxIoUMatrix([[0, 0, 1, 1]], [null] as unknown as number[][]), 'ERR_INVALID_ARG', /b\[0\]/);
  throwsCode(() => boxIoU([], [], { giou: 'yes' as unknown as boolean }), 'ERR_INVALID_ARG', /giou/);
  throwsCode(() => boxIoU([], [], { backend: 'gpu' as 'js' }), 'ERR_INVALID_ARG', /backend/);
  throwsCode(() => boxIoU([], [], 'js' as unknown as object), 'ERR_INVALID_ARG', /options/);
});

test('kernels: async variants agree with sync ones and reject bad input', async () => {
  const a = new Float64Array([0, 0, 2, 2, 0, 0, 4, 4]);
  const b = new Float64Array([1, 1, 3, 3, 1, 1, 3, 3]);
  assert.equal(Array.from(await boxIoUAsync(a, b, { backend: 'js' })), Array.from(boxIoU(a, b, { backend: 'js' })));
  assert.equal(
    Array.from(await boxIoUMatrixAsync(a, b, { backend: 'js', giou: true })),
    Array.from(boxIoUMatrix(a, b, { backend: 'js', giou: true })),
  );
  await rejectsCode(() => boxIoUAsync(new Float32Array(4), new Float32Array(8)), 'ERR_BAD_BOXES');
  await rejectsCode(() => boxIoUMatrixAsync(new Float32Array(3), new Float32Array(8)), 'ERR_BAD_BOXES');
  await rejectsCode(() => boxIoUMatrixAsync({} as unknown as number[][], []), 'ERR_INVALID_ARG');
});

test('kernels: explicit native backends throw when unavailable, agree with js when available', async () => {
  const info = backends();
  assert.ok(info.js.available);
  const a = new Float64Array([0, 0, 2, 2, 0, 0, 4, 4, 1, 1, 1, 1]);
  const b = new Float64Array([1, 1, 3, 3, 1, 1, 3, 3, 0, 0, 1, 1]);
  for (const be of ['cpu', 'cuda'] as const) {
    if (!info[be].available) {
      throwsCode(() => boxIoU(a, b, { backend: be }), 'ERR_BACKEND_UNAVAILABLE');
      await rejectsCode(() => boxIoUMatrixAsync(a, b, { backend: be }), 'ERR_BACKEND_UNAVAILABLE');
      continue;
    }
    for (const giou of [false, true]) {
      const js = Array.from(boxIoUMatrix(a, b, { backend: 'js', giou }));
      const nat = Array.from(boxIoUMatrix(a, b, { backend: be, giou }));
      js.forEach((v, k) => close(nat[k], v, 1e-6));
      const natAsync = Array.from(await boxIoUAsync(a, b, { backend: be, giou }));
      Array.from(boxIoU(a, b, { backend: 'js', giou })).forEach((v, k) => close(natAsync[k], v, 1e-6));
    }
  }
  // 'auto' always works.
  assert.is(boxIoU(a, b).length, 3);
});

// ---------- kernels: properties ----------

const coord = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -20, max: 20 }) },
  { weight: 4, arbitrary: fc.double({ min: -100, max: 100, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 1e308, -1e308, 1e-300, 5e-324) },
);
const anyBox = fc.tuple(coord, coord, coord, coord);
const normalCoord = fc.double({ min: -1000, max: 1000, noNaN: true });
const validBox = fc
  .tuple(normalCoord, normalCoord, fc.double({ min: 1e-3, max: 500, noNaN: true }), fc.double({ min: 1e-3, max: 500, noNaN: true }))
  .map(([x, y, w, h]): Box => [x, y, x + w, y + h]);

test('kernels: property — symmetric, bounded, never NaN, invalid -> 0', () => {
  fc.assert(
    fc.property(anyBox, anyBox, fc.boolean(), (a, b, giou) => {
      const ab = boxIoU([a], [b], { backend: 'js', giou })[0];
      const ba = boxIoU([b], [a], { backend: 'js', giou })[0];
      assert.ok(!Number.isNaN(ab));
      assert.is(ab, ba);
      if (giou) assert.ok(ab >= -1 && ab <= 1);
      else assert.ok(ab >= 0 && ab <= 1);
      const valid = (x: number[]): boolean => x.every(Number.isFinite) && x[2] > x[0] && x[3] > x[1];
      if (!valid(a) || !valid(b)) assert.is(ab, 0);
      // A valid box with itself has IoU (and GIoU) 1.
      if (valid(a)) assert.is(boxIoU([a], [a], { backend: 'js', giou })[0], 1);
    }),
    { numRuns: 3000 },
  );
});

test('kernels: property — matches a plain float64 reference', () => {
  fc.assert(
    fc.property(fc.oneof(validBox, anyBox), fc.oneof(validBox, anyBox), fc.boolean(), (a, b, giou) => {
      const ref = refIoU(a, b, giou);
      if (!Number.isFinite(ref)) return; // the plain formula overflows; covered by the magnitude test
      const got = boxIoU(new Float64Array([...a]), new Float64Array([...b]), { backend: 'js', giou })[0];
      close(got, ref, 1e-6, `${a} vs ${b} giou=${giou}`);
    }),
    { numRuns: 3000 },
  );
});

test('kernels: property — matrix entries equal elementwise results', () => {
  const boxes = fc.array(fc.oneof(validBox, anyBox), { maxLength: 7 });
  fc.assert(
    fc.property(boxes, boxes, fc.boolean(), (a, b, giou) => {
      const m = boxIoUMatrix(a, b, { backend: 'js', giou });
      assert.is(m.length, a.length * b.length);
      for (let i = 0; i < a.length; i++) {
        const row = boxIoU(new Array(b.length).fill(a[i]), b, { backend: 'js', giou });
        for (let j = 0; j < b.length; j++) assert.is(m[i * b.length + j], row[j]);
      }
      assert.equal(Array.from(boxIoUMatrixJs(new Float32Array(a.flat()), new Float32Array(b.flat()), giou)).length, a.length * b.length);
      assert.equal(boxIoUJs(a.flat(), a.flat(), giou).length, a.length);
    }),
    { numRuns: 500 },
  );
});

test('kernels: 1000 x 1000 matrix and 1e6 pairs in the js backend', () => {
  const n = 1000;
  const a = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) a.set([i % 37, i % 41, (i % 37) + 5 + (i % 7), (i % 41) + 3 + (i % 5)], 4 * i);
  let t0 = performance.now();
  const m = boxIoUMatrix(a, a, { backend: 'js' });
  const matMs = performance.now() - t0;
  for (let i = 0; i < n; i += 97) assert.is(m[i * n + i], 1);
  const big = new Float32Array(4e6);
  for (let k = 0; k < 1e6; k++) big.set(a.subarray(4 * (k % n), 4 * (k % n) + 4), 4 * k);
  t0 = performance.now();
  const e = boxIoU(big, big, { backend: 'js' });
  const elMs = performance.now() - t0;
  assert.is(e[123456], 1);
  assert.ok(matMs < 3000 && elMs < 3000, `matrix ${matMs} ms, elementwise ${elMs} ms`);
});

// ---------- iouReward ----------

test('iouReward: exact match, partial overlap, formats', () => {
  assert.is(iouReward('<answer>[0, 0, 2, 2]</answer>', [0, 0, 2, 2]), 1);
  close(iouReward('<answer>[1, 0, 3, 2]</answer>', [0, 0, 2, 2]), 1 / 3, 1e-12);
  close(iouReward('[1, 1, 3, 3]', [[0, 0, 2, 2]]), 1 / 7, 1e-12);
  assert.is(iouReward('<answer>[{"bbox_2d": [0, 0, 2, 2], "label": "cat"}]</answer>', '[0,0,2,2]'), 1);
  // Only the answer block counts: boxes in the reasoning are not predictions.
  assert.is(iouReward('<think>maybe [5,5,6,6]?</think><answer>[0,0,2,2]</answer>', [0, 0, 2, 2]), 1);
  // Invalid predicted box scores 0.
  assert.is(iouReward('[2, 2, 0, 0]', [0, 0, 2, 2]), 0);
});

test('iouReward: extra boxes, duplicates of a true box and missing boxes lower the reward', () => {
  assert.is(iouReward('[0,0,2,2] [10,10,20,20]', [0, 0, 2, 2]), 0.5);
  // Spamming copies of the true box: one is matched, the rest count in the denominator.
  close(iouReward('[0,0,2,2] [0,0,2,2] [0,0,2,2]', [0, 0, 2, 2]), 1 / 3, 1e-12);
  close(iouReward('[0,0,2,2] [0,0,2,2]', [[0, 0, 2, 2], [10, 10, 12, 12]]), 0.5, 1e-12);
  // Missing one of two true boxes.
  assert.is(iouReward('[0,0,2,2]', [[0, 0, 2, 2], [10, 10, 12, 12]]), 0.5);
  // Both found, in a different order.
  assert.is(iouReward('[10,10,12,12] [0,0,2,2]', [[0, 0, 2, 2], [10, 10, 12, 12]]), 1);
});

// 1-D layout (all heights [0, 1]): T1=[0,10], T2=[4,14], P1=[1,11], P2=[0,5].
// IoU(P1,T1) = 9/11, IoU(P1,T2) = 7/13, IoU(P2,T1) = 5/10, IoU(P2,T2) = 1/14.
// Greedy takes P1-T1 then P2-T2 (9/11 + 1/14 = 0.89); optimal is P1-T2 + P2-T1 (7/13 + 1/2 = 1.04).
const T: Box[] = [
  [0, 0, 10, 1],
  [4, 0, 14, 1],
];
const P = '[1, 0, 11, 1], [0, 0, 5, 1]';

test('iouReward: optimal assignment, not greedy', () => {
  close(iouReward(P, T), (7 / 13 + 1 / 2) / 2, 1e-12);
});

test('iouReward: threshold counts hits and maximises them', () => {
  // At t = 0.5 all of P1-T1, P1-T2, P2-T1 are hits (5/10 >= 0.5 exactly); two hits are possible.
  assert.is(iouReward(P, T, { threshold: 0.5 }), 1);
  // At t = 0.6 only P1-T1 (9/11) is a hit.
  assert.is(iouReward(P, T, { threshold: 0.6 }), 0.5);
  // At t = 0.9 nothing is.
  assert.is(iouReward(P, T, { threshold: 0.9 }), 0);
  // IoU exactly equal to the threshold counts: [0,0,5,1] vs [0,0,10,1] = 0.5.
  assert.is(iouReward('[0,0,5,1]', [0, 0, 10, 1], { threshold: 0.5 }), 1);
  assert.is(iouReward('[0,0,5,1]', [0, 0, 10, 1], { threshold: 0.5000001 }), 0);
  assert.is(iouReward('[0,0,2,2]', [0, 0, 2, 2], { threshold: 1 }), 1);
  // 1/3 exactly: float64 decides, not a float32 rounding of it.
  assert.is(iouReward('[1,0,3,2]', [0, 0, 2, 2], { threshold: 1 / 3 }), 1);
  // Extra boxes lower a thresholded reward too.
  assert.is(iouReward('[0,0,2,2] [0,0,2,2] [0,0,2,2] [0,0,2,2]', [0, 0, 2, 2], { threshold: 0.5 }), 0.25);
});

test('iouReward: empty predictions and truths', () => {
  assert.is(iouReward('no object here', []), 1);
  assert.is(iouReward('<answer>none</answer>', ''), 1);
  assert.is(iouReward('', 'there is no box', { threshold: 0.5 }), 1);
  assert.is(iouReward('[0,0,1,1]', []), 0);
  assert.is(iouReward('I cannot find it', [0, 0, 1, 1]), 0);
  assert.is(iouReward('', [[0, 0, 1, 1]], { threshold: 0.5 }), 0);
});

test('iouReward: answers as string, box, boxes, typed array; imageSize', () => {
  const resp = '<answer>[1, 0, 3, 2]</answer>';
  for (const ans of ['[0,0,2,2]', '{"bbox_2d": [0, 0, 2, 2]}', [0, 0, 2, 2], [[0, 0, 2, 2]], new Float64Array([0, 0, 2, 2]), new Float32Array([0, 0, 2, 2])]) {
    close(iouReward(resp, ans as Box), 1 / 3, 1e-12);
  }
  const qwen2 = '<answer><|box_start|>(0,0),(500,500)<|box_end|></answer>';
  // 500/1000 of a 640 x 480 image: [0, 0, 320, 240].
  assert.is(iouReward(qwen2, [0, 0, 320, 240], { imageSize: { width: 640, height: 480 } }), 1);
  // Without imageSize the normalised box is compared as is: 320*240 / (500*500).
  close(iouReward(qwen2, [0, 0, 320, 240]), (320 * 240) / (500 * 500), 1e-12);
  // A string answer in the same normalised format converts the same way.
  assert.is(iouReward(qwen2, '<box>[[0,0,500,500]]</box>', { imageSize: { width: 640, height: 480 } }), 1);
});

test('iouReward: bad arguments throw typed errors', () => {
  for (const t of [0, -0.1, 1.5, NaN, Infinity]) throwsCode(() => iouReward('[0,0,1,1]', [0, 0, 1, 1], { threshold: t }), 'ERR_OUT_OF_RANGE', /threshold/);
  throwsCode(() => iouReward('[0,0,1,1]', [0, 0, 1, 1], { threshold: '0.5' as unknown as number }), 'ERR_INVALID_ARG', /threshold/);
  throwsCode(() => iouReward('x', [0, 0, 1] as unknown as Box), 'ERR_BAD_BOXES', /answer/);
  throwsCode(() => iouReward('x', [0, 0, NaN, 1]), 'ERR_BAD_BOXES', /answer/);
  throwsCode(() => iouReward('x', [0, 0, Infinity, 1]), 'ERR_BAD_BOXES', /answer/);
  throwsCode(() => iouReward('x', [[0, 0, 1, 1], [1, 2]] as unknown as Box[]), 'ERR_BAD_BOXES', /answer\[1\]/);
  throwsCode(() => iouReward('x', ['0', '0', '1', '1'] as unknown as Box), 'ERR_INVALID_ARG', /answer/);
  throwsCode(() => iouReward('x', [[0, 0, 1, 1], 'box'] as unknown as Box[]), 'ERR_INVALID_ARG', /answer\[1\]/);
  throwsCode(() => iouReward('x', 5 as unknown as Box), 'ERR_INVALID_ARG', /answer/);
  throwsCode(() => iouReward('x', null as unknown as Box), 'ERR_INVALID_ARG', /answer/);
  throwsCode(() => iouReward('x', new Float32Array(5) as unknown as Box), 'ERR_BAD_BOXES', /answer/);
  throwsCode(() => iouReward('x', '[0, 0, 1e999, 1]'), 'ERR_BAD_BOXES', /answer/);
  throwsCode(() => iouReward(undefined as unknown as string, [0, 0, 1, 1]), 'ERR_INVALID_ARG', /response/);
  throwsCode(() => iouReward('x', [0, 0, 1, 1], { imageSize: { width: -1, height: 1 } }), 'ERR_OUT_OF_RANGE', /width/);
  throwsCode(() => iouReward('x', [0, 0, 1, 1], { backend: 'tpu' as 'js' }), 'ERR_INVALID_ARG', /backend/);
});

test('iouReward: property — any response scores in [0, 1] without throwing', () => {
  const answers = fc.array(validBox, { maxLength: 4 });
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), answers, fc.option(fc.double({ min: 0.01, max: 1, noNaN: true })), (resp, ans, t) => {
      const r = iouReward(resp, ans, t === null ? undefined : { threshold: t });
      return r >= 0 && r <= 1 && !Number.isNaN(r);
    }),
    { numRuns: 500 },
  );
});

test('iouReward: property — equals brute force over matchings, reference IoU', () => {
  const smallBox = fc
    .tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: -1, max: 6 }), fc.integer({ min: -1, max: 6 }))
    .map(([x, y, w, h]): Box => [x, y, x + w, y + h]);
  const boxes = fc.array(smallBox, { maxLength: 5 });
  fc.assert(
    fc.property(boxes, boxes, fc.option(fc.constantFrom(0.1, 0.25, 1 / 3, 0.5, 1)), (pred, truth, t) => {
      const resp = `<answer>${pred.map((b) => JSON.stringify({ bbox_2d: b })).join(', ')}</answer>`;
      const got = iouReward(resp, truth, t === null ? undefined : { threshold: t });
      let want: number;
      if (pred.length === 0 && truth.length === 0) want = 1;
      else if (pred.length === 0 || truth.length === 0) want = 0;
      else {
        // Score every injective matching of the smaller side; keep the best (hits, then IoU).
        const [small, large] = pred.length <= truth.length ? [pred, truth] : [truth, pred];
        let best = -1;
        let bestSum = -1;
        const used = new Array<boolean>(large.length).fill(false);
        const rec = (i: number, hits: number, sum: number): void => {
          if (i === small.length) {
            const score = t === null ? sum : hits;
            if (score > best || (score === best && sum > bestSum)) {
              best = score;
              bestSum = sum;
            }
            return;
          }
          for (let j = 0; j < large.length; j++) {
            if (used[j]) continue;
            used[j] = true;
            const v = refIoU(small[i], large[j], false);
            rec(i + 1, hits + (t !== null && v >= t ? 1 : 0), sum + v);
            used[j] = false;
          }
        };
        rec(0, 0, 0);
        want = best / Math.max(pred.length, truth.length);
      }
      close(got, want, 1e-9, `pred ${JSON.stringify(pred)} truth ${JSON.stringify(truth)} t=${t}`);
    }),
    { numRuns: 1000 },
  );
});

test('iouReward: a 1 MB adversarial response is scored fast', () => {
  const MB = 1 << 20;
  for (const resp of ['['.repeat(MB), '<answer>' + '[1,2,3,'.repeat(MB / 7), '[0,0,2,2]'.repeat(MB / 9 / 8)]) {
    const t0 = performance.now();
    const r = iouReward(resp, [[0, 0, 2, 2]]);
    assert.ok(r >= 0 && r <= 1);
    assert.ok(performance.now() - t0 < 2000);
  }
});

test.run();
