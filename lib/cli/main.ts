#!/usr/bin/env node
/**
 * The `mixed-reward` executable. Exit codes: 0 done (also when some input lines were bad: they
 * are reported and get an output line with `error`), 1 a run-time failure (I/O, model load,
 * unavailable backend), 2 a usage error. Messages only, never stack traces, unless
 * MIXED_REWARD_DEBUG is set.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../backend/packageRoot.js';
import type { BackendName, Task } from '../types.js';
import { parseTask } from './records.js';
import { packageVersion } from './version.js';

class UsageError extends Error {}

const MAIN_HELP = `mixed-reward — the Mixed-Reward of Mixed-R1 (matching, chart, IoU, open-ended BMAS + format)

Usage:
  mixed-reward score <in.jsonl|-> [options]   score a JSONL file of rollouts
  mixed-reward serve [options]                HTTP reward server (OpenRLHF /get_reward, /score, /health)
  mixed-reward bench [args]                   kernel benchmarks
  mixed-reward --help | --version

Run 'mixed-reward <command> --help' for the options of a command.
`;

const SCORE_HELP = `Usage: mixed-reward score <in.jsonl|-> [options]

Reads one JSON object per line: {"task", "response", "answer", "choices"?, "id"?}
(aliases: response|completion|output, answer|solution|ground_truth|label, choices|options,
task|task_type) and writes one result line per input line, in order:
{"line", "id"?, "task", "reward", "accuracy", "format", "error"?}.
A blank or bad line gets a result with "error" and reward 0; the others go on (exit code 0).

Options:
  -o, --output FILE          write results to FILE (default: stdout)
      --model DIR            Hugging Face model directory for open-ended samples
                             (default: the embedding table shipped in the package)
      --backend NAME         auto | js | cpu | cuda (default: auto)
      --accuracy-weight W    weight of the task reward (default 1)
      --format-weight W      weight of the format reward (default 1)
      --think-prefilled      the chat template injects <think>: it may be absent
      --default-task TASK    task of lines without one (default: matching)
      --batch-size N         lines per scoring batch (default 256)
      --no-progress          no progress bar (shown only on a terminal anyway)
  -q, --quiet                no summary on stderr
`;

const SERVE_HELP = `Usage: mixed-reward serve [options]

Routes:
  POST /get_reward   OpenRLHF remote reward: {"query", "prompts", "labels"} ->
                     {"rewards", "scores", "extra_logs": {"accuracy", "format"}}
  POST /score        {"samples": [...]} -> {"results": [...]}
  GET  /health       status, backends, embedding table

Options:
      --host HOST            address to listen on (default 127.0.0.1)
      --port PORT            port (default 8000; 0 = any free port)
      --model DIR            Hugging Face model directory for open-ended samples
      --backend NAME         auto | js | cpu | cuda (default: auto)
      --default-task TASK    task of plain labels and of samples without one (default: matching)
      --accuracy-weight W    weight of the task reward (default 1)
      --format-weight W      weight of the format reward (default 1)
      --think-prefilled      the chat template injects <think>: it may be absent
      --on-error MODE        throw: a bad sample/label makes the request a 400 (default);
                             zero: it scores 0 and its result carries "error"
      --body-limit BYTES     largest request body, e.g. 1048576 or 64mb (default 64mb)
      --batch-window MS      wait this long to merge concurrent requests (default 2)
      --log                  log every request (JSON lines on stdout)
`;

function parse(args: string[], options: ParseArgsConfig['options']): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function numberOption(v: string | boolean | undefined, name: string): number | undefined {
  if (v === undefined || typeof v === 'boolean') return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got '${v}')`);
  return n;
}

function intOption(v: string | boolean | undefined, name: string, min: number, max: number): number | undefined {
  const n = numberOption(v, name);
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got '${String(v)}')`);
  return n;
}

function backendOption(v: string | boolean | undefined): BackendName | undefined {
  if (v === undefined || typeof v === 'boolean') return undefined;
  if (v !== 'auto' && v !== 'js' && v !== 'cpu' && v !== 'cuda') throw new UsageError(`--backend must be auto, js, cpu or cuda (got '${v}')`);
  return v;
}

function taskOption(v: string | boolean | undefined): Task | undefined {
  if (v === undefined || typeof v === 'boolean') return undefined;
  const t = parseTask(v);
  if (!t) throw new UsageError(`--default-task must be matching, chart, iou or open-ended (got '${v}')`);
  return t;
}

function bytesOption(v: string | boolean | undefined, name: string): number | undefined {
  if (v === undefined || typeof v === 'boolean') return undefined;
  const m = /^(\d+)\s*([kmg]?)i?b?$/i.exec(v.trim());
  if (!m) throw new UsageError(`--${name} must be a byte count such as 1048576, 512kb or 64mb (got '${v}')`);
  const unit = m[2].toLowerCase();
  const n = Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be at least 1 byte (got '${v}')`);
  return n;
}

/** Options that `score` and `serve` both take, and what they become. */
const SCORING_OPTIONS: ParseArgsConfig['options'] = {
  model: { type: 'string' },
  backend: { type: 'string' },
  'accuracy-weight': { type: 'string' },
  'format-weight': { type: 'string' },
  'think-prefilled': { type: 'boolean' },
  'default-task': { type: 'string' },
};

