/**
 * The Mixed-Reward of a rollout batch (SPEC §7): each sample's task reward (accuracy) plus the
 * format reward, weighted. Open-ended samples of one call go to the BMAS kernels as one batch,
 * so the responses of one prompt share their reference's distinct-id work.
 */
import { InvalidArgumentError, SampleError, ValueRangeError } from '../errors.js';
import type { EmbeddingTable } from '../embeddings/table.js';
import { resolveBackend } from '../backend/select.js';
import { bmasBatch, type BmasPair } from '../kernels/bmas.js';
import { extractAnswer } from '../text/extractAnswer.js';
import type { BackendName, Box, Task } from '../types.js';
import { TASKS } from '../types.js';
import { chartReward, checkTolerance } from './chart.js';
import { formatReward } from './format.js';
import { checkThreshold, iouReward } from './iou.js';
import { matchingReward } from './matching.js';
import { resolveTable, scoringTokens } from './openEnded.js';

export interface Sample {
  task: Task;
  response: string;
  /** matching: string; chart: string | number; iou: Box | Box[] | string; open-ended: reference text. */
  answer: string | number | Box | Box[];
  /** Option texts of a multiple-choice question (option i has letter A + i). */
  choices?: string[];
  id?: string | number;
}

export interface Result {
  task: Task | string;
  reward: number;
  accuracy: number;
  format: 0 | 1;
  id?: string | number;
  /** Why the sample scored 0 (only with `onError: 'zero'`). */
  error?: string;
}

export interface MixedRewardOptions {
  /** reward = accuracy·weights.accuracy + format·weights.format; defaults 1 and 1. */
  weights?: { accuracy?: number; format?: number };
  /** Chat templates that inject `<think>`: the leading tag may be absent. */
  thinkPrefilled?: boolean;
  /** Table for open-ended samples; default: the table shipped in the package. */
  table?: EmbeddingTable;
  backend?: BackendName;
  /** 'throw' (default): a malformed sample throws `SampleError` naming its index; 'zero': it
   * scores 0 and its result carries `error`. */
  onError?: 'throw' | 'zero';
  /** Chart reward relative tolerance (default 0.05). */
  tolerance?: number;
  /** IoU reward hit threshold in (0, 1]; default: mean matched IoU. */
  iouThreshold?: number;
  /** BMAS combine mode for open-ended samples (default 'mean'). */
  combine?: 'mean' | 'f1';
}

function weight(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ValueRangeError(`options.weights.${name} must be a finite number`);
  return value;
}

/** Checks the fields mixedReward itself relies on; returns a reason when the sample is malformed.
 * Chart and IoU answers are checked by their reward functions, whose errors name the answer. */
function sampleProblem(s: unknown): string | undefined {
  if (s === null || typeof s !== 'object' || Array.isArray(s)) return 'is not an object';
  const { task, response, answer, choices } = s as Record<string, unknown>;
  if (typeof task !== 'string' || !(TASKS as readonly string[]).includes(task)) {
    return `has unknown task ${JSON.stringify(task)} (expected one of ${TASKS.join(', ')})`;
  }
  if (typeof response !== 'string') return 'has no string response';
  if (answer === undefined || answer === null) return 'has no answer';
  if (choices !== undefined && !(Array.isArray(choices) && choices.every((c) => typeof c === 'string'))) {
    return 'has choices that are not an array of strings';
  }
  switch (task as Task) {
    case 'matching':
      if (typeof answer !== 'string' && !(typeof answer === 'number' && Number.isFinite(answer))) return 'has a matching answer that is not a string';
      break;
    case 'open-ended':
      if (typeof answer !== 'string') return 'has an open-ended answer (reference) that is not a string';
      break;
  }
  return undefined;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function mixedReward(samples: readonly Sample[], options: MixedRewardOptions = {}): Promise<Result[]> {
  if (!Array.isArray(samples)) throw new InvalidArgumentError('samples must be an array');
  const opts = options ?? {};
  if (typeof opts !== 'object') throw new InvalidArgumentError('options must be an object');
  if (opts.onError !== undefined && opts.onError !== 'throw' && opts.onError !== 'zero') {
    throw new InvalidArgumentError(`options.onError must be 'throw' or 'zero' (got ${JSON.stringify(opts.onError)})`);
  }
  const wAcc = weight(opts.weights?.accuracy, 'accuracy', 1);
  const wFmt = weight(opts.weights?.format, 'format', 1);
  const zeroOnError = opts.onError === 'zero';
  const thinkPrefilled = opts.thinkPrefilled === true;
  // Options that concern the whole call are checked before any sample, so they throw even with
  // onError: 'zero' and even when no sample would use them.
  const tolerance = opts.tolerance === undefined ? undefined : checkTolerance(opts.tolerance, 'options.tolerance');
  const iouThreshold = checkThreshold(opts.iouThreshold, 'options.iouThreshold');
  resolveBackend(opts.backend);

  const results: Result[] = new Array(samples.length);
  const fail = (i: number, why: string): void => {
    if (!zeroOnError) throw new SampleError(`samples[${i}] ${why}`, i);
    const s = samples[i] as Partial<Sample> | null;
    const task = s && typeof s === 'object' && typeof s.task === 'string' ? s.task : 'unknown';
    const r: Result = { task, reward: 0, accuracy: 0, format: 0, error: `samples[${i}] ${why}` };
    if (s && typeof s === 'object' && (typeof s.id === 'string' || typeof s.id === 'number')) r.id = s.id;
    results[i] = r;
  };

  const openEnded: number[] = [];
  const pairs: BmasPair[] = [];
  let table: EmbeddingTable | undefined;

  for (let i = 0; i < samples.length; i++) {
    const problem = sampleProblem(samples[i]);
    if (problem) {
      fail(i, problem);
      continue;
    }
    const s = samples[i];
    const format = formatReward(s.response, { thinkPrefilled });
    const base: Result = { task: s.task, reward: 0, accuracy: 0, format };
    if (s.id !== undefined) base.id = s.id;
    try {
      switch (s.task) {
        case 'matching':
          base.accuracy = matchingReward(s.response, String(s.answer), s.choices ? { choices: s.choices } : undefined);
          break;
        case 'chart':
          base.accuracy = chartReward(s.response, s.answer as string | number, { tolerance });
          break;
        case 'iou':
          base.accuracy = iouReward(s.response, s.answer as Box | Box[] | string, { threshold: iouThreshold });
          break;
        case 'open-ended': {
          table ??= resolveTable(opts.table);
          pairs.push({
            response: scoringTokens(table, extractAnswer(s.response)),
            reference: scoringTokens(table, s.answer as string),
          });
          openEnded.push(i);
          break;
        }
      }
    } catch (err) {
      fail(i, `could not be scored: ${message(err)}`);
      continue;
    }
    base.reward = wAcc * base.accuracy + wFmt * format;
    results[i] = base;
  }

  if (pairs.length > 0 && table) {
    const scores = await bmasBatch(table, pairs, { backend: opts.backend, combine: opts.combine });
    openEnded.forEach((i, k) => {
      const r = results[i];
      r.accuracy = scores[k];
      r.reward = wAcc * r.accuracy + wFmt * r.format;
    });
  }
  return results;
}
