/** mixedReward (SPEC §7) and openEndedReward: weighting, batching, malformed samples. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  EmbeddingTable, mixedReward, openEndedReward, bmas, SampleError, MixedRewardError, backends,
  BackendUnavailableError, ValueRangeError, type TextTokenizer, type Sample,
} from '../lib/index.js';

/** A tokenizer over single letters a..z (id = letter index); everything else is skipped, except
 * '#', a control token (id 26) that must be left out of scoring. */
const letters: TextTokenizer = {
  encode(text: string): Int32Array {
    const ids: number[] = [];
    for (const ch of text.toLowerCase()) {
      if (ch >= 'a' && ch <= 'z') ids.push(ch.charCodeAt(0) - 97);
      else if (ch === '#') ids.push(26);
    }
    return Int32Array.from(ids);
  },
  controlIds: new Set([26]),
};

function letterTable(): EmbeddingTable {
  const V = 27, dim = 5;
  const data = Float32Array.from({ length: V * dim }, (_, i) => Math.sin(i * 0.9) + ((i * 7) % 3));
  return EmbeddingTable.fromArray(data, V, dim, { tokenizer: letters, name: 'letters' });
}

/** CUDA's exact mode is held to the SPEC's 1e-4; js and cpu agree to f32 rounding. */
const TOL = backends().cuda.available ? 1e-4 : 1e-6;

const ids = (s: string): Int32Array => letters.encode(s).filter((x) => x !== 26);

test('each task scores with accuracy + format, default weights 1 and 1', async () => {
  const table = letterTable();
  const samples: Sample[] = [
    { task: 'matching', response: '<think>easy</think><answer>B</answer>', answer: 'B', id: 'm1' },
    { task: 'matching', response: '<think>easy</think><answer>C</answer>', answer: 'B' },
    { task: 'chart', response: '<think>read the bar</think> <answer>$1,234</answer>', answer: 1234 },
    { task: 'iou', response: '<answer>[0, 0, 10, 10]</answer>', answer: [[0, 0, 10, 5]] },
    { task: 'open-ended', response: '<think>t</think><answer>cab</answer>', answer: 'abc', id: 7 },
  ];
  const r = await mixedReward(samples, { table });
  assert.equal(r[0], { task: 'matching', reward: 2, accuracy: 1, format: 1, id: 'm1' });
  assert.equal(r[1], { task: 'matching', reward: 1, accuracy: 0, format: 1 });
  assert.equal(r[2], { task: 'chart', reward: 2, accuracy: 1, format: 1 });
  assert.is(r[3].format, 0);
  assert.ok(Math.abs(r[3].accuracy - 0.5) < 1e-9);
  assert.ok(Math.abs(r[3].reward - 0.5) < 1e-9);
  // Same multiset of letters: every row and column max is 1.
  assert.ok(Math.abs(r[4].accuracy - 1) < TOL);
  assert.is(r[4].id, 7);
});

test('weights, thinkPrefilled and open-ended batching', async () => {
  const table = letterTable();
  const refs = ['hello world', 'quick brown fox'];
  const samples: Sample[] = [];
  for (let p = 0; p < 2; p++) {
    for (const resp of ['hello there', 'brown fox', '', 'zzz #']) {
      samples.push({ task: 'open-ended', response: `think</think><answer>${resp}</answer>`, answer: refs[p] });
    }
  }
  const r = await mixedReward(samples, { table, weights: { accuracy: 2, format: 0.5 }, thinkPrefilled: true });
  samples.forEach((s, i) => {
    const resp = /<answer>(.*)<\/answer>/.exec(s.response)![1];
    const want = bmas(table, ids(resp), ids(s.answer as string));
    assert.ok(Math.abs(r[i].accuracy - want) < TOL, `sample ${i}`);
    assert.ok(Math.abs(r[i].reward - (2 * want + 0.5 * r[i].format)) < TOL);
    assert.ok(Math.abs(openEndedReward(s.response, s.answer as string, { table }) - want) < TOL);
  });
  // thinkPrefilled: the leading <think> may be absent.
  assert.is(r[0].format, 1);
  // Empty answer scores 0; the control token '#' is not scored.
  assert.is(r[2].accuracy, 0);
  assert.ok(Math.abs(r[3].accuracy - bmas(table, ids('zzz'), ids(refs[0]))) < TOL);
});

test('malformed samples throw SampleError naming the index, or score 0 with onError zero', async () => {
  const bad: unknown[] = [
    { task: 'matching', response: 'yes', answer: 'yes' },
    { task: 'poetry', response: 'x', answer: 'y' },
    { task: 'chart', response: 'x' },
    { task: 'iou', response: 'x', answer: { x: 1 } },
    { task: 'matching', response: 42, answer: 'yes' },
    null,
  ];
  for (let i = 1; i < bad.length; i++) {
    try {
      await mixedReward([bad[0], bad[i]] as Sample[]);
      assert.unreachable(`sample ${i} should throw`);
    } catch (err) {
      assert.instance(err, SampleError);
      assert.instance(err, MixedRewardError);
      assert.is((err as SampleError).code, 'ERR_BAD_SAMPLE');
      assert.is((err as SampleError).index, 1);
      assert.match((err as Error).message, /samples\[1\]/);
    }
  }
  const r = await mixedReward(bad as Sample[], { onError: 'zero' });
  assert.is(r.length, bad.length);
  assert.is(r[0].accuracy, 1);
  assert.is(r[0].error, undefined);
  for (let i = 1; i < bad.length; i++) {
    assert.is(r[i].reward, 0);
    assert.ok(typeof r[i].error === 'string' && r[i].error!.length > 0);
  }
  assert.is(r[1].task, 'poetry');
});

test('any response string is valid input', async () => {
  const table = letterTable();
  const junk = ['', '\u0000\uffff', '<answer>', '</answer><answer>', '\\boxed{', 'x'.repeat(200_000), '<think><think></think>'];
  for (const response of junk) {
    const r = await mixedReward(
      (['matching', 'chart', 'iou', 'open-ended'] as const).map((task) => ({ task, response, answer: task === 'iou' ? [0, 0, 1, 1] : 'a' })) as Sample[],
      { table },
    );
    for (const x of r) assert.ok(Number.isFinite(x.reward) && x.error === undefined);
  }
});

test('bad options throw', async () => {
  await mixedReward([], { tolerance: -1 }).then(() => assert.unreachable(), (e) => assert.instance(e, ValueRangeError));
  await mixedReward([], { iouThreshold: 0 }).then(() => assert.unreachable(), (e) => assert.instance(e, ValueRangeError));
  if (!backends().cuda.available) {
    await mixedReward([], { backend: 'cuda' }).then(() => assert.unreachable(), (e) => assert.instance(e, BackendUnavailableError));
  }
});

test.run();
