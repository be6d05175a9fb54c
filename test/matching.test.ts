import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { matchingReward, phraseLetters, predictLetter, predictYesNo } from '../lib/rewards/matching.js';
import { InvalidArgumentError } from '../lib/errors.js';
import { norm } from '../lib/text/normalize.js';

type Case = [response: string, answer: string, want: 0 | 1, choices?: string[]];

function run(group: string, cases: Case[]): void {
  for (const [response, answer, want, choices] of cases) {
    const label = `${group}: ${JSON.stringify(response)} vs ${JSON.stringify(answer)}${choices ? ' ' + JSON.stringify(choices) : ''} -> ${want}`;
    test(label, () => {
      assert.is(matchingReward(response, answer, choices ? { choices } : undefined), want);
    });
  }
}

// ---------------------------------------------------------------- yes / no

run('yes/no', [
  ['yes', 'yes', 1],
  ['Yes', 'yes', 1],
  ['YES.', 'Yes', 1],
  ['**Yes**', 'yes', 1],
  ['<answer>No</answer>', 'no', 1],
  ['<answer>No</answer>', 'yes', 0],
  ['Yes, the cat is on the mat.', 'yes', 1],
  ['No, there is no dog, yes really', 'no', 1], // first token decides
  ['Yes, no doubt', 'yes', 1],
  ['"Yes"', 'yes', 1],
  ['The answer is yes.', 'yes', 1], // first token `the`; only `yes` occurs as a word
  ['I think no.', 'no', 1],
  ['I think no.', 'yes', 0],
  ['yes/no', 'yes', 0], // one token `yes/no`; both words occur -> none
  ['yes/no', 'no', 0],
  ['It could be yes or no', 'yes', 0],
  ['It could be yes or no', 'no', 0],
  ['eyes', 'yes', 0], // not a whole word
  ['I know', 'no', 0],
  ['nope', 'no', 0],
  ['Definitely not', 'no', 0],
  ['', 'yes', 0],
  ['<think>yes</think>', 'yes', 0],
  ['<think>thinking</think>yes', 'yes', 1],
  ['\\boxed{\\text{Yes}}', 'yes', 1],
  ['\\boxed{Yes}', 'Yes.', 1],
  ['true', 'true', 1],
  ['False.', 'false', 1],
  ['The statement is true', 'True', 1],
  ['true or false', 'true', 1], // the first token decides (SPEC §3)
  ['Maybe true or false', 'true', 0],
  ['yes', 'true', 0], // the pair is true/false
  ['no', 'false', 0],
  ['True', 'yes', 0],
  ['Yes!', 'YES', 1],
  ['yes-no', 'yes', 0],
]);

test('predictYesNo follows the first-token then one-whole-word rule', () => {
  const yn = ['yes', 'no'] as const;
  assert.is(predictYesNo('yes', yn), 'yes');
  assert.is(predictYesNo('(no) because', yn), 'no');
  assert.is(predictYesNo('maybe', yn), null);
  assert.is(predictYesNo('the answer: no', yn), 'no');
  assert.is(predictYesNo('yes/no', yn), null);
  assert.is(predictYesNo('both yes and no', yn), null);
});

// ---------------------------------------------------------------- choice letters, rule 1

run('letter rule 1', [
  ['B', 'B', 1],
  ['b', 'B', 1],
  ['(b)', 'B', 1],
  ['[B]', 'B', 1],
  ['B.', 'B', 1],
  ['B)', 'B', 1],
  ['**B**', 'B', 1],
  ['`B`', 'B', 1],
  ['  B  ', 'B', 1],
  ['<answer>(C)</answer>', 'C', 1],
  ['\\boxed{D}', 'D', 1],
  ['\\boxed{\\text{D}}', 'D', 1],
  ['B', '(B)', 1],
  ['B', 'B.', 1],
  ['B', 'B)', 1],
  ['B', 'b', 1],
  ['A', 'B', 0],
  ['(a)', 'B', 0],
]);

// ---------------------------------------------------------------- rule 2

run('letter rule 2', [
  ['B. a cat', 'B', 1],
  ['(C) the dog', 'C', 1],
  ['D) 42', 'D', 1],
  ['[A] apples', 'A', 1],
  ['B: the red one', 'B', 1],
  ['**B.** a cat', 'B', 1],
  ['(C) the dog', 'B', 0],
  ['A cat sat', 'A', 0], // no marker punctuation after the letter
  ['b. a cat', 'B', 0], // rule 2 needs an upper-case letter; `b. a cat` is not a lone letter either
  ['U.S. is big', 'U', 0],
  // Listing options is a hedge: no prediction.
  ['A. cat\nB. dog\nC. bird\nD. fish', 'A', 0],
  ['A. cat B. dog', 'A', 0],
  ['A. cat B. dog', 'B', 0],
  ['(A) cat (B) dog', 'A', 0],
  ['(A) or (B)', 'A', 0],
  ['(B) cat, the answer is C', 'B', 0],
  ['(B) cat, the answer is C', 'C', 0],
  ['(B) cat, so the answer is B.', 'B', 1],
  ['(B) f(x) grows', 'B', 1], // `f(x)` is not an option marker
]);

