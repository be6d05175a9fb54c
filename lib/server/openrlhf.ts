/**
 * OpenRLHF's remote reward protocol. OpenRLHF posts `{"query", "prompts", "labels"}` where each
 * query is prompt + response decoded with special tokens kept (left padding included), so the
 * response has to be cut out of the query and its end-of-turn / padding tokens removed.
 * All scans here are plain index searches: linear in the text, whatever the text holds.
 */
import type { Sample } from '../rewards/mixed.js';
import type { Task } from '../types.js';
import { fieldsToSample, hasTaskOrAnswer } from '../cli/records.js';

/** Tokens that end a turn or pad a sequence in common chat templates (Qwen, Llama 2/3, Phi, …). */
export const END_TOKENS: readonly string[] = ['<|im_end|>', '<|endoftext|>', '</s>', '<|eot_id|>', '<|end|>', '<pad>', '<|end_of_text|>', '<|pad|>'];

/** Padding that may precede the prompt in a left-padded batch. */
const PAD_TOKENS: readonly string[] = ['<|endoftext|>', '<|im_end|>', '<pad>', '<|pad|>', '</s>', '<|end_of_text|>', '<unk>'];

/** Where the assistant's turn starts in common templates, for queries whose prompt is not found. */
const ASSISTANT_MARKERS: readonly string[] = [
  '<|im_start|>assistant',
  '<|start_header_id|>assistant<|end_header_id|>',
  '<|assistant|>',
  '<start_of_turn>model',
  '[/INST]',
  'Assistant:',
];

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12 || c === 0xa0;
}

/** `text` without trailing end/padding tokens and white space, repeated: `A<|im_end|>\n<|endoftext|><|endoftext|>` -> `A`. */
export function stripTrailingTokens(text: string, tokens: readonly string[] = END_TOKENS): string {
  let end = text.length;
  for (;;) {
    while (end > 0 && isSpace(text.charCodeAt(end - 1))) end--;
    let removed = false;
    for (const t of tokens) {
      if (end >= t.length && text.startsWith(t, end - t.length)) {
        end -= t.length;
        removed = true;
        break;
      }
    }
    if (!removed) break;
  }
  return end === text.length ? text : text.slice(0, end);
}

/** Index after leading padding tokens and white space. */
function skipLeadingPadding(text: string): number {
  let start = 0;
  for (;;) {
    while (start < text.length && isSpace(text.charCodeAt(start))) start++;
    let skipped = false;
    for (const t of PAD_TOKENS) {
      if (text.startsWith(t, start)) {
        start += t.length;
        skipped = true;
        break;
      }
    }
    if (!skipped) return start;
  }
}

/**
 * The response inside an OpenRLHF query: the text after the prompt (searched from the end of any
 * left padding, then anywhere), with trailing end/padding tokens removed. When the prompt is
 * absent or not found (a tokenizer that does not round-trip it), the text after the last
 * assistant-turn marker of a known chat template; failing that, the whole query after padding.
 */
export function responseFromQuery(query: string, prompt?: string | null): string {
  const start = skipLeadingPadding(query);
  let from = -1;
  if (typeof prompt === 'string' && prompt.length > 0) {
    if (query.startsWith(prompt, start)) from = start + prompt.length;
    else {
      const at = query.indexOf(prompt);
      if (at >= 0) from = at + prompt.length;
      else {
        const trimmed = prompt.trim();
        const at2 = trimmed.length > 0 ? query.indexOf(trimmed) : -1;
        if (at2 >= 0) from = at2 + trimmed.length;
      }
    }
  }
  if (from < 0) {
    for (const m of ASSISTANT_MARKERS) {
      const at = query.lastIndexOf(m);
      if (at >= 0) {
        // The white space after a marker belongs to the template, not to the response.
        from = at + m.length;
        while (from < query.length && isSpace(query.charCodeAt(from))) from++;
        break;
      }
    }
  }
  if (from < 0) from = start;
  return stripTrailingTokens(query.slice(from));
}

export class LabelError extends Error {}

/**
 * A label is a JSON string `{"task", "answer", "choices"?}` (an object is accepted as is), or a
 * plain answer for the default task: any string that is not a JSON object, a number, or a list
 * (boxes). Throws `LabelError` for a label that cannot give an answer.
 */
export function labelToSample(label: unknown, response: string, defaultTask: Task): Sample {
  let value: unknown = label;
  if (typeof label === 'string') {
    const t = label.trimStart();
    if (t.startsWith('{')) {
      try {
        value = JSON.parse(label);
      } catch {
        value = label;
      }
    }
  }
  if (value === null || value === undefined) throw new LabelError('is null');
  if (typeof value === 'string' || typeof value === 'number' || Array.isArray(value)) {
    return { task: defaultTask, response, answer: value as Sample['answer'] };
  }
  if (typeof value !== 'object') throw new LabelError(`must be a string, a number or an object (got ${typeof value})`);
  const obj = value as Record<string, unknown>;
  // A JSON string with neither a task nor an answer key is itself an answer (a Qwen2.5-VL
  // `{"bbox_2d": [...]}` box, say).
  if (typeof label === 'string' && !hasTaskOrAnswer(obj)) return { task: defaultTask, response, answer: label };
  const r = fieldsToSample(obj, defaultTask, response);
  if (!r.ok) throw new LabelError(r.error);
  return r.sample;
}
