/**
 * `mixed-reward score`: scores a JSONL file of rollouts, streaming, in batches, one output line
 * per input line in the same order. Output line k always belongs to input line k: a blank or
 * malformed line gets an output line with `error` (and reward 0) rather than being skipped.
 */
import * as fs from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { EmbeddingTable } from '../embeddings/table.js';
import { resolveBackend } from '../backend/select.js';
import { mixedReward, type Result, type Sample } from '../rewards/mixed.js';
import { extractAnswer } from '../text/extractAnswer.js';
import { parseBoxes } from '../boxes/parseBoxes.js';
import type { BackendName, Task } from '../types.js';
import { readLines, type LineProgress } from './lines.js';
import { recordToSample, stripIndex } from './records.js';
import { Summary } from './summary.js';

export interface ScoreOptions {
  /** Input path, or `-` for stdin. */
  input: string;
  /** Output path; stdout when absent. */
  output?: string;
  /** Hugging Face model directory for open-ended samples; the shipped table when absent. */
  model?: string;
  backend?: BackendName;
  weights?: { accuracy?: number; format?: number };
  thinkPrefilled?: boolean;
  /** Lines per `mixedReward` call (open-ended samples of a batch go to the kernels together). */
  batchSize?: number;
  /** Task of records without a `task` field. */
  defaultTask?: Task;
  /** No summary on stderr. */
  quiet?: boolean;
  /** Progress bar; default: when stderr is a terminal. */
  progress?: boolean;
}

/** A failure reading the input, writing the output or loading the model: exit code 1. */
export class IoFailure extends Error {}

/** At most this many bad lines are described on stderr; the rest are only counted. */
const MAX_REPORTED = 100;

interface OutputLine {
  line: number;
  id?: string | number;
  task?: string;
  reward: number;
  accuracy: number;
  format: number;
  error?: string;
}

/** The response gave nothing to compare: an empty extracted answer, or no box where boxes are due. */
function noAnswer(sample: Sample): boolean {
  const a = extractAnswer(sample.response);
  if (a.length === 0) return true;
  return sample.task === 'iou' && parseBoxes(a).length === 0;
}

/** The output line of a result, keys in a fixed order; `id`, `task` and `error` only when present. */
function outputLine(line: number, r: Omit<OutputLine, 'line' | 'error'>, error: string | undefined): OutputLine {
  const o = { line } as OutputLine;
  if (r.id !== undefined) o.id = r.id;
  if (r.task !== undefined) o.task = r.task;
  o.reward = r.reward;
  o.accuracy = r.accuracy;
  o.format = r.format;
  if (error !== undefined) o.error = error;
  return o;
}

function errorLine(line: number, error: string, task?: string, id?: string | number): OutputLine {
  return outputLine(line, { id, task, reward: 0, accuracy: 0, format: 0 }, error);
}

async function drainOrFail(out: Writable): Promise<void> {
  // `once` rejects when 'error' comes first, which is what we want on EPIPE / ENOSPC.
  await once(out, 'drain');
}