// ---------------------------------------------------------------- rule 3

run('letter rule 3', [
  ['The answer is B', 'B', 1],
  ['the answer is (b)', 'B', 1],
  ['Answer: (B)', 'B', 1],
  ['answer: B', 'B', 1],
  ['Option C', 'C', 1],
  ['option C is right', 'C', 1],
  ['choice D', 'D', 1],
  ['The correct answer is option C.', 'C', 1],
  ['The answer is **C**.', 'C', 1],
  ['The answer is [D], since …', 'D', 1],
  ['I pick choice: b.', 'B', 1],
  ['answer is a.', 'A', 1], // lower-case followed by punctuation
  ['the final answer is d', 'D', 1], // lower-case at the end of the text
  ['The answer is a cat', 'A', 0], // names no letter
  ['the answer is a cat', 'B', 0],
  ['The answer is A or B', 'A', 0],
  ['The answer is A or B', 'B', 0],
  ['the answer is A, B', 'A', 0],
  ['the answer is (A) and (B)', 'A', 0],
  ['answer: A/B', 'A', 0],
  ['The answer is A. Wait, the answer is B.', 'B', 0],
  ['The answer is A, because it is big', 'A', 1],
  ['The answer is not A', 'A', 0],
  ['Answer: I think B', 'B', 0], // pronoun `I` names no letter; no phrase names B
  ['The options are A and B', 'A', 0], // `options` is not the phrase
  ['A or B', 'A', 0],
  ['A, B', 'A', 0],
  ['A and B', 'B', 0],
  ['A/B', 'A', 0],
  ['', 'A', 0],
  ['   ', 'A', 0],
]);

test('phraseLetters collects every letter named by a phrase', () => {
  assert.equal([...phraseLetters('the answer is A or B')].sort(), ['A', 'B']);
  assert.equal([...phraseLetters('answer: (c)')], ['C']);
  assert.equal([...phraseLetters('the answer is a cat')], []);
  assert.equal([...phraseLetters('Option A, option B, option C')].sort(), ['A', 'B', 'C']);
});

// ---------------------------------------------------------------- rule 4 (choices)

const animals = ['a cat', 'a dog', 'a bird', 'a fish'];
run('letter rule 4', [
  ['a dog', 'B', 1, animals],
  ['A dog.', 'B', 1, animals],
  ['**a bird**', 'C', 1, animals],
  ['It is a fish', 'D', 1, animals],
  ['It is a fish', 'A', 0, animals],
  ['a cat or a dog', 'A', 0, animals], // two options occur
  ['a cat, a dog, a bird, a fish', 'A', 0, animals], // all options listed
  ['an elephant', 'A', 0, animals],
  ['dogs', 'B', 0, ['cat', 'dog']], // whole words only
  ['10', 'B', 1, ['1', '10']],
  ['1', 'A', 1, ['1', '10']],
  ['cat', 'A', 1, ['A. cat', 'B. dog']], // the option's own marker is not its text
  ['dog', 'B', 1, ['(A) cat', '(B) dog']],
  ['Red', 'A', 1, ['red', 'blue', '']],
  ['blue', 'B', 1, ['red', 'blue', '']],
  // Earlier rules come first.
  ['C', 'C', 1, animals],
  ['The answer is B, a dog', 'B', 1, animals],
  ['The answer is A or B', 'A', 0, animals],
  ['a dog', 'B', 0], // no choices: no prediction
]);

test('predictLetter returns null on hedges and the letter otherwise', () => {
  const p = (s: string, c?: string[]): string | null => predictLetter(s, norm(s), c);
  assert.is(p('B'), 'B');
  assert.is(p('A or B'), null);
  assert.is(p('the answer is a cat'), null);
  assert.is(p('a dog', animals), 'B');
  assert.is(p('A. cat\nB. dog'), null);
});

test('a response that lists every option scores 0 for every answer letter', () => {
  const responses = [
    'A. a cat\nB. a dog\nC. a bird\nD. a fish',
    '(A) a cat (B) a dog (C) a bird (D) a fish',
    'The answer is A, B, C or D',
    'A, B, C, D',
    'A or B or C or D',
    'a cat, a dog, a bird or a fish',
    'Option A, option B, option C, option D',
    '<answer>A</answer><answer>B</answer><answer>C D</answer>',
  ];
  for (const r of responses) {
    for (const letter of ['A', 'B', 'C', 'D']) {
      assert.is(matchingReward(r, letter, { choices: animals }), 0, `${r} / ${letter}`);
    }
  }
});

// ---------------------------------------------------------------- free-form

