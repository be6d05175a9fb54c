/**
 * The reward server on 127.0.0.1 (a free port), spoken to over HTTP: OpenRLHF's payload (also
 * from a Python standard-library client), every bad-input case, 200 concurrent requests, and a
 * graceful SIGTERM of the real executable. Expected rewards are worked out by hand.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../lib/server/start.js';
import { responseFromQuery, stripTrailingTokens, labelToSample } from '../lib/server/openrlhf.js';
import { MicroBatcher } from '../lib/server/batcher.js';

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');

let server: RunningServer;
let small: RunningServer;
let lenient: RunningServer;

interface Reply {
  status: number;
  body: any;
}

async function post(base: string, route: string, payload: unknown, contentType = 'application/json'): Promise<Reply> {
  const res = await fetch(base + route, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  const text = await res.text();
  return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined };
}

async function get(base: string, route: string): Promise<Reply> {
  const res = await fetch(base + route);
  return { status: res.status, body: await res.json() };
}

const close = (x: number, y: number): boolean => Math.abs(x - y) < 1e-6;

test.before(async () => {
  server = await startServer({ host: '127.0.0.1', port: 0 });
  small = await startServer({ host: '127.0.0.1', port: 0, bodyLimit: 1024 });
  lenient = await startServer({ host: '127.0.0.1', port: 0, onError: 'zero' });
});

test.after(async () => {
  await Promise.all([server.close(), small.close(), lenient.close()]);
});

// ---------------------------------------------------------------- response extraction

test('responseFromQuery: left padding, the prompt, trailing end-of-turn tokens', () => {
  const prompt = '<|im_start|>user\nIs it red?<|im_end|>\n<|im_start|>assistant\n';
  const q = `<|endoftext|><|endoftext|>${prompt}<think>t</think><answer>yes</answer><|im_end|>\n<|endoftext|><|endoftext|>`;
  assert.is(responseFromQuery(q, prompt), '<think>t</think><answer>yes</answer>');
  // not found (the tokenizer did not round-trip the prompt): the assistant turn of the template
  assert.is(responseFromQuery(q, 'something else'), '<think>t</think><answer>yes</answer>');
  assert.is(responseFromQuery('<s>[INST] hi [/INST] <answer>A</answer></s>', null), '<answer>A</answer>');
  // no prompt and no marker: the whole query after padding
  assert.is(responseFromQuery('<pad><pad>plain text<pad>', undefined), 'plain text');
  assert.is(stripTrailingTokens('A <|eot_id|> \n</s>\t<pad><pad>'), 'A');
  assert.is(stripTrailingTokens('<|im_end|>'), '');
  assert.is(stripTrailingTokens('keep </think> inside'), 'keep </think> inside');
});

test('responseFromQuery stays linear on long padding', () => {
  const q = 'x' + '<|endoftext|>'.repeat(200_000);
  const t0 = Date.now();
  assert.is(responseFromQuery(q, 'missing prompt'), 'x');
  assert.ok(Date.now() - t0 < 1000);
});

test('labelToSample: JSON label, plain label, object, number, boxes', () => {
  assert.equal(labelToSample('{"task":"chart","answer":"41"}', 'r', 'matching'), { task: 'chart', response: 'r', answer: '41' });
  assert.equal(labelToSample('B', 'r', 'matching'), { task: 'matching', response: 'r', answer: 'B' });
  assert.equal(labelToSample('{not json', 'r', 'chart'), { task: 'chart', response: 'r', answer: '{not json' });
  assert.equal(labelToSample({ task: 'matching', answer: 'C', choices: ['x', 'y', 'z'] }, 'r', 'chart'), {
    task: 'matching',
    response: 'r',
    answer: 'C',
    choices: ['x', 'y', 'z'],
  });
  assert.equal(labelToSample(3, 'r', 'chart'), { task: 'chart', response: 'r', answer: 3 });
  assert.equal(labelToSample('[1, 2, 3, 4]', 'r', 'iou'), { task: 'iou', response: 'r', answer: '[1, 2, 3, 4]' });
  assert.throws(() => labelToSample('{"task":"poetry","answer":"x"}', 'r', 'matching'), /poetry/);
  assert.throws(() => labelToSample('{"task":"chart"}', 'r', 'matching'), /answer/);
  assert.throws(() => labelToSample({ choices: ['a'] }, 'r', 'matching'), /answer/);
  // a JSON box label with no task/answer key is a plain answer
  assert.equal(labelToSample('{"bbox_2d": [1, 2, 3, 4]}', 'r', 'iou'), { task: 'iou', response: 'r', answer: '{"bbox_2d": [1, 2, 3, 4]}' });
  assert.throws(() => labelToSample(null, 'r', 'matching'), /null/);
});

test('MicroBatcher merges requests of one turn and hands each its own results', async () => {
  const calls: number[][] = [];
  const b = new MicroBatcher<number, number>(async (xs) => {
    calls.push(xs);
    return xs.map((x) => x * 10);
  }, { windowMs: 1 });
  const [a, c, d] = await Promise.all([b.submit([1, 2]), b.submit([3]), b.submit([4, 5, 6])]);
  assert.equal(a, [10, 20]);
  assert.equal(c, [30]);
  assert.equal(d, [40, 50, 60]);
  assert.equal(calls, [[1, 2, 3, 4, 5, 6]]);
  assert.equal(await b.submit([]), []);
  // A failing call rejects every request of its batch, and the batcher goes on.
  const failing = new MicroBatcher<number, number>(async (xs) => {
    if (xs.includes(13)) throw new Error('unlucky');
    return xs;
  });
  const r = await Promise.allSettled([failing.submit([13]), failing.submit([1])]);
  assert.is(r[0].status, 'rejected');
  assert.is(r[1].status, 'rejected');
  assert.equal(await failing.submit([7]), [7]);
});

// ---------------------------------------------------------------- OpenRLHF

const PROMPT = (q: string): string => `<|im_start|>system\nThink, then answer.<|im_end|>\n<|im_start|>user\n${q}<|im_end|>\n<|im_start|>assistant\n`;

const OPENRLHF = {
  query: [
    `<|endoftext|><|endoftext|>${PROMPT('Which letter?')}<think>t</think><answer>B</answer><|im_end|>\n<|endoftext|>`,
    `${PROMPT('How many?')}<think>t</think><answer>42</answer><|im_end|>`,
    `<|endoftext|>${PROMPT('Which colour?')}<think>t</think> <answer>blue</answer><|im_end|><|endoftext|><|endoftext|>`,
    `${PROMPT('Where is the dog?')}<think>t</think><answer>[0, 0, 10, 5]</answer><|im_end|>`,
    `<|endoftext|>${PROMPT('Is it raining?')}<think>t</think><answer>no</answer><|im_end|>`,
    `${PROMPT('Is it sunny?')}<answer>yes</answer></s></s>  `,
    `${PROMPT('What number?')}<think>t</think><answer>3.0</answer><|im_end|>`,
  ],
  prompts: [
    PROMPT('Which letter?'),
    PROMPT('How many?'),
    PROMPT('Which colour?'),
    PROMPT('Where is the dog?'),
    'a prompt that the tokenizer did not round-trip',
    PROMPT('Is it sunny?'),
    PROMPT('What number?'),
  ],
  labels: [
    'B', // plain label, default task matching: 1 + format 1
    '{"task": "chart", "answer": "41"}', // |42 - 41| = 1 <= 2.05: 1 + 1
    '{"task": "matching", "answer": "C", "choices": ["red", "green", "blue"]}', // "blue" is option C: 1 + 1
    '{"task": "iou", "answer": [[0, 0, 10, 10]]}', // IoU 50 / 100 = 0.5, + 1
    'no', // prompt not found: text after the assistant marker: 1 + 1
    'yes', // no <think>: 1 + 0
    '3', // numbers: 3.0 == 3: 1 + 1
  ],
};
const EXPECTED_REWARDS = [2, 2, 2, 1.5, 2, 1, 2];

test('POST /get_reward: the OpenRLHF payload', async () => {
  const r = await post(server.url, '/get_reward', OPENRLHF);
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.equal(Object.keys(r.body).sort(), ['extra_logs', 'rewards', 'scores']);
  assert.is(r.body.rewards.length, 7);
  r.body.rewards.forEach((x: number, i: number) => assert.ok(close(x, EXPECTED_REWARDS[i]), `rewards[${i}] = ${x}`));
  assert.equal(r.body.scores, r.body.rewards);
  assert.equal(r.body.extra_logs.format, [1, 1, 1, 1, 1, 0, 1]);
  assert.equal(r.body.extra_logs.accuracy, [1, 1, 1, 0.5, 1, 1, 1]);
});

test('POST /get_reward from a Python standard-library client, the way OpenRLHF posts', async () => {
  const script = [
    'import json, sys, urllib.request',
    'url, payload = sys.argv[1], json.loads(sys.stdin.read())',
    'req = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"), headers={"Content-Type": "application/json"}, method="POST")',
    'with urllib.request.urlopen(req, timeout=30) as res:',
    '    body = json.loads(res.read().decode("utf-8"))',
    '    assert "rewards" in body, body',
    '    print(json.dumps({"status": res.status, "rewards": body["rewards"], "format": body["extra_logs"]["format"]}))',
  ].join('\n');
  // Asynchronous: the server runs in this process and must keep serving while Python waits.
  const child = spawn('python3', ['-c', script, `${server.url}/get_reward`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(JSON.stringify(OPENRLHF));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.is(code, 0, stderr);
  const out = JSON.parse(stdout) as { status: number; rewards: number[]; format: number[] };
  assert.is(out.status, 200);
  out.rewards.forEach((x, i) => assert.ok(close(x, EXPECTED_REWARDS[i]), `rewards[${i}] = ${x}`));
  assert.equal(out.format, [1, 1, 1, 1, 1, 0, 1]);
});

test('POST /get_reward without prompts, and with an empty batch', async () => {
  const r = await post(server.url, '/get_reward', { query: [OPENRLHF.query[0]], labels: ['B'] });
  assert.is(r.status, 200);
  assert.equal(r.body.rewards, [2]);
  const e = await post(server.url, '/get_reward', { query: [], prompts: [], labels: [] });
  assert.is(e.status, 200);
  assert.equal(e.body, { rewards: [], scores: [], extra_logs: { accuracy: [], format: [] } });
});

// ---------------------------------------------------------------- /score and /health

test('POST /score: results as in SPEC §7, with ids', async () => {
  const r = await post(server.url, '/score', {
    samples: [
      { task: 'matching', response: '<think>t</think><answer>A</answer>', answer: 'A', id: 'x' },
      { task: 'chart', response: '<answer>5</answer>', answer: 5, id: 2 },
      { task: 'open-ended', response: '<think>t</think><answer>a dog runs in the park</answer>', answer: 'a dog runs in the park' },
    ],
  });
  assert.is(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.results[0], { task: 'matching', reward: 2, accuracy: 1, format: 1, id: 'x' });
  assert.equal(r.body.results[1], { task: 'chart', reward: 1, accuracy: 1, format: 0, id: 2 });
  const oe = r.body.results[2];
  assert.is(oe.task, 'open-ended');
  // identical texts: BMAS 1 (every word has a non-zero embedding)
  assert.ok(Math.abs(oe.accuracy - 1) < 1e-4, String(oe.accuracy));
  assert.ok(Math.abs(oe.reward - 2) < 1e-4);
});

test('GET /health reports status, backends and table', async () => {
  const r = await get(server.url, '/health');
  assert.is(r.status, 200);
  assert.is(r.body.status, 'ok');
  assert.is(r.body.backends.js.available, true);
  assert.ok(['js', 'cpu', 'cuda'].includes(r.body.backend));
  assert.type(r.body.table, 'object');
});

// ---------------------------------------------------------------- bad input

const BAD: [string, string, unknown, RegExp][] = [
  ['malformed JSON', '/get_reward', '{"query": [', /JSON/],
  ['body is an array', '/get_reward', '[1, 2]', /JSON object/],
  ['no body', '/get_reward', '', /body/],
  ['query missing', '/get_reward', { labels: ['a'] }, /"query"/],
  ['query not an array', '/get_reward', { query: 'q', labels: ['a'] }, /"query"/],
  ['query item not a string', '/get_reward', { query: ['a', 5], labels: ['a', 'b'] }, /query\[1\]/],
  ['prompts of another length', '/get_reward', { query: ['a', 'b'], prompts: ['a'], labels: ['a', 'b'] }, /"prompts"/],
  ['labels missing', '/get_reward', { query: ['a'] }, /"labels"/],
  ['labels of another length', '/get_reward', { query: ['a', 'b', 'c'], labels: ['a', 'b'] }, /"labels" has 2 items but "query" has 3/],
  ['label with an unknown task', '/get_reward', { query: ['a'], labels: ['{"task": "poetry", "answer": "x"}'] }, /labels\[0\].*poetry/],
  ['label without an answer', '/get_reward', { query: ['a', 'b'], labels: ['x', '{"task": "chart"}'] }, /labels\[1\]/],
  ['null label', '/get_reward', { query: ['a'], labels: [null] }, /labels\[0\]/],
  ['label with a mistyped answer', '/get_reward', { query: ['a'], labels: ['{"task": "chart", "answer": {"v": 1}}'] }, /labels\[0\]/],
  ['samples missing', '/score', { sample: [] }, /"samples"/],
  ['samples not an array', '/score', { samples: { task: 'chart' } }, /"samples"/],
  ['sample with an unknown task', '/score', { samples: [{ task: 'chart', response: '', answer: '1' }, { task: 'poetry', response: '', answer: 'x' }] }, /samples\[1\].*poetry/],
  ['sample without an answer', '/score', { samples: [{ task: 'chart', response: '' }] }, /samples\[0\].*answer/],
  ['sample with a mistyped answer', '/score', { samples: [{ task: 'chart', response: '', answer: { v: 1 } }] }, /samples\[0\].*answer/],
  ['sample that is not an object', '/score', { samples: [7] }, /samples\[0\]/],
];

for (const [name, route, payload, message] of BAD) {
  test(`400 with a message: ${name}`, async () => {
    const r = await post(server.url, route, payload as string | object);
    assert.is(r.status, 400, JSON.stringify(r.body));
    assert.is(r.body.statusCode, 400);
    assert.match(r.body.message, message);
  });
}

test('a body over the limit gets 413, and the server keeps serving', async () => {
  const big = { query: ['x'.repeat(4000)], labels: ['a'] };
  const r = await post(small.url, '/get_reward', big);
  assert.is(r.status, 413);
  assert.match(r.body.message, /limit/);
  const ok = await post(small.url, '/get_reward', { query: ['<answer>a</answer>'], labels: ['a'] });
  assert.is(ok.status, 200);
  assert.equal(ok.body.rewards, [1]);
});

test('a body without a JSON content type is still read as JSON', async () => {
  const r = await post(server.url, '/score', JSON.stringify({ samples: [{ task: 'chart', response: '7', answer: '7' }] }), 'application/x-www-form-urlencoded');
  assert.is(r.status, 200);
  assert.is(r.body.results[0].accuracy, 1);
});

test('unknown routes get 404 with the list of routes', async () => {
  const r = await get(server.url, '/nope');
  assert.is(r.status, 404);
  assert.match(r.body.message, /get_reward/);
});

test('after every bad request the server still answers', async () => {
  const r = await get(server.url, '/health');
  assert.is(r.status, 200);
});

test('onError zero: a bad sample scores 0 with its error, the others are scored', async () => {
  const r = await post(lenient.url, '/score', {
    samples: [
      { task: 'poetry', response: 'x', answer: 'y', id: 'bad' },
      { task: 'chart', response: '<think>t</think><answer>9</answer>', answer: 9, id: 'good' },
    ],
  });
  assert.is(r.status, 200);
  assert.is(r.body.results[0].reward, 0);
  assert.is(r.body.results[0].id, 'bad');
  assert.match(r.body.results[0].error, /samples\[0\].*poetry/);
  assert.equal(r.body.results[1], { task: 'chart', reward: 2, accuracy: 1, format: 1, id: 'good' });
  const g = await post(lenient.url, '/get_reward', { query: ['<think>t</think><answer>A</answer>', 'x'], labels: ['A', '{"task": "poetry", "answer": "x"}'] });
  assert.is(g.status, 200);
  assert.equal(g.body.rewards, [2, 0]);
});

// ---------------------------------------------------------------- concurrency

test('200 concurrent requests: no result lost, duplicated or misordered', async () => {
  const N = 200;
  // Request i holds 1 + i % 5 chart samples whose answers encode (i, j); sample j is right
  // unless (i + j) % 3 == 0. Every fourth request also carries an open-ended sample.
  const requests = Array.from({ length: N }, (_, i) => {
    const samples: object[] = [];
    const expected: { id: string; reward: number }[] = [];
    for (let j = 0; j <= i % 5; j++) {
      const truth = i * 10 + j;
      const right = (i + j) % 3 !== 0;
      const said = right ? truth : truth * 2 + 100;
      samples.push({ task: 'chart', response: `<think>t</think><answer>${said}</answer>`, answer: String(truth), id: `${i}:${j}` });
      expected.push({ id: `${i}:${j}`, reward: right ? 2 : 1 });
    }
    if (i % 4 === 0) {
      samples.push({ task: 'open-ended', response: '<think>t</think><answer>the cat sat on the mat</answer>', answer: 'the cat sat on the mat', id: `${i}:oe` });
      expected.push({ id: `${i}:oe`, reward: 2 });
    }
    return { samples, expected };
  });
  const replies = await Promise.all(requests.map((r, i) => (i % 2 === 0 ? post(server.url, '/score', { samples: r.samples }) : postWithHttp(server.url, { samples: r.samples }))));
  replies.forEach((reply, i) => {
    assert.is(reply.status, 200, `request ${i}`);
    const got = reply.body.results as { id: string; reward: number; error?: string }[];
    const want = requests[i].expected;
    assert.is(got.length, want.length, `request ${i} length`);
    got.forEach((g, k) => {
      assert.is(g.id, want[k].id, `request ${i} item ${k}`);
      assert.ok(Math.abs(g.reward - want[k].reward) < 1e-4, `request ${i} item ${k}: ${g.reward}`);
      assert.is(g.error, undefined);
    });
  });
});

/** The same POST through node:http with its own connection (no keep-alive pool). */
function postWithHttp(base: string, payload: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(payload);
    const req = http.request(`${base}/score`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------- the executable, SIGTERM

test('mixed-reward serve: SIGTERM finishes the request in flight, then exits 0', async () => {
  const child = spawn(process.execPath, [MAIN, 'serve', '--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${stderr}`)), 20_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      stderr += c;
      const m = /listening on (http:\/\/[^\s]+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const samples = Array.from({ length: 20_000 }, (_, i) => ({ task: 'chart', response: `<think>t</think><answer>${i}</answer>`, answer: String(i), id: i }));
  const body = JSON.stringify({ samples });
  const reply = new Promise<Reply>((resolve, reject) => {
    const req = http.request(`${url}/score`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    // Once the body is on the socket, the request is in flight: then the signal.
    req.on('finish', () => setTimeout(() => child.kill('SIGTERM'), 20));
    req.end(body);
  });
  const r = await reply;
  assert.is(r.status, 200);
  assert.is(r.body.results.length, 20_000);
  assert.equal(r.body.results[19_999], { task: 'chart', reward: 2, accuracy: 1, format: 1, id: 19_999 });
  assert.is(await exited, 0);
  assert.match(stderr, /SIGTERM/);
  // The port is closed now.
  const after = await fetch(`${url}/health`).then(
    () => 'answered',
    () => 'refused',
  );
  assert.is(after, 'refused');
});

test.run();
