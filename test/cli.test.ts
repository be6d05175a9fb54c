/**
 * The real `mixed-reward` executable (dist/lib/cli/main.js) run on files in a temp dir.
 * Expected rewards are worked out by hand in the comments.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'mixed-reward-cli-'));

function run(args: string[], input?: string, extraNodeArgs: string[] = []): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...extraNodeArgs, MAIN, ...args], {
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, MIXED_REWARD_DEBUG: '' },
  });
}

function write(name: string, lines: (string | object)[], eol = '\n'): string {
  const file = path.join(TMP, name);
  fs.writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join(eol) + eol);
  return file;
}

function parseOut(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const GOOD = '<think>the bar is blue</think><answer>B</answer>';

test('--version prints the version of package.json', () => {
  const r = run(['--version']);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.is(r.status, 0);
  assert.is(r.stdout.trim(), pkg.version);
});

test('--help lists the commands; score --help lists the options', () => {
  const r = run(['--help']);
  assert.is(r.status, 0);
  for (const c of ['score', 'serve', 'bench']) assert.ok(r.stdout.includes(c), c);
  const s = run(['score', '--help']);
  assert.is(s.status, 0);
  for (const o of ['--output', '--model', '--backend', '--format-weight', '--batch-size']) assert.ok(s.stdout.includes(o), o);
});

test('usage errors exit 2 with a message and no stack trace', () => {
  const cases: string[][] = [
    [],
    ['frobnicate'],
    ['score'],
    ['score', 'a.jsonl', 'b.jsonl'],
    ['score', 'x.jsonl', '--no-such-flag'],
    ['score', 'x.jsonl', '--backend', 'tpu'],
    ['score', 'x.jsonl', '--format-weight', 'heavy'],
    ['score', 'x.jsonl', '--batch-size', '0'],
    ['score', 'x.jsonl', '--default-task', 'poetry'],
    ['serve', '--port', '70000'],
    ['serve', '--body-limit', 'lots'],
  ];
  for (const args of cases) {
    const r = run(args);
    assert.is(r.status, 2, `exit code of ${args.join(' ')}`);
    assert.ok(r.stderr.length > 0, `message for ${args.join(' ')}`);
    assert.not.match(r.stderr, /\n\s+at /, `stack trace for ${args.join(' ')}`);
  }
});

test('a missing input file exits 1 with its name', () => {
  const r = run(['score', path.join(TMP, 'nope.jsonl')]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /nope\.jsonl/);
  assert.not.match(r.stderr, /\n\s+at /);
});

test('scores each task and writes one line per input line, in order', () => {
  const file = write('basic.jsonl', [
    // format 1, letter B matches: 1 + 1
    { id: 'a', task: 'matching', response: GOOD, answer: 'B' },
    // |1234 - 1200| = 34 <= 0.05 * 1200 = 60: accuracy 1; format 1
    { task: 'chart', response: '<think>x</think> <answer>$1,234</answer>', answer: '1200' },
    // intersection 5*10 = 50, union 100 + 100 - 50 = 150: IoU 1/3; no tags: format 0
    { task: 'iou', response: '[10, 10, 20, 20]', answer: [[15, 10, 25, 20]] },
    // yes/no, first word "no" != "yes": 0; format 1
    { task: 'matching', response: '<think>t</think><answer>No.</answer>', answer: 'yes' },
  ]);
  const r = run(['score', file]);
  assert.is(r.status, 0, r.stderr);
  const out = parseOut(r.stdout);
  assert.is(out.length, 4);
  assert.equal(out[0], { line: 1, id: 'a', task: 'matching', reward: 2, accuracy: 1, format: 1 });
  assert.equal(out[1], { line: 2, task: 'chart', reward: 2, accuracy: 1, format: 1 });
  assert.is(out[2].task, 'iou');
  assert.ok(Math.abs((out[2].accuracy as number) - 1 / 3) < 1e-6);
  assert.ok(Math.abs((out[2].reward as number) - 1 / 3) < 1e-6);
  assert.is(out[2].format, 0);
  assert.equal(out[3], { line: 4, task: 'matching', reward: 1, accuracy: 0, format: 1 });
  // summary on stderr, per task
  assert.match(r.stderr, /matching\s+2\s+1\.5000\s+0\.5000\s+1\.0000/);
  assert.match(r.stderr, /chart\s+1\s+2\.0000/);
});

test('bad lines get an error line with their number, and the rest goes on (exit 0)', () => {
  const file = write('bad.jsonl', [
    { task: 'matching', response: GOOD, answer: 'B' },
    '',
    'not json {',
    { task: 'poetry', response: 'x', answer: 'y' },
    { task: 'chart', response: '<answer>3</answer>' },
    '[1, 2, 3]',
    { task: 'chart', response: '<answer>3</answer>', answer: { value: 3 } },
    { task: 'matching', response: 42, answer: 'A' },
    { task: 'chart', response: '<think>a</think><answer>3</answer>', answer: 3 },
  ]);
  const r = run(['score', file]);
  assert.is(r.status, 0, r.stderr);
  const out = parseOut(r.stdout);
  assert.is(out.length, 9);
  out.forEach((o, i) => assert.is(o.line, i + 1));
  assert.is(out[0].reward, 2);
  for (const k of [1, 2, 3, 4, 5, 6, 7]) {
    assert.type(out[k].error, 'string', `line ${k + 1}`);
    assert.is(out[k].reward, 0, `line ${k + 1}`);
  }
  assert.match(out[1].error as string, /blank/);
  assert.match(out[2].error as string, /JSON/);
  assert.match(out[3].error as string, /poetry/);
  assert.match(out[4].error as string, /answer/);
  assert.match(out[6].error as string, /answer/);
  assert.match(out[7].error as string, /response/);
  assert.equal(out[8], { line: 9, task: 'chart', reward: 2, accuracy: 1, format: 1 });
  for (const n of [2, 3, 4, 5, 6, 7, 8]) assert.match(r.stderr, new RegExp(`line ${n}:`));
  assert.not.match(r.stderr, /line 1:|line 9:/);
  // batch boundaries do not change anything: the same lines with 2 lines per batch
  const r2 = run(['score', file, '--batch-size', '2', '-q']);
  assert.is(r2.status, 0);
  assert.equal(parseOut(r2.stdout), out);
});

test('field aliases of trainers\' data', () => {
  const file = write('aliases.jsonl', [
    { task: 'chart', completion: '<think>t</think><answer>7</answer>', solution: '7' },
    { task: 'chart', output: '<think>t</think><answer>7</answer>', ground_truth: 7 },
    { task_type: 'chart', response: '<think>t</think><answer>7</answer>', label: '8' },
    { task: 'matching', response: '<think>t</think><answer>the dog</answer>', answer: 'B', options: ['a cat', 'the dog'] },
    // TRL's conversational completions: the last message is the model's turn
    { task: 'chart', completion: [{ role: 'assistant', content: '<think>t</think><answer>7</answer>' }], answer: '7' },
    { task: 'Open_Ended', response: '', answer: 'a dog' },
  ]);
  const r = run(['score', file]);
  assert.is(r.status, 0, r.stderr);
  const out = parseOut(r.stdout);
  assert.equal(out.map((o) => o.reward), [2, 2, 1, 2, 2, 0]);
  assert.is(out[5].task, 'open-ended');
  assert.is(out[5].error, undefined);
});

test('weights, --think-prefilled and --default-task', () => {
  const file = write('weights.jsonl', [
    { task: 'matching', response: GOOD, answer: 'B' },
    { task: 'matching', response: 'reasoning</think><answer>B</answer>', answer: 'B' },
    { response: '<think>t</think><answer>5</answer>', answer: '5.2' },
  ]);
  // 2 * 1 + 0.5 * 1 = 2.5; without --think-prefilled the second has format 0: 2 * 1 = 2;
  // the third is matching by default, and 5 != 5.2 as numbers: 2 * 0 + 0.5 * 1 = 0.5
  let out = parseOut(run(['score', file, '--accuracy-weight', '2', '--format-weight', '0.5', '-q']).stdout);
  assert.equal(out.map((o) => o.reward), [2.5, 2, 0.5]);
  assert.is(out[2].task, 'matching');
  // prefilled think: format 1 for the second; chart by default: |5 - 5.2| = 0.2 <= 0.26
  out = parseOut(run(['score', file, '--think-prefilled', '--default-task', 'chart', '-q']).stdout);
  assert.equal(out.map((o) => o.reward), [2, 2, 2]);
  assert.is(out[2].task, 'chart');
});

test('stdin, -o, CRLF line endings and a missing final newline', () => {
  const input = [
    JSON.stringify({ id: 1, task: 'matching', response: GOOD, answer: 'B' }),
    JSON.stringify({ id: 2, task: 'matching', response: GOOD, answer: 'A' }),
  ].join('\r\n');
  const outFile = path.join(TMP, 'stdin-out.jsonl');
  const r = run(['score', '-', '-o', outFile], input);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, '');
  const out = parseOut(fs.readFileSync(outFile, 'utf8'));
  assert.equal(out, [
    { line: 1, id: 1, task: 'matching', reward: 2, accuracy: 1, format: 1 },
    { line: 2, id: 2, task: 'matching', reward: 1, accuracy: 0, format: 1 },
  ]);
});

test('an empty input gives an empty output and exit 0', () => {
  const r = run(['score', '-', '-q'], '');
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, '');
});

test('no progress bar and no terminal escapes when stderr is not a terminal', () => {
  const file = write('plain.jsonl', [{ task: 'matching', response: GOOD, answer: 'B' }]);
  const r = run(['score', file]);
  assert.is(r.status, 0);
  assert.not.match(r.stderr, /\u001b\[/);
});

test('an output path that cannot be written exits 1', () => {
  const file = write('io.jsonl', [{ task: 'matching', response: GOOD, answer: 'B' }]);
  const r = run(['score', file, '-o', path.join(TMP, 'no-such-dir', 'out.jsonl')]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /cannot write/);
});

/** Writes `n` lines mixing the four tasks; each line's expected reward is known from its index. */
function bigFile(name: string, n: number): string {
  const file = path.join(TMP, name);
  const fd = fs.openSync(file, 'w');
  const pad = 'reasoning '.repeat(30);
  let buf = '';
  for (let i = 0; i < n; i++) {
    let rec: object;
    switch (i % 3) {
      case 0: // correct letter on even i: reward 2, else 1
        rec = { id: i, task: 'matching', response: `<think>${pad}</think><answer>${i % 2 === 0 ? 'C' : 'D'}</answer>`, answer: 'C' };
        break;
      case 1: // the answer is the line's own index: reward 2
        rec = { id: i, task: 'chart', completion: `<think>${pad}</think><answer>${i}</answer>`, solution: String(i) };
        break;
      default: // identical boxes: 1 + format 1
        rec = { id: i, task: 'iou', response: `<think>${pad}</think><answer>[0, 0, ${i}, 10]</answer>`, answer: [[0, 0, i, 10]] };
    }
    buf += JSON.stringify(rec) + '\n';
    if (buf.length > 1 << 20) {
      fs.writeSync(fd, buf);
      buf = '';
    }
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
  return file;
}

function expectedReward(i: number): number {
  return i % 3 === 0 ? (i % 2 === 0 ? 2 : 1) : 2;
}

function peakRssKb(stderr: string): number {
  const m = /MAXRSS_KB (\d+)/.exec(stderr);
  assert.ok(m, 'the child reported its peak RSS');
  return Number(m![1]);
}

test('100,000 lines: every line in order, and peak memory does not grow with the file', () => {
  const probe = path.join(TMP, 'rss.js');
  fs.writeFileSync(probe, "process.on('exit', () => require('fs').writeSync(2, '\\nMAXRSS_KB ' + process.resourceUsage().maxRSS + '\\n'));\n");
  const small = bigFile('small.jsonl', 10_000);
  const big = bigFile('big.jsonl', 100_000);
  const started = Date.now();
  const rs = run(['score', small, '-o', path.join(TMP, 'small.out'), '-q'], undefined, ['-r', probe]);
  assert.is(rs.status, 0, rs.stderr);
  const rb = run(['score', big, '-o', path.join(TMP, 'big.out'), '-q'], undefined, ['-r', probe]);
  assert.is(rb.status, 0, rb.stderr);
  assert.ok(Date.now() - started < 60_000, 'well under a minute');

  const text = fs.readFileSync(path.join(TMP, 'big.out'), 'utf8');
  const lines = text.split('\n');
  assert.is(lines.pop(), '');
  assert.is(lines.length, 100_000);
  for (let i = 0; i < lines.length; i++) {
    const o = JSON.parse(lines[i]) as { line: number; id: number; reward: number; error?: string };
    if (o.line !== i + 1 || o.id !== i || o.reward !== expectedReward(i) || o.error !== undefined) {
      assert.unreachable(`line ${i + 1}: ${lines[i]}`);
    }
  }
  // The big file is ~40 MB; holding it (or its results) would add well over 40 MB.
  const small_kb = peakRssKb(rs.stderr);
  const big_kb = peakRssKb(rb.stderr);
  assert.ok(fs.statSync(big).size > 35 * 1024 * 1024, 'the file is large enough to show growth');
  assert.ok(big_kb - small_kb < 30 * 1024, `peak RSS grew from ${small_kb} KB to ${big_kb} KB`);
});

test.after(() => {
  fs.rmSync(TMP, { recursive: true, force: true });
});

test.run();
