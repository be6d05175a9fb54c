import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { throwsCode } from './helpers.js';
import { parseBoxes } from '../lib/boxes/parseBoxes.js';
import { maxWeightAssignment } from '../lib/boxes/assignment.js';


// ---------- parseBoxes: each format ----------

test('parseBoxes: Qwen2.5-VL JSON with bbox_2d, in order, with labels', () => {
  const text = '```json\n[\n  {"bbox_2d": [10, 20, 30, 40], "label": "cat"},\n  {"bbox_2d": [50, 60, 70, 80], "label": "dog"}\n]\n```';
  assert.equal(parseBoxes(text), [[10, 20, 30, 40], [50, 60, 70, 80]]);
});

test('parseBoxes: single quotes, spaces, bbox and box keys', () => {
  assert.equal(parseBoxes("[{'bbox_2d': [10,20,30,40], 'label': 'cat'}]"), [[10, 20, 30, 40]]);
  assert.equal(parseBoxes('{"bbox" :[ 1 , 2 ,3,  4 ]}'), [[1, 2, 3, 4]]);
  assert.equal(parseBoxes("{'box': [\n1,\n2,\n3,\n4\n]}"), [[1, 2, 3, 4]]);
});

test('parseBoxes: Qwen2-VL box_start/box_end, 0-1000 kept unless imageSize', () => {
  const text = '<|object_ref_start|>cat<|object_ref_end|><|box_start|>(100,200),(300,400)<|box_end|>';
  assert.equal(parseBoxes(text), [[100, 200, 300, 400]]);
  // 100*640/1000 = 64, 200*480/1000 = 96, 300*640/1000 = 192, 400*480/1000 = 192
  assert.equal(parseBoxes(text, { imageSize: { width: 640, height: 480 } }), [[64, 96, 192, 192]]);
  assert.equal(parseBoxes('<|box_start|>( 1 , 2 ) , ( 3 , 4 )<|box_end|>'), [[1, 2, 3, 4]]);
  assert.equal(parseBoxes('<|box_start|>(1,2)(3,4)<|box_end|>'), [[1, 2, 3, 4]]);
});

test('parseBoxes: malformed Qwen2-VL boxes are not boxes', () => {
  assert.equal(parseBoxes('<|box_start|>(1,2),(3,4)'), []);
  assert.equal(parseBoxes('<|box_start|>(1,2),(3)<|box_end|>'), []);
  assert.equal(parseBoxes('<|box_start|>(1,2),(3,4),(5,6)<|box_end|>'), []);
  assert.equal(parseBoxes('<|box_start|>(1,2)<|box_end|>'), []);
  assert.equal(parseBoxes('(1,2),(3,4)<|box_end|>'), []);
});

test('parseBoxes: InternVL <box> with several boxes, normalised conversion', () => {
  const text = '<ref>cat</ref><box>[[100, 200, 300, 400], [500, 600, 700, 800]]</box>';
  assert.equal(parseBoxes(text), [[100, 200, 300, 400], [500, 600, 700, 800]]);
  assert.equal(parseBoxes(text, { imageSize: { width: 640, height: 480 } }), [
    [64, 96, 192, 192],
    [320, 288, 448, 384],
  ]);
  // A single list inside the tag is normalised too.
  assert.equal(parseBoxes('<box>[500,500,1000,1000]</box>', { imageSize: { width: 200, height: 100 } }), [[100, 50, 200, 100]]);
});

test('parseBoxes: an unclosed <box> leaves its lists as bare lists (as given)', () => {
  const size = { imageSize: { width: 640, height: 480 } };
  assert.equal(parseBoxes('<box>[[100, 200, 300, 400]]', size), [[100, 200, 300, 400]]);
  // After the region closes, bare lists are not converted.
  assert.equal(parseBoxes('<box>[[100,200,300,400]]</box> [100,200,300,400]', size), [
    [64, 96, 192, 192],
    [100, 200, 300, 400],
  ]);
});

test('parseBoxes: imageSize never changes JSON or bare lists', () => {
  const size = { imageSize: { width: 640, height: 480 } };
  assert.equal(parseBoxes('[{"bbox_2d": [100, 200, 300, 400]}] and [1,2,3,4]', size), [
    [100, 200, 300, 400],
    [1, 2, 3, 4],
  ]);
});

