import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { extractAnswer, lastBoxed } from '../lib/text/extractAnswer.js';
import { formatReward } from '../lib/rewards/format.js';
import { norm, parseChartNumber, parsePlainNumber, stripPunctuationEdges } from '../lib/text/normalize.js';
import { InvalidArgumentError } from '../lib/errors.js';

// ---------------------------------------------------------------- extractAnswer, rule 1

const answerCases: [string, string][] = [
  ['<answer>42</answer>', '42'],
  ['<answer>  42 \n</answer>', '42'],
  ['<think>hmm</think><answer>B</answer>', 'B'],
  ['<answer>first</answer> text <answer>second</answer>', 'second'],
  ['<ANSWER>up</ANSWER>', 'up'],
  ['<Answer>mixed</aNsWeR>', 'mixed'],
  ['<answer>line one\nline two\n</answer>', 'line one\nline two'],
  // An incomplete last block does not count: the last complete one does.
  ['<answer>done</answer> <answer>trunc', 'done'],
  // A nearer opening tag starts the block; a stray closing tag closes nothing.
  ['<answer>a<answer>b</answer>', 'b'],
  ['<answer>x</answer> </answer>', 'x'],
  // An empty block is still the answer (rule 1 wins over \boxed).
  ['\\boxed{5} <answer>  </answer>', ''],
  ['<answer>\\boxed{7}</answer>', '\\boxed{7}'],
  // Answer block beats a later \boxed.
  ['<answer>3</answer> \\boxed{4}', '3'],
];
for (const [input, want] of answerCases) {
  test(`extractAnswer answer block: ${JSON.stringify(input)}`, () => {
    assert.is(extractAnswer(input), want);
  });
}

// ---------------------------------------------------------------- rule 2 (\boxed)

const boxedCases: [string, string][] = [
  ['The result is \\boxed{5}.', '5'],
  ['\\boxed{ 5 }', '5'],
  ['\\boxed{\\frac{1}{2}}', '\\frac{1}{2}'],
  ['\\boxed{a{b{c}}d}', 'a{b{c}}d'],
  ['\\boxed{1} then \\boxed{2}', '2'],
  // The last \boxed by position, so the inner one of a nested pair.
  ['\\boxed{\\boxed{1}}', '1'],
  // An unclosed last \boxed (truncated response): the last complete one.
  ['\\boxed{1} and \\boxed{2', '1'],
  ['\\boxed{1} and \\boxed{{2}', '1'],
  // Escaped braces are LaTeX literals.
  ['\\boxed{\\{1,2\\}}', '\\{1,2\\}'],
  ['{ \\boxed{x} }', 'x'],
  ['} } \\boxed{y}', 'y'],
  ['<answer>no close \\boxed{9}', '9'],
  ['<think>\\boxed{1}</think> final \\boxed{2}', '2'],
  ['\\boxed{}', ''],
];
for (const [input, want] of boxedCases) {
  test(`extractAnswer boxed: ${JSON.stringify(input)}`, () => {
    assert.is(extractAnswer(input), want);
  });
}

// ---------------------------------------------------------------- rule 3

const restCases: [string, string][] = [
  ['  plain text  ', 'plain text'],
  ['', ''],
  ['<think>reasoning</think>  The answer is 4. ', 'The answer is 4.'],
  ['<think>a</think> b </think> c', 'c'],
  ['<think>a</THINK> upper', 'upper'],
  ['\\boxed{unclosed', '\\boxed{unclosed'],
  ['<think>only thinking', '<think>only thinking'],
  ['<answer>open only', '<answer>open only'],
  ['</answer>close only', '</answer>close only'],
];
for (const [input, want] of restCases) {
  test(`extractAnswer fallback: ${JSON.stringify(input)}`, () => {
    assert.is(extractAnswer(input), want);
  });
}

test('extractAnswer rejects non-strings with InvalidArgumentError', () => {
  for (const bad of [undefined, null, 42, {}, ['x']]) {
    try {
      extractAnswer(bad as unknown as string);
      assert.unreachable('should throw');
    } catch (e) {
      assert.instance(e, InvalidArgumentError);
      assert.instance(e, TypeError);
      assert.is((e as InvalidArgumentError).code, 'ERR_INVALID_ARG');
      assert.match((e as Error).message, /response/);
    }
  }
});

test('lastBoxed returns null without a complete \\boxed', () => {
  assert.is(lastBoxed('no box'), null);
  assert.is(lastBoxed('\\boxed{'), null);
  assert.is(lastBoxed('\\boxed 5'), null);
});