function scoringOptions(values: Record<string, string | boolean | undefined>) {
  return {
    model: values.model as string | undefined,
    backend: backendOption(values.backend),
    weights: { accuracy: numberOption(values['accuracy-weight'], 'accuracy-weight'), format: numberOption(values['format-weight'], 'format-weight') },
    thinkPrefilled: values['think-prefilled'] === true,
    defaultTask: taskOption(values['default-task']),
  };
}

async function score(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...SCORING_OPTIONS,
    output: { type: 'string', short: 'o' },
    'batch-size': { type: 'string' },
    'no-progress': { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(SCORE_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('score needs an input file (or - for stdin)');
  if (positionals.length > 1) throw new UsageError(`score takes one input file (got ${positionals.length}: ${positionals.join(' ')})`);
  const { runScore } = await import('./score.js');
  await runScore({
    input: positionals[0],
    ...scoringOptions(values),
    output: values.output as string | undefined,
    batchSize: intOption(values['batch-size'], 'batch-size', 1, 1_000_000),
    progress: values['no-progress'] ? false : undefined,
    quiet: values.quiet === true,
  });
  return 0;
}

async function serve(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...SCORING_OPTIONS,
    host: { type: 'string' },
    port: { type: 'string' },
    'on-error': { type: 'string' },
    'body-limit': { type: 'string' },
    'batch-window': { type: 'string' },
    log: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`serve takes no positional arguments (got ${positionals.join(' ')})`);
  const onError = values['on-error'];
  if (onError !== undefined && onError !== 'throw' && onError !== 'zero') throw new UsageError(`--on-error must be throw or zero (got '${String(onError)}')`);
  const opts = {
    host: (values.host as string | undefined) ?? '127.0.0.1',
    port: intOption(values.port, 'port', 0, 65535) ?? 8000,
    ...scoringOptions(values),
    onError: onError as 'throw' | 'zero' | undefined,
    bodyLimit: bytesOption(values['body-limit'], 'body-limit'),
    batchWindowMs: intOption(values['batch-window'], 'batch-window', 0, 1000),
    logger: values.log === true,
    handleSignals: true,
  };
  const { startServer } = await import('../server/start.js');
  const running = await startServer(opts);
  process.stderr.write(`mixed-reward serve: listening on ${running.url} (POST /get_reward, POST /score, GET /health)\n`);
  // The process now lives until a signal closes the server.
  return -1;
}

function bench(args: string[]): Promise<number> {
  const script = path.join(packageRoot, 'dist', 'bench', 'index.js');
  if (!fs.existsSync(script)) {
    throw new Error(`the benchmarks are not built (${script} is missing): run 'npm run build:ts' in a clone of the repository`);
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'score':
      return score(rest);
    case 'serve':
      return serve(rest);
    case 'bench':
      return bench(rest);
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(MAIN_HELP);
      return 0;
    case '--version':
    case '-v':
    case '-V':
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    case undefined:
      process.stderr.write(MAIN_HELP);
      return 2;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

function fail(err: unknown): void {
  const e = err as Error & { code?: string };
  if (err instanceof UsageError) {
    process.stderr.write(`mixed-reward: ${e.message}\nRun 'mixed-reward --help' for usage.\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`mixed-reward: error: ${e?.message ?? String(err)}\n`);
  if (process.env.MIXED_REWARD_DEBUG && e?.stack) process.stderr.write(`${e.stack}\n`);
  process.exitCode = 1;
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exitCode = code;
}, fail);
