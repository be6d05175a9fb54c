/**
 * SPEC §2 format reward: 1 exactly when the trimmed response is
 * `<think>X</think>` + optional white space + `<answer>Y</answer>`, each tag once, Y non-empty.
 */
import { InvalidArgumentError } from '../errors.js';
import { describe } from '../text/extractAnswer.js';

export interface FormatOptions {
  /** The chat template injects `<think>`, so the response may start inside the thinking. */
  thinkPrefilled?: boolean;
}

// Found case-insensitively so that `<THINK>` or `<Answer>` anywhere counts as a second (and wrongly
// cased) tag and fails the layout, instead of slipping through as plain text.
const TAG = /<(\/?)(think|answer)>/gi;

const OPEN_THINK = '<think>';
const CLOSE_THINK = '</think>';
const OPEN_ANSWER = '<answer>';
const CLOSE_ANSWER = '</answer>';

export function formatReward(response: string, opts?: FormatOptions): 0 | 1 {
  if (typeof response !== 'string') {
    throw new InvalidArgumentError(`response must be a string, got ${describe(response)}`);
  }
  const thinkPrefilled = readThinkPrefilled(opts);
  const r = response.trim();

  // Position of each tag, or -1; a second occurrence (any case) or a wrongly cased one fails at once.
  const pos: Record<string, number> = {
    [OPEN_THINK]: -1,
    [CLOSE_THINK]: -1,
    [OPEN_ANSWER]: -1,
    [CLOSE_ANSWER]: -1,
  };
  TAG.lastIndex = 0;
  for (let m = TAG.exec(r); m !== null; m = TAG.exec(r)) {
    const key = m[0].toLowerCase();
    if (m[0] !== key || (pos[key] as number) >= 0) return 0;
    pos[key] = m.index;
  }
  const openThink = pos[OPEN_THINK] as number;
  const closeThink = pos[CLOSE_THINK] as number;
  const openAnswer = pos[OPEN_ANSWER] as number;
  const closeAnswer = pos[CLOSE_ANSWER] as number;

  if (openThink >= 0) {
    if (openThink !== 0) return 0;
  } else if (!thinkPrefilled) {
    return 0;
  }
  if (closeThink < 0 || openAnswer < 0 || closeAnswer < 0) return 0;
  if (closeAnswer !== r.length - CLOSE_ANSWER.length) return 0;
  // Only white space between `</think>` and `<answer>`; this also fixes the order of the tags.
  if (openAnswer < closeThink) return 0;
  const between = r.slice(closeThink + CLOSE_THINK.length, openAnswer);
  if (between.trim().length !== 0) return 0;
  const y = r.slice(openAnswer + OPEN_ANSWER.length, closeAnswer);
  return y.trim().length > 0 ? 1 : 0;
}

function readThinkPrefilled(opts: FormatOptions | undefined): boolean {
  if (opts === undefined || opts === null) return false;
  if (typeof opts !== 'object') {
    throw new InvalidArgumentError(`opts must be an object, got ${describe(opts)}`);
  }
  const v = opts.thinkPrefilled;
  if (v === undefined) return false;
  if (typeof v !== 'boolean') {
    throw new InvalidArgumentError(`opts.thinkPrefilled must be a boolean, got ${describe(v)}`);
  }
  return v;
}