function timeMs(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

test('extractAnswer is linear on adversarial inputs (10 MB in well under a second each)', () => {
  const n = 2_000_000;
  const inputs = [
    '<answer>'.repeat(n / 8),
    '\\boxed{'.repeat(n / 7),
    '\\boxed{' + '{'.repeat(n),
    '<answer>x</answer>'.repeat(n / 18) + '<answer',
    '</think>'.repeat(n / 8),
    '<'.repeat(n) + 'answer',
    'a'.repeat(5 * n),
  ];
  for (const s of inputs) {
    const ms = timeMs(() => extractAnswer(s));
    assert.ok(ms < 1500, `took ${ms} ms on ${JSON.stringify(s.slice(0, 20))}…`);
  }
});

test('property: extractAnswer never throws, returns a trimmed substring', () => {
  const piece = fc.oneof(
    fc.constantFrom('<answer>', '</answer>', '<ANSWER>', '</think>', '<think>', '\\boxed{', '{', '}', '\\', ' ', '\n'),
    fc.string({ unit: 'binary', maxLength: 6 }),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }).map((p) => p.join('')), (s) => {
      const out = extractAnswer(s);
      assert.type(out, 'string');
      assert.is(out, out.trim());
      assert.ok(s.includes(out));
    }),
    { numRuns: 2000 },
  );
});

test('property: the last of several answer blocks wins', () => {
  const content = fc.string({ maxLength: 12 }).filter((s) => !/<\/?answer>/i.test(s) && !s.includes('<'));
  fc.assert(
    fc.property(fc.array(content, { minLength: 1, maxLength: 5 }), fc.string({ maxLength: 10 }), (blocks, junk) => {
      const clean = junk.replace(/</g, '');
      const s = blocks.map((b) => `${clean}<answer>${b}</answer>`).join('') + clean;
      assert.is(extractAnswer(s), (blocks[blocks.length - 1] as string).trim());
    }),
  );
});

// ---------------------------------------------------------------- formatReward

const formatCases: [string, 0 | 1, boolean?][] = [
  ['<think>x</think><answer>y</answer>', 1],
  ['<think>x</think> \n <answer>y</answer>', 1],
  ['  \n<think>x</think><answer>y</answer>\n ', 1],
  ['<think></think><answer>y</answer>', 1],
  ['<think>multi\nline</think>\n<answer>\nB\n</answer>', 1],
  ['<think>x</think><answer> </answer>', 0],
  ['<think>x</think><answer></answer>', 0],
  ['<think>x</think><answer>y</answer> trailing', 0],
  ['lead <think>x</think><answer>y</answer>', 0],
  ['<think>x</think> text <answer>y</answer>', 0],
  ['<think>x</think><answer>y</answer><answer>z</answer>', 0],
  ['<think>x</think><answer>y<answer>z</answer>', 0],
  ['<think>x<think>x</think><answer>y</answer>', 0],
  ['<think>x</think></think><answer>y</answer>', 0],
  ['<think>x</think><answer>y</answer></answer>', 0],
  ['<THINK>x</THINK><ANSWER>y</ANSWER>', 0],
  ['<think>x</think><Answer>y</Answer>', 0],
  ['<think>x <ANSWER>z</ANSWER></think><answer>y</answer>', 0],
  ['<answer>y</answer>', 0],
  ['<think>x</think>', 0],
  ['<think>x</think>y', 0],
  ['<answer>y</answer><think>x</think>', 0],
  ['<think>x</think><answer>y</think></answer>', 0],
  ['', 0],
  ['x</think><answer>y</answer>', 0],
  // thinkPrefilled: the leading <think> may be absent, or present.
  ['x</think><answer>y</answer>', 1, true],
  ['</think><answer>y</answer>', 1, true],
  ['<think>x</think><answer>y</answer>', 1, true],
  ['x<think>x</think><answer>y</answer>', 0, true],
  ['x</think><answer>y</answer>z', 0, true],
  ['x</think><answer> </answer>', 0, true],
  ['x <think> y</think><answer>z</answer>', 0, true],
  ['<answer>y</answer>', 0, true],
  ['x</think></think><answer>y</answer>', 0, true],
];
for (const [input, want, prefilled] of formatCases) {
  test(`formatReward${prefilled ? ' (prefilled)' : ''}: ${JSON.stringify(input)} -> ${want}`, () => {
    assert.is(formatReward(input, prefilled === undefined ? undefined : { thinkPrefilled: prefilled }), want);
  });
}