run('free-form', [
  ['3', '3', 1],
  ['3.0', '3', 1],
  ['3', '3.00', 1],
  ['-3', '3', 0],
  ['3', '-3', 0],
  ['1e3', '1000', 1],
  ['1,000', '1000', 1],
  ['42.', '42', 1],
  ['**7**', '7', 1],
  ['7 apples', '7', 0],
  ['seven', '7', 0],
  ['Paris', 'paris', 1],
  ['Paris.', 'Paris', 1],
  ['**Paris**', 'paris', 1],
  ['The Eiffel  Tower', 'the eiffel tower', 1],
  ['paris, france', 'paris', 0],
  ['C++', 'c++', 1],
  ['C', 'c++', 0],
  ['red car', 'red  car!', 1],
  ['', '', 0],
  ['x', '', 0],
  ['<answer>  </answer>', 'blue', 0],
  ['<think>the answer is 5</think>5', '5', 1],
]);

// ---------------------------------------------------------------- errors, speed, properties

test('argument errors are InvalidArgumentError naming the argument', () => {
  const bad: [() => unknown, RegExp][] = [
    [() => matchingReward(1 as unknown as string, 'A'), /response/],
    [() => matchingReward('A', 1 as unknown as string), /answer/],
    [() => matchingReward('A', undefined as unknown as string), /answer/],
    [() => matchingReward('A', 'A', { choices: 'AB' as unknown as string[] }), /choices/],
    [() => matchingReward('A', 'A', { choices: ['x', 2 as unknown as string] }), /choices\[1\]/],
  ];
  for (const [fn, re] of bad) {
    try {
      fn();
      assert.unreachable('should throw');
    } catch (e) {
      assert.instance(e, InvalidArgumentError);
      assert.is((e as InvalidArgumentError).code, 'ERR_INVALID_ARG');
      assert.match((e as Error).message, re);
    }
  }
});

function timeMs(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

test('huge and adversarial responses score fast', () => {
  const n = 1_000_000;
  const inputs = [
    'answer '.repeat(n),
    'answer is option '.repeat(n / 4) + 'B',
    'the answer is A or '.repeat(n / 4),
    '(A) '.repeat(n),
    'A. '.repeat(n),
    'yes '.repeat(n),
    '!'.repeat(5 * n) + 'B',
    'answer' + ' '.repeat(5 * n),
    '\\text{'.repeat(n),
  ];
  for (const s of inputs) {
    for (const [answer, choices] of [['B', animals], ['yes', undefined], ['paris', undefined]] as const) {
      const ms = timeMs(() => matchingReward(s, answer, choices ? { choices: [...choices] } : undefined));
      assert.ok(ms < 3000, `took ${ms} ms on ${JSON.stringify(s.slice(0, 20))}… / ${answer}`);
    }
  }
});

test('property: matchingReward never throws and returns 0 or 1', () => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc
      .array(fc.constantFrom('A', 'b', '(', ')', '.', ' ', 'answer', 'is', 'or', 'yes', 'no', '**', '<answer>', '</answer>', '\\boxed{', '}', ','), { maxLength: 20 })
      .map((a) => a.join('')),
  );
  fc.assert(
    fc.property(text, text, fc.option(fc.array(fc.string({ maxLength: 8 }), { maxLength: 5 }), { nil: undefined }), (r, a, c) => {
      const v = matchingReward(r, a, c ? { choices: c } : undefined);
      assert.ok(v === 0 || v === 1);
    }),
    { numRuns: 2000 },
  );
});

test('property: a lone wrapped letter matches its own letter and no other', () => {
  const wrap = fc.constantFrom((l: string) => l, (l: string) => `(${l})`, (l: string) => `[${l}]`, (l: string) => `${l}.`, (l: string) => `${l})`, (l: string) => `**${l}**`);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 25 }), wrap, fc.boolean(), (i, j, w, lower) => {
      const l = String.fromCharCode(65 + i);
      const r = w(lower ? l.toLowerCase() : l);
      assert.is(matchingReward(r, String.fromCharCode(65 + j)), i === j ? 1 : 0);
    }),
  );
});

test('property: hedging two different letters never scores', () => {
  const join = fc.constantFrom(' or ', ', ', ' and ', '/');
  const lead = fc.constantFrom('', 'The answer is ', 'answer: ', 'Option ');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 }), join, lead, (i, j, jn, ld) => {
      fc.pre(i !== j);
      const a = String.fromCharCode(65 + i);
      const b = String.fromCharCode(65 + j);
      const r = `${ld}${a}${jn}${b}`;
      assert.is(matchingReward(r, a), 0, r);
      assert.is(matchingReward(r, b), 0, r);
    }),
  );
});

test('property: plain numbers compare numerically', () => {
  fc.assert(
    fc.property(fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: 0, max: 3 }), (v, zeros) => {
      const s = zeros === 0 ? String(v) : `${v}.${'0'.repeat(zeros)}`;
      assert.is(matchingReward(s, String(v)), 1);
      assert.is(matchingReward(String(v + 1), String(v)), 0);
    }),
  );
});

test.run();
