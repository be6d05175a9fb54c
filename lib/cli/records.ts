/**
 * Turns one input record (a JSONL line of `score`, a sample of `POST /score`) into a `Sample`.
 * Trainers' datasets name the same fields differently, so a few common aliases are accepted;
 * the first alias present wins, in the order listed.
 */
import type { Sample } from '../rewards/mixed.js';
import type { Task } from '../types.js';
import { TASKS } from '../types.js';

export const DEFAULT_TASK: Task = 'matching';

const RESPONSE_KEYS = ['response', 'completion', 'output'] as const;
const ANSWER_KEYS = ['answer', 'solution', 'ground_truth', 'label'] as const;
const CHOICE_KEYS = ['choices', 'options'] as const;
const TASK_KEYS = ['task', 'task_type'] as const;

export type RecordResult =
  | { ok: true; sample: Sample }
  | { ok: false; error: string; task?: string; id?: string | number };

/** Task names as users write them: `open_ended`, `Open-Ended`, `openended` all mean `open-ended`. */
export function parseTask(value: unknown): Task | undefined {
  if (typeof value !== 'string') return undefined;
  const key = value.trim().toLowerCase().replace(/[_ ]/g, '-');
  if ((TASKS as readonly string[]).includes(key)) return key as Task;
  if (key === 'openended') return 'open-ended';
  return undefined;
}

function pick(rec: Record<string, unknown>, keys: readonly string[]): { key: string; value: unknown } | undefined {
  for (const key of keys) {
    if (Object.prototype.hasOwnProperty.call(rec, key) && rec[key] !== undefined) return { key, value: rec[key] };
  }
  return undefined;
}

/** Text of a chat message's `content`: a string, or an array of parts with `text`. */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let out = '';
    for (const part of content) {
      if (typeof part === 'string') out += part;
      else if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') out += (part as { text: string }).text;
    }
    return out;
  }
  return undefined;
}

/** A response is a string, or (TRL's conversational format) a list of messages whose last one
 * is the model's turn. */
function responseText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length > 0) {
    const last = value[value.length - 1];
    if (last && typeof last === 'object' && !Array.isArray(last)) return contentText((last as { content?: unknown }).content);
  }
  return undefined;
}

function idOf(rec: Record<string, unknown>): string | number | undefined {
  const id = rec.id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : undefined;
}

/**
 * Task, response (unless the caller has it) and answer of a record, aliases resolved. Only what
 * `mixedReward` cannot see through the aliases (no response field, no answer field, an unknown
 * task name) is reported here; the types of the answer and the choices are left to
 * `mixedReward`, which names them.
 */
export function fieldsToSample(r: Record<string, unknown>, defaultTask: Task, knownResponse?: string): RecordResult {
  const taskField = pick(r, TASK_KEYS);
  let task: Task | undefined = defaultTask;
  if (taskField && taskField.value !== null) {
    task = parseTask(taskField.value);
    if (!task) return { ok: false, error: `unknown task ${JSON.stringify(taskField.value)} (expected one of ${TASKS.join(', ')})` };
  }
  let response = knownResponse;
  if (response === undefined) {
    const resp = pick(r, RESPONSE_KEYS);
    if (!resp) return { ok: false, task, error: `missing response (expected one of the fields ${RESPONSE_KEYS.join(', ')})` };
    response = responseText(resp.value);
    if (response === undefined) return { ok: false, task, error: `${resp.key} must be a string or a list of chat messages` };
  }
  const ans = pick(r, ANSWER_KEYS);
  if (!ans || ans.value === null) {
    return { ok: false, task, error: `missing answer (expected one of the fields ${ANSWER_KEYS.join(', ')})` };
  }
  const sample: Sample = { task, response, answer: ans.value as Sample['answer'] };
  const ch = pick(r, CHOICE_KEYS);
  if (ch && ch.value !== null) sample.choices = ch.value as string[];
  return { ok: true, sample };
}

/** Maps a parsed record (a JSONL line, a `POST /score` sample) to a sample. */
export function recordToSample(rec: unknown, defaultTask: Task = DEFAULT_TASK): RecordResult {
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
    return { ok: false, error: `expected a JSON object, got ${rec === null ? 'null' : Array.isArray(rec) ? 'an array' : typeof rec}` };
  }
  const r = rec as Record<string, unknown>;
  const res = fieldsToSample(r, defaultTask);
  const id = idOf(r);
  if (id !== undefined) {
    if (res.ok) res.sample.id = id;
    else res.id = id;
  }
  return res;
}

/** Whether `r` names a task or an answer under any alias. */
export function hasTaskOrAnswer(r: Record<string, unknown>): boolean {
  return pick(r, TASK_KEYS) !== undefined || pick(r, ANSWER_KEYS) !== undefined;
}

/** `mixedReward` names a sample by its index in its own batch; callers replace it with theirs. */
export function stripIndex(error: string): string {
  if (!error.startsWith('samples[')) return error;
  const close = error.indexOf('] ');
  return close < 0 ? error : error.slice(close + 2);
}