test('parseBoxes: bare lists with integers, decimals, signs, exponents', () => {
  assert.equal(parseBoxes('box: [-1.5, +2, 3.25, 4e1]'), [[-1.5, 2, 3.25, 40]]);
  assert.equal(parseBoxes('[0.5,.25,7.,-0]'), [[0.5, 0.25, 7, -0]]);
  assert.equal(parseBoxes('[1E2, 2e-1, 3e+0, 4]'), [[100, 0.2, 3, 4]]);
});

test('parseBoxes: lists of 3 or 5 numbers, or with other items, are not boxes', () => {
  assert.equal(parseBoxes('[1, 2, 3]'), []);
  assert.equal(parseBoxes('[1, 2, 3, 4, 5]'), []);
  assert.equal(parseBoxes('{"bbox_2d": [1, 2, 3, 4, 5]}'), []);
  assert.equal(parseBoxes('[1, 2, 3, x]'), []);
  assert.equal(parseBoxes('[1,,2,3,4]'), []);
  assert.equal(parseBoxes('[1 2 3 4]'), []);
  assert.equal(parseBoxes('[1, 2, 3, 4'), []);
  assert.equal(parseBoxes('(1, 2, 3, 4)'), []);
  assert.equal(parseBoxes('[1px, 2, 3, 4]'), []);
  assert.equal(parseBoxes('["1", "2", "3", "4"]'), []);
  assert.equal(parseBoxes('[-, 1, 2, 3]'), []);
  assert.equal(parseBoxes('[1, 2, 3, 4e]'), []);
});

test('parseBoxes: nested lists give their four-number members', () => {
  assert.equal(parseBoxes('[[1,2,3,4],[5,6,7,8]]'), [[1, 2, 3, 4], [5, 6, 7, 8]]);
  assert.equal(parseBoxes('[1, 2, [3, 4, 5, 6]]'), [[3, 4, 5, 6]]);
  assert.equal(parseBoxes('[[1,2,3,4]]'), [[1, 2, 3, 4]]);
});

test('parseBoxes: mixed formats in order of appearance, each list once', () => {
  const text =
    'first <|box_start|>(1,2),(3,4)<|box_end|> then [5,6,7,8], ' +
    '<box>[[9,10,11,12]]</box>, {"bbox_2d": [13,14,15,16]} and {"bbox": [17,18,19,20]}';
  assert.equal(parseBoxes(text), [
    [1, 2, 3, 4],
    [5, 6, 7, 8],
    [9, 10, 11, 12],
    [13, 14, 15, 16],
    [17, 18, 19, 20],
  ]);
});

test('parseBoxes: a list matching two forms is reported once', () => {
  assert.equal(parseBoxes('{"bbox_2d": [1,2,3,4]}'), [[1, 2, 3, 4]]);
  assert.equal(parseBoxes('<box>[[1,2,3,4]]</box>'), [[1, 2, 3, 4]]);
  // The same box written twice is two predictions (it lowers the IoU reward).
  assert.equal(parseBoxes('[1,2,3,4] [1,2,3,4]'), [[1, 2, 3, 4], [1, 2, 3, 4]]);
});

test('parseBoxes: invalid boxes are returned as written; nothing found gives []', () => {
  assert.equal(parseBoxes('[3, 3, 1, 1]'), [[3, 3, 1, 1]]);
  assert.equal(parseBoxes(''), []);
  assert.equal(parseBoxes('no boxes here'), []);
  assert.equal(parseBoxes('[1e999, 0, 1, 1]'), [[Infinity, 0, 1, 1]]);
});

test('parseBoxes: bad arguments throw typed errors; strings never do', () => {
  throwsCode(() => parseBoxes(42 as unknown as string), 'ERR_INVALID_ARG', /text/);
  throwsCode(() => parseBoxes('[1,2,3,4]', { imageSize: { width: 0, height: 10 } }), 'ERR_OUT_OF_RANGE', /width/);
  throwsCode(() => parseBoxes('[1,2,3,4]', { imageSize: { width: 10, height: NaN } }), 'ERR_OUT_OF_RANGE', /height/);
  throwsCode(
    () => parseBoxes('[1,2,3,4]', { imageSize: { width: '640', height: 480 } as unknown as { width: number; height: number } }),
    'ERR_INVALID_ARG',
    /width/,
  );
  for (const s of ['<box>', '</box>', '<|box_start|>', '<|box_start|>(', '[', ']', '[-', '[1e', '\u0000\ud800', '<box>[[1,2,3,4]</box>']) {
    assert.ok(Array.isArray(parseBoxes(s)));
  }
});