export async function runScore(opts: ScoreOptions, stderr: NodeJS.WriteStream = process.stderr): Promise<void> {
  const batchSize = opts.batchSize ?? 256;
  const backend = resolveBackend(opts.backend);

  let table: EmbeddingTable | undefined;
  if (opts.model !== undefined) {
    try {
      table = await EmbeddingTable.fromPretrained(opts.model);
    } catch (err) {
      throw new IoFailure(`cannot load the model in ${opts.model}: ${(err as Error).message}`);
    }
  }

  let input: NodeJS.ReadableStream;
  let totalBytes = 0;
  if (opts.input === '-') {
    input = process.stdin;
  } else {
    try {
      const st = fs.statSync(opts.input);
      if (st.isDirectory()) throw new Error('is a directory');
      totalBytes = st.isFile() ? st.size : 0;
    } catch (err) {
      throw new IoFailure(`cannot read ${opts.input}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    input = fs.createReadStream(opts.input, { highWaterMark: 1 << 16 });
  }

  let out: Writable;
  if (opts.output !== undefined && opts.output !== '-') {
    const file = fs.createWriteStream(opts.output);
    try {
      await once(file, 'open');
    } catch (err) {
      throw new IoFailure(`cannot write ${opts.output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    out = file;
  } else {
    out = process.stdout;
  }
  let outError: Error | undefined;
  const onOutError = (err: Error): void => {
    outError ??= err;
  };
  out.on('error', onOutError);

  const showProgress = opts.progress ?? stderr.isTTY === true;
  const progress: LineProgress = { bytes: 0 };
  let bar: import('cli-progress').SingleBar | undefined;
  if (showProgress) {
    const { SingleBar, Presets } = await import('cli-progress');
    bar = new SingleBar(
      {
        stream: stderr,
        format: totalBytes > 0 ? 'scoring |{bar}| {percentage}% | {lines} lines | ETA {eta_formatted}' : 'scoring | {lines} lines',
        hideCursor: true,
        clearOnComplete: true,
        fps: 5,
      },
      Presets.shades_classic,
    );
    bar.start(totalBytes || 1, 0, { lines: 0 });
  }

  const summary = new Summary();
  let reported = 0;
  const report = (line: number, message: string): void => {
    if (reported < MAX_REPORTED) {
      if (bar) bar.stop();
      stderr.write(`line ${line}: ${message}\n`);
      if (bar) bar.start(totalBytes || 1, progress.bytes, { lines: line });
    } else if (reported === MAX_REPORTED) {
      stderr.write(`(further bad lines are not shown; see the "error" field of the output)\n`);
    }
    reported++;
  };

  const scoreBatch = async (lines: string[], firstLine: number): Promise<void> => {
    const outLines: OutputLine[] = new Array(lines.length);
    const samples: Sample[] = [];
    const where: number[] = [];
    for (let k = 0; k < lines.length; k++) {
      const lineNo = firstLine + k;
      const text = lines[k];
      if (text.trim().length === 0) {
        outLines[k] = errorLine(lineNo, 'blank line');
        report(lineNo, 'blank line');
        summary.addError(undefined);
        continue;
      }
      let rec: unknown;
      try {
        rec = JSON.parse(text);
      } catch (err) {
        const error = `invalid JSON (${(err as Error).message})`;
        outLines[k] = errorLine(lineNo, error);
        report(lineNo, error);
        summary.addError(undefined);
        continue;
      }
      const r = recordToSample(rec, opts.defaultTask);
      if (!r.ok) {
        outLines[k] = errorLine(lineNo, r.error, r.task, r.id);
        report(lineNo, r.error);
        summary.addError(r.task);
        continue;
      }
      samples.push(r.sample);
      where.push(k);
    }
    if (samples.length > 0) {
      const results: Result[] = await mixedReward(samples, {
        weights: opts.weights,
        thinkPrefilled: opts.thinkPrefilled,
        table,
        backend,
        onError: 'zero',
      });
      for (let j = 0; j < results.length; j++) {
        const k = where[j];
        const lineNo = firstLine + k;
        const res = results[j];
        const error = res.error === undefined ? undefined : stripIndex(res.error);
        outLines[k] = outputLine(lineNo, res, error);
        if (error !== undefined) {
          report(lineNo, error);
          summary.addError(res.task);
        } else {
          summary.addScored(res.task, res.reward, res.accuracy, res.format, noAnswer(samples[j]));
        }
      }
    }
    let chunk = '';
    for (const o of outLines) chunk += JSON.stringify(o) + '\n';
    if (outError) throw new IoFailure(`cannot write the output: ${outError.message}`);
    try {
      if (!out.write(chunk)) await drainOrFail(out);
    } catch (err) {
      throw new IoFailure(`cannot write the output: ${(err as Error).message}`);
    }
    if (bar) bar.update(totalBytes > 0 ? progress.bytes : 1, { lines: firstLine + lines.length - 1 });
  };

  let batch: string[] = [];
  let first = 1;
  let lineNo = 0;
  try {
    for await (const line of readLines(input as AsyncIterable<Buffer>, progress)) {
      lineNo++;
      batch.push(line);
      if (batch.length >= batchSize) {
        await scoreBatch(batch, first);
        first = lineNo + 1;
        batch = [];
      }
    }
  } catch (err) {
    if (bar) bar.stop();
    if (err instanceof IoFailure) throw err;
    if ((err as NodeJS.ErrnoException).code !== undefined) {
      throw new IoFailure(`cannot read ${opts.input === '-' ? 'stdin' : opts.input}: ${(err as Error).message}`);
    }
    throw err;
  }
  if (batch.length > 0) await scoreBatch(batch, first);
  if (bar) bar.stop();

  try {
    if (out === process.stdout) {
      if (process.stdout.writableNeedDrain) await drainOrFail(out);
    } else {
      out.end();
      await once(out, 'finish');
    }
  } catch (err) {
    throw new IoFailure(`cannot write the output: ${(err as Error).message}`);
  }
  if (outError) throw new IoFailure(`cannot write the output: ${outError.message}`);
  out.off('error', onOutError);

  if (!opts.quiet) {
    stderr.write(`\n${summary.render()}\n`);
    if (reported > 0) stderr.write(`${reported} line(s) could not be scored (see "error" in the output)\n`);
  }
}
