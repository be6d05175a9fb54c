/**
 * Load test of the reward server: `POST /score` with a mixed batch (all four tasks) on loopback,
 * driven by autocannon. The server runs as a child process (the real `mixed-reward serve`) so
 * that it does not share an event loop with the load generator. Prints requests/s and latency
 * percentiles and writes them into the "Server" section of bench/RESULTS.md.
 *
 *   node dist/bench/server.js [--duration 10] [--connections 16] [--batch 64] [--no-write]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

interface Histogram {
  average: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
interface AutocannonResult {
  requests: Histogram & { total: number };
  latency: Histogram;
  throughput: Histogram;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  duration: number;
}
// autocannon ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<AutocannonResult>;

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
const RESULTS = path.join(ROOT, 'bench', 'RESULTS.md');

const T = (think: string, answer: string): string => `<think>${think}</think>\n<answer>${answer}</answer>`;

/** A batch as a GRPO step sends it: `n` samples, a quarter of each task, right and wrong answers mixed. */
function mixedBatch(n: number): object[] {
  const samples: object[] = [];
  const captions = [
    ['A brown dog runs across a green park with a red ball.', 'A dog is running through the park carrying a red ball.'],
    ['A man rides a bicycle down a city street at night.', 'A person is cycling on a street in the city at night.'],
    ['A bowl of fruit on a wooden table.', 'Apples and bananas in a bowl on a table.'],
  ];
  for (let i = 0; i < n; i++) {
    const think = 'Looking at the image, I compare the options and check the numbers carefully. '.repeat(3);
    switch (i % 4) {
      case 0:
        samples.push({ task: 'matching', response: T(think, 'ABCD'[(i >> 2) % 4]), answer: 'B', choices: ['red', 'blue', 'green', 'yellow'], id: i });
        break;
      case 1:
        samples.push({ task: 'chart', response: T(think, `$${1200 + (i % 7) * 20}`), answer: '1,250', id: i });
        break;
      case 2:
        samples.push({ task: 'iou', response: T(think, `[{"bbox_2d": [${10 + (i % 9)}, 20, 180, 240], "label": "dog"}]`), answer: [[12, 18, 176, 250]], id: i });
        break;
      default: {
        const [resp, ref] = captions[i % captions.length];
        samples.push({ task: 'open-ended', response: T(think, resp), answer: ref, id: i });
      }
    }
  }
  return samples;
}

function startChild(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => {
      err += c;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

/** Replaces (or appends) the `## Server` section of RESULTS.md, leaving other sections alone. */
function writeSection(text: string): void {
  let doc = fs.existsSync(RESULTS) ? fs.readFileSync(RESULTS, 'utf8') : '# Benchmark results\n';
  const heading = '## Server';
  const start = doc.split('\n').findIndex((l) => l.trim() === heading);
  if (start < 0) {
    doc = doc.replace(/\n*$/, '\n\n') + text.trimEnd() + '\n';
  } else {
    const lines = doc.split('\n');
    let end = lines.length;
    for (let i = start + 1; i < lines.length; i++) {
      if (lines[i].startsWith('## ')) {
        end = i;
        break;
      }
    }
    const after = lines.slice(end);
    doc = [...lines.slice(0, start), ...text.trimEnd().split('\n'), ...(after.length > 0 ? ['', ...after] : [])].join('\n');
    if (!doc.endsWith('\n')) doc += '\n';
  }
  fs.writeFileSync(RESULTS, doc);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '16' },
      batch: { type: 'string', default: '64' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const batch = Number(values.batch);
  const { child, url } = await startChild();
  try {
    const body = JSON.stringify({ samples: mixedBatch(batch) });
    const headers = { 'content-type': 'application/json' };
    // Warm-up: loads the default embedding table and lets V8 optimise the scoring path.
    const check = await fetch(`${url}/score`, { method: 'POST', headers, body });
    if (check.status !== 200) throw new Error(`warm-up request failed: ${check.status} ${await check.text()}`);
    await autocannon({ url: `${url}/score`, method: 'POST', headers, body, connections, duration: 2 });
    const health = (await (await fetch(`${url}/health`)).json()) as { backend: string };

    const r = await autocannon({ url: `${url}/score`, method: 'POST', headers, body, connections, duration });
    const rps = r.requests.average;
    const line = (k: string, v: string): string => `| ${k} | ${v} |`;
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const text = [
      '## Server',
      '',
      `\`POST /score\` on loopback, ${batch} samples per request (a quarter each of matching, chart, iou, open-ended`,
      `with the default table), ${connections} connections, ${duration} s, autocannon; server = \`mixed-reward serve\``,
      `in a child process, backend \`${health.backend}\`. Machine: ${cpu}, ${os.cpus().length} cores, Node ${process.version},`,
      `1-min load average ${os.loadavg()[0].toFixed(1)} when the run ended (other work on the machine slows these figures).`,
      `Reproduce: \`npm run build:ts && node dist/bench/server.js\`.`,
      '',
      '| metric | value |',
      '|---|---|',
      line('requests/s (mean)', rps.toFixed(1)),
      line('samples/s', (rps * batch).toFixed(0)),
      line('latency p50', `${r.latency.p50} ms`),
      line('latency p90', `${r.latency.p90} ms`),
      line('latency p99', `${r.latency.p99} ms`),
      line('latency max', `${r.latency.max} ms`),
      line('requests (2xx / non-2xx / errors / timeouts)', `${r['2xx']} / ${r.non2xx} / ${r.errors} / ${r.timeouts}`),
      '',
    ].join('\n');
    process.stdout.write(text);
    if (!values['no-write']) {
      writeSection(text);
      process.stdout.write(`(written to ${path.relative(process.cwd(), RESULTS)})\n`);
    }
    if (r.non2xx > 0 || r.errors > 0) process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench/server: ${err.message}\n`);
  process.exit(1);
});