test('parseBoxes: property — never throws on any string', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
      const boxes = parseBoxes(s);
      return Array.isArray(boxes) && boxes.every((b) => b.length === 4);
    }),
    { numRuns: 500 },
  );
  const pieces = fc.constantFrom('[', ']', ',', ' ', '1', '-', '.', 'e', '<box>', '</box>', '<|box_start|>', '<|box_end|>', '(', ')', '{"bbox_2d":', '}');
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 60 }), (parts) => {
      const boxes = parseBoxes(parts.join(''));
      return boxes.every((b) => b.length === 4 && b.every((v) => typeof v === 'number'));
    }),
    { numRuns: 1000 },
  );
});

test('parseBoxes: property — boxes written in any format come back in order', () => {
  const num = fc.oneof(fc.integer({ min: -5000, max: 5000 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }));
  const box = fc.tuple(num, num, num, num);
  const filler = fc.string({ maxLength: 8 }).map((s) => s.replace(/[[\]<>(),.+\-0-9eE{}]/g, ' '));
  fc.assert(
    fc.property(fc.array(fc.tuple(box, fc.integer({ min: 0, max: 3 }), filler), { maxLength: 6 }), (items) => {
      let text = '';
      for (const [b, form, fill] of items) {
        const s = b.map((v) => String(v));
        if (form === 0) text += `[${s.join(', ')}]`;
        else if (form === 1) text += `{"bbox_2d": [${s.join(',')}], "label": "x"}`;
        else if (form === 2) text += `<|box_start|>(${s[0]},${s[1]}),(${s[2]},${s[3]})<|box_end|>`;
        else text += `<box>[[${s.join(', ')}]]</box>`;
        text += ` ${fill} `;
      }
      const got = parseBoxes(text);
      assert.equal(got, items.map(([b]) => b.map((v) => Number(String(v)))));
    }),
    { numRuns: 300 },
  );
});

test('parseBoxes: linear time on 1 MB adversarial strings', () => {
  const MB = 1 << 20;
  const cases: [string, string][] = [
    ['open brackets', '['.repeat(MB)],
    ['open list prefixes', '[1,2,3,'.repeat(MB / 7)],
    ['five-number lists', '[1,2,3,4,5]'.repeat(MB / 11)],
    ['digits', '[' + '9'.repeat(MB)],
    ['signs', '[' + '-'.repeat(MB)],
    ['decimals', '[1' + '.1'.repeat(MB / 2)],
    ['unclosed intern tags', '<box>[[1,2,3,4]'.repeat(MB / 15)],
    ['open intern tags then one close', '<box>'.repeat(MB / 5) + '</box>'],
    ['unclosed qwen tags', '<|box_start|>(1,2),(3,4)'.repeat(MB / 24)],
    ['qwen tag prefixes', '<|box_start|>('.repeat(MB / 14)],
    ['angle brackets', '<'.repeat(MB)],
    ['valid boxes', '[1,2,3,4]'.repeat(MB / 9)],
    ['nested', '[['.repeat(MB / 2) + '1,2,3,4' + ']]'.repeat(MB / 2)],
  ];
  for (const [name, text] of cases) {
    const t0 = performance.now();
    parseBoxes(text);
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `${name}: ${ms.toFixed(0)} ms`);
  }
});

// ---------- assignment ----------

function bruteForceMax(w: ArrayLike<number>, rows: number, cols: number): number {
  // Enumerate injective maps from the smaller side into the larger one.
  const small = Math.min(rows, cols);
  const large = Math.max(rows, cols);
  const at = (s: number, l: number): number => (rows <= cols ? w[s * cols + l] : w[l * cols + s]);
  const used = new Array<boolean>(large).fill(false);
  let best = -Infinity;
  const rec = (s: number, acc: number): void => {
    if (s === small) {
      best = Math.max(best, acc);
      return;
    }
    for (let l = 0; l < large; l++) {
      if (used[l]) continue;
      used[l] = true;
      rec(s + 1, acc + at(s, l));
      used[l] = false;
    }
  };
  rec(0, 0);
  return small === 0 ? 0 : best;
}

