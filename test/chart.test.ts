import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { chartReward, chartText } from '../lib/rewards/chart.js';
import { parseChartNumber } from '../lib/text/normalize.js';
import { InvalidArgumentError, ValueRangeError } from '../lib/errors.js';

// ---------------------------------------------------------------- number parsing

const numberCases: [string, number | null][] = [
  ['42', 42],
  ['  42  ', 42],
  ['-42', -42],
  ['+42', 42],
  ['\u221242', -42],
  ['3.14', 3.14],
  ['.5', 0.5],
  ['5.', 5],
  ['1e3', 1000],
  ['2.5E-3', 0.0025],
  ['-1.5e+2', -150],
  ['$42', 42],
  ['€42', 42],
  ['£1,000', 1000],
  ['¥500', 500],
  ['-$5', -5],
  ['$-5', -5],
  ['$ 5', 5],
  ['1,234', 1234],
  ['1,234,567', 1234567],
  ['1,234,567.89', 1234567.89],
  ['$1,234.50', 1234.5],
  ['45%', 45],
  ['45 %', 45],
  ['-12.5%', -12.5],
  ['$1,234%', 1234],
  ['1e2%', 100],
  ['42.', 42],
  ['45%.', 45],
  ['0', 0],
  ['-0', -0],
  // Text, not numbers:
  ['12,34', null],
  ['1,2345', null],
  [',123', null],
  ['1,234,56', null],
  ['1.234,5', null],
  ['1,234.5,6', null],
  ['45%%', null],
  ['%45', null],
  ['$$5', null],
  ['$€5', null],
  ['5$', null],
  ['5€', null],
  ['--5', null],
  ['-$-5', null],
  ['+-5', null],
  ['1e', null],
  ['e5', null],
  ['1e999', null],
  ['Infinity', null],
  ['NaN', null],
  ['0x1F', null],
  ['1 234', null],
  ['5 apples', null],
  ['', null],
  ['.', null],
  ['$', null],
  ['%', null],
];
for (const [input, want] of numberCases) {
  test(`parseChartNumber(${JSON.stringify(input)}) = ${want}`, () => {
    const got = parseChartNumber(input);
    if (want === null) assert.is(got, null);
    else assert.ok(got !== null && Object.is(got + 0, want + 0) && Math.abs(got - want) <= 1e-12 * Math.abs(want), `got ${got}`);
  });
}

// ---------------------------------------------------------------- rewards

type Case = [response: string, answer: string | number, want: 0 | 1, tolerance?: number];
const rewardCases: Case[] = [
  ['42', '42', 1],
  ['<answer>42</answer>', 42, 1],
  ['<answer>$42</answer>', '42', 1],
  ['43', '42', 1], // 1/42 < 5%
  ['44', '42', 1],
  ['44.1', '42', 0], // exactly 5% on paper, but in float64 |44.1 - 42| = 2.1000000000000014 > 0.05·42 = 2.1
  ['44.2', '42', 0],
  ['105', '100', 1], // boundary: |5| <= 0.05·100 = 5
  ['95', '100', 1],
  ['105.01', '100', 0],
  ['94.99', '100', 0],
  ['-105', '-100', 1],
  ['105', '-100', 0],
  ['0', '0', 1],
  ['0.0', '0', 1],
  ['0.0001', '0', 0], // t = 0 needs p = 0
  ['-0', '0', 1],
  ['45%', '45', 1],
  ['45', '45%', 1],
  ['0.45', '45%', 0], // no rescaling
  ['45%', '0.45', 0],
  ['1,234,567', '1234567', 1],
  ['$1,234', '1234', 1],
  ['12,34', '1234', 0], // text vs number: `12,34` != `1234`
  ['12,34', '12,34', 1], // text equality
  ['1.2e3', '1200', 1],
  ['1,200', '1.2e3', 1],
  ['110', '100', 1, 0.1],
  ['110.1', '100', 0, 0.1],
  ['100', '100', 1, 0],
  ['100.0000001', '100', 0, 0],
  ['1e9', '1', 1, 1e9],
  // Text answers.
  ['Yes', 'yes', 1],
  ['Blue.', 'blue', 1],
  ['blue', 'Blue.', 1],
  ['  North   America ', 'north america', 1],
  ['north america', 'North\nAmerica.', 1],
  ['blue..', 'blue', 0], // one trailing period only
  ['blue', 'red', 0],
  ['**blue**', 'blue', 0], // chart text equality does not drop markdown
  ['', '', 0], // an empty prediction never scores
  ['<answer></answer>', 'x', 0],
  ['2019', '2019', 1],
  ['2019', '2020', 1], // numbers: within 5%, as ChartQA's relaxed accuracy has it
  ['2019', 2020, 1, 0.001], // 1 <= 2.02
  ['2019', 2020, 0, 0.0001], // 1 > 0.202
  ['five', 5, 0],
  ['5', 'five', 0],
  ['\\boxed{42}', '42', 1],
  ['<think>40</think>42', '42', 1],
];
for (const [response, answer, want, tolerance] of rewardCases) {
  test(`chartReward(${JSON.stringify(response)}, ${JSON.stringify(answer)}${tolerance === undefined ? '' : ', tol ' + tolerance}) = ${want}`, () => {
    assert.is(chartReward(response, answer, tolerance === undefined ? undefined : { tolerance }), want);
  });
}

