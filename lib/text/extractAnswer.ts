/**
 * SPEC §2 `extractAnswer`: the answer block, else the last `\boxed{…}`, else the text after the last
 * `</think>`. Every step is one linear pass over the response, whatever it holds.
 */
import { InvalidArgumentError } from '../errors.js';

// Tags match case-insensitively (SPEC §2). Without the `u` flag, `i` only folds a non-ASCII character
// to a non-ASCII one, so look-alikes such as the Kelvin sign never match `k`.
const ANSWER_TAG = /<(\/?)answer>/gi;
const THINK_CLOSE = /<\/think>/gi;

/**
 * Content of the last complete `<answer>…</answer>` block, or null. A block is an opening tag followed
 * by a closing tag with no other answer tag in between: `<answer>a<answer>b</answer>` holds `b` (the
 * nearer opening tag wins) and a stray `</answer>` closes nothing.
 */
function lastAnswerBlock(response: string): string | null {
  let open = -1;
  let found: string | null = null;
  ANSWER_TAG.lastIndex = 0;
  for (let m = ANSWER_TAG.exec(response); m !== null; m = ANSWER_TAG.exec(response)) {
    const end = m.index + m[0].length;
    if (m[1] === '') {
      open = end;
    } else if (open >= 0) {
      found = response.slice(open, m.index);
      open = -1;
    }
  }
  return found;
}

const BOXED = '\\boxed{';

/**
 * Content of the last `\boxed{…}` whose braces balance, or null. One pass with a stack of open
 * braces; `\{` and `\}` are LaTeX literals and do not count. "Last" is by position of `\boxed`, so in
 * `\boxed{\boxed{1}}` it is the inner one; an unclosed `\boxed{` (a truncated response) is skipped in
 * favour of the last complete one before it.
 */
export function lastBoxed(response: string): string | null {
  if (!response.includes(BOXED)) return null;
  // Open `\boxed{` braces (content start) and, for each, how many ordinary `{` are open above it.
  // Ordinary braces with no `\boxed{` below them can never close one, so they are not tracked.
  const starts: number[] = [];
  const above: number[] = [];
  let bestStart = -1;
  let bestContent: string | null = null;
  const n = response.length;
  for (let i = 0; i < n; i++) {
    const c = response.charCodeAt(i);
    if (c === 0x5c /* \ */) {
      if (response.startsWith(BOXED, i)) {
        starts.push(i + BOXED.length);
        above.push(0);
        i += BOXED.length - 1;
      } else {
        i += 1; // skip the escaped character (`\{`, `\}`, `\\`)
      }
    } else if (starts.length === 0) {
      continue;
    } else if (c === 0x7b /* { */) {
      above[above.length - 1] += 1;
    } else if (c === 0x7d /* } */) {
      const top = above.length - 1;
      if ((above[top] as number) > 0) {
        above[top] -= 1;
        continue;
      }
      above.pop();
      const start = starts.pop() as number;
      if (start > bestStart) {
        bestStart = start;
        bestContent = response.slice(start, i);
      }
    }
  }
  return bestContent;
}

/** Text after the last `</think>` (case-insensitive), or the whole response. */
function afterThink(response: string): string {
  let last = -1;
  THINK_CLOSE.lastIndex = 0;
  for (let m = THINK_CLOSE.exec(response); m !== null; m = THINK_CLOSE.exec(response)) {
    last = m.index + m[0].length;
  }
  return last >= 0 ? response.slice(last) : response;
}

/**
 * The answer a response gives (SPEC §2):
 * 1. the content of the last complete `<answer>…</answer>` block (tags case-insensitive), trimmed;
 * 2. else the content of the last `\boxed{…}` with balanced braces, trimmed;
 * 3. else the text after the last `</think>`, or the whole response, trimmed.
 */
export function extractAnswer(response: string): string {
  if (typeof response !== 'string') {
    throw new InvalidArgumentError(`response must be a string, got ${describe(response)}`);
  }
  const block = lastAnswerBlock(response);
  if (block !== null) return block.trim();
  const boxed = lastBoxed(response);
  if (boxed !== null) return boxed.trim();
  return afterThink(response).trim();
}

/** Short type description for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}