test('assignment: hand cases', () => {
  // [[4,1],[2,0]]: 4+0 = 4 beats 1+2 = 3.
  let r = maxWeightAssignment([4, 1, 2, 0], 2, 2);
  assert.equal(Array.from(r.rowToCol), [0, 1]);
  assert.is(r.total, 4);
  // Greedy would take 9 first (row 0 -> col 0) and then 0: optimal is 8 + 7.
  r = maxWeightAssignment([9, 8, 7, 0], 2, 2);
  assert.equal(Array.from(r.rowToCol), [1, 0]);
  assert.is(r.total, 15);
  // 2 x 3: row 0 -> col 2 (5), row 1 -> col 0 (3).
  r = maxWeightAssignment([1, 2, 5, 3, 1, 4], 2, 3);
  assert.equal(Array.from(r.rowToCol), [2, 0]);
  assert.equal(Array.from(r.colToRow), [1, -1, 0]);
  assert.is(r.total, 8);
  // 3 x 1: only the best row is matched.
  r = maxWeightAssignment([0.2, 0.9, 0.5], 3, 1);
  assert.equal(Array.from(r.rowToCol), [-1, 0, -1]);
  assert.equal(Array.from(r.colToRow), [1]);
  assert.is(r.total, 0.9);
  // Empty sides.
  r = maxWeightAssignment([], 0, 3);
  assert.is(r.total, 0);
  assert.equal(Array.from(r.colToRow), [-1, -1, -1]);
  r = maxWeightAssignment([], 2, 0);
  assert.equal(Array.from(r.rowToCol), [-1, -1]);
});

test('assignment: bad arguments', () => {
  throwsCode(() => maxWeightAssignment([1, 2, 3], 2, 2), 'ERR_BAD_BOXES', /weights/);
  throwsCode(() => maxWeightAssignment([1, NaN, 3, 4], 2, 2), 'ERR_OUT_OF_RANGE', /weights\[1\]/);
  throwsCode(() => maxWeightAssignment([1], -1, -1), 'ERR_OUT_OF_RANGE', /rows/);
  throwsCode(() => maxWeightAssignment(null as unknown as number[], 1, 1), 'ERR_INVALID_ARG', /weights/);
});

test('assignment: property — equals brute force over all permutations, valid one-to-one', () => {
  const weight = fc.oneof(
    fc.double({ min: -10, max: 10, noNaN: true }),
    fc.integer({ min: 0, max: 3 }), // many ties
    fc.constantFrom(0, 1, 0.5),
  );
  const problem = fc
    .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 }))
    .chain(([r, c]) => fc.tuple(fc.constant(r), fc.constant(c), fc.array(weight, { minLength: r * c, maxLength: r * c })));
  fc.assert(
    fc.property(problem, ([rows, cols, w]) => {
      const { rowToCol, colToRow, total } = maxWeightAssignment(w, rows, cols);
      const seen = new Set<number>();
      let matched = 0;
      let sum = 0;
      for (let i = 0; i < rows; i++) {
        const j = rowToCol[i];
        if (j < 0) continue;
        assert.ok(j < cols && !seen.has(j));
        assert.is(colToRow[j], i);
        seen.add(j);
        matched++;
        sum += w[i * cols + j];
      }
      assert.is(matched, Math.min(rows, cols));
      assert.ok(Math.abs(sum - total) <= 1e-9);
      const best = bruteForceMax(w, rows, cols);
      assert.ok(Math.abs(total - best) <= 1e-9 * (1 + Math.abs(best)), `total ${total} vs brute force ${best}`);
    }),
    { numRuns: 1500 },
  );
});

test('assignment: a 200 x 300 problem is fast', () => {
  const rows = 200;
  const cols = 300;
  const w = new Float64Array(rows * cols);
  let s = 12345;
  for (let k = 0; k < w.length; k++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    w[k] = s / 2147483648;
  }
  const t0 = performance.now();
  const r = maxWeightAssignment(w, rows, cols);
  const ms = performance.now() - t0;
  assert.ok(ms < 2000, `${ms} ms`);
  // Each row can at best take its row maximum: an upper bound the optimum must respect.
  let bound = 0;
  for (let i = 0; i < rows; i++) bound += Math.max(...w.subarray(i * cols, (i + 1) * cols));
  assert.ok(r.total <= bound + 1e-9 && r.total > 0.9 * rows);
});

test.run();