test('formatReward argument errors', () => {
  assert.throws(() => formatReward(5 as unknown as string), (e: unknown) => e instanceof InvalidArgumentError);
  assert.throws(
    () => formatReward('x', { thinkPrefilled: 'yes' as unknown as boolean }),
    (e: unknown) => e instanceof InvalidArgumentError && /thinkPrefilled/.test((e as Error).message),
  );
  assert.is(formatReward('<think>x</think><answer>y</answer>', {}), 1);
});

test('property: a generated well-formed response scores 1, and breaking it scores 0', () => {
  const body = fc.string({ maxLength: 30 }).filter((s) => !/<\/?(think|answer)>/i.test(s));
  const ws = fc.constantFrom('', ' ', '\n', '\n\n', '\t ');
  fc.assert(
    fc.property(body, body, ws, ws, ws, fc.boolean(), (x, y, w1, w2, w3, prefilled) => {
      fc.pre(y.trim().length > 0);
      const good = `${w1}<think>${x}</think>${w2}<answer>${y}</answer>${w3}`;
      assert.is(formatReward(good), 1);
      assert.is(formatReward(good, { thinkPrefilled: prefilled }), 1);
      assert.is(formatReward(`${x}</think>${w2}<answer>${y}</answer>`, { thinkPrefilled: true }), 1);
      assert.is(formatReward(good + '<answer>y</answer>'), 0);
      assert.is(formatReward(good + ' z'), 0);
      assert.is(formatReward('z ' + good), 0);
    }),
    { numRuns: 500 },
  );
});

test('property: formatReward never throws on arbitrary strings', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.boolean(), (s, p) => {
      const r = formatReward(s, { thinkPrefilled: p });
      assert.ok(r === 0 || r === 1);
    }),
  );
});

test('formatReward is fast on a 10 MB response full of tags', () => {
  const s = '<think>' + '</answer>'.repeat(1_000_000);
  assert.ok(timeMs(() => formatReward(s)) < 1500);
  const t = '<think>' + 'x'.repeat(10_000_000) + '</think><answer>y</answer>';
  assert.ok(timeMs(() => assert.is(formatReward(t), 1)) < 1500);
});

// ---------------------------------------------------------------- norm and number helpers

const normCases: [string, string][] = [
  ['  Hello   World  ', 'hello world'],
  ['**Bold**', 'bold'],
  ['`code`', 'code'],
  ['_it_', 'it'],
  ['"Yes."', 'yes'],
  ['(B)', 'b'],
  ['[B]', 'b'],
  ['¿Qué?', 'qué'],
  ['«word»', 'word'],
  ['a\t\nb', 'a b'],
  ['C++', 'c++'],
  ['$5', '$5'],
  ['...', ''],
  ['-3', '3'],
  ['snake_case', 'snakecase'],
  ['A. the cat!', 'a. the cat'],
];
for (const [input, want] of normCases) {
  test(`norm(${JSON.stringify(input)}) = ${JSON.stringify(want)}`, () => {
    assert.is(norm(input), want);
  });
}

test('stripPunctuationEdges handles astral punctuation and leaves inner text', () => {
  assert.is(stripPunctuationEdges('𐄀yes𐄀'), 'yes'); // U+10100 AEGEAN WORD SEPARATOR LINE is \p{Po}
  assert.is(stripPunctuationEdges('yes/no'), 'yes/no');
  assert.is(stripPunctuationEdges('!!!'), '');
});

test('norm is linear on long punctuation runs', () => {
  const s = '!'.repeat(3_000_000) + 'a' + '!'.repeat(3_000_000) + ' x';
  const ms = timeMs(() => assert.is(norm(s), s.slice(3_000_000)));
  assert.ok(ms < 2000, `took ${ms} ms`);
});

const plainNumberCases: [string, number | null][] = [
  ['3', 3],
  ['3.0', 3],
  ['-3', -3],
  ['+3', 3],
  ['\u22123', -3],
  ['.5', 0.5],
  ['5.', 5],
  ['1e3', 1000],
  ['1.5E-2', 0.015],
  ['1,234', 1234],
  ['**42**', 42],
  ['42.', 42],
  ['12,34', null],
  ['1,2345', null],
  ['$5', null],
  ['5%', null],
  ['3 apples', null],
  ['', null],
  ['-', null],
  ['1e999', null],
  ['Infinity', null],
  ['NaN', null],
  ['0x10', null],
  ['--3', null],
];
for (const [input, want] of plainNumberCases) {
  test(`parsePlainNumber(${JSON.stringify(input)}) = ${want}`, () => {
    assert.is(parsePlainNumber(input), want);
  });
}

test('parseChartNumber is exported from normalize too', () => {
  assert.is(parseChartNumber('$1,234.5'), 1234.5);
});

test.run();