test('chartText lower-cases, collapses white space and strips one trailing period', () => {
  assert.is(chartText('  A  B\tC. '), 'a b c');
  assert.is(chartText('x..'), 'x.');
  assert.is(chartText('Mr. X'), 'mr. x');
});

// ---------------------------------------------------------------- errors

function expectError(fn: () => unknown, cls: Function, code: string, re: RegExp): void {
  try {
    fn();
    assert.unreachable('should throw');
  } catch (e) {
    assert.instance(e, cls);
    assert.is((e as { code: string }).code, code);
    assert.match((e as Error).message, re);
  }
}

test('a negative or non-finite tolerance throws ValueRangeError (a RangeError)', () => {
  for (const tol of [-0.01, -1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    expectError(() => chartReward('1', '1', { tolerance: tol }), ValueRangeError, 'ERR_OUT_OF_RANGE', /tolerance/);
    expectError(() => chartReward('1', '1', { tolerance: tol }), RangeError, 'ERR_OUT_OF_RANGE', /tolerance/);
  }
  expectError(() => chartReward('1', '1', { tolerance: '0.1' as unknown as number }), InvalidArgumentError, 'ERR_INVALID_ARG', /tolerance/);
  assert.is(chartReward('1', '1', { tolerance: 0 }), 1);
  assert.is(chartReward('1', '1', {}), 1);
});

test('wrong types throw InvalidArgumentError naming the argument', () => {
  expectError(() => chartReward(1 as unknown as string, '1'), InvalidArgumentError, 'ERR_INVALID_ARG', /response/);
  for (const bad of [undefined, null, true, {}, [1]]) {
    expectError(() => chartReward('1', bad as unknown as string), InvalidArgumentError, 'ERR_INVALID_ARG', /answer/);
  }
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
    expectError(() => chartReward('1', bad), ValueRangeError, 'ERR_OUT_OF_RANGE', /answer/);
  }
});

// ---------------------------------------------------------------- speed and properties

test('huge responses score fast', () => {
  const inputs = ['1,'.repeat(2_000_000) + '1', '9'.repeat(5_000_000), '$'.repeat(5_000_000), ' '.repeat(5_000_000) + '5'];
  for (const s of inputs) {
    const t0 = process.hrtime.bigint();
    chartReward(s, '5');
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms < 1500, `took ${ms} ms`);
  }
});

test('property: the tolerance boundary agrees with a plain float64 computation', () => {
  fc.assert(
    fc.property(
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (t, p, tol) => {
        const want = Math.abs(p - t) <= tol * Math.abs(t) ? 1 : 0;
        assert.is(chartReward(String(p), String(t), { tolerance: tol }), want);
        assert.is(chartReward(`<answer>${p}</answer>`, t, { tolerance: tol }), want);
      },
    ),
    { numRuns: 2000 },
  );
});

test('property: values exactly at t(1 ± tol) are accepted, one ulp-ish step beyond rejected', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(0.01, 0.05, 0.1, 0.25), (ti, tol) => {
      const t = ti;
      const edge = t + tol * t;
      // Reference in float64: whatever the computed edge is, the rule decides on |edge - t| <= tol·t.
      const want = Math.abs(edge - t) <= tol * Math.abs(t) ? 1 : 0;
      assert.is(chartReward(String(edge), t, { tolerance: tol }), want);
      assert.is(chartReward(String(t + tol * t * 1.001 + 1e-9), t, { tolerance: tol }), 0);
      assert.is(chartReward(String(t + tol * t * 0.999), t, { tolerance: tol }), 1);
    }),
  );
});

test('property: thousands separators, currency and % do not change the value', () => {
  const group = (n: number): string => n.toLocaleString('en-US');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e12 }), fc.constantFrom('', '$', '€', '£', '¥'), fc.boolean(), fc.boolean(), (n, cur, pct, neg) => {
      const s = `${neg ? '-' : ''}${cur}${group(n)}${pct ? '%' : ''}`;
      assert.is(parseChartNumber(s), neg ? -n : n);
      assert.is(chartReward(s, String(neg ? -n : n), { tolerance: 0 }), 1);
    }),
  );
});

test('property: chartReward never throws on arbitrary responses', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.oneof(fc.string({ maxLength: 10 }), fc.double({ noNaN: true, noDefaultInfinity: true })), (r, a) => {
      const v = chartReward(r, a);
      assert.ok(v === 0 || v === 1);
    }),
    { numRuns: 2000 },
  );
});

test.run();
