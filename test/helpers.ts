/** Assertions shared by the test files (not a test file itself: uvu runs `*.test.js` only). */
import * as assert from 'uvu/assert';

/** `fn` throws an Error whose `code` is `code` (and whose message matches `pattern`). */
export function throwsCode(fn: () => unknown, code: string, pattern?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, `expected a throw with code ${code}`);
  assert.is((caught as { code?: string }).code, code);
  if (pattern) assert.match((caught as Error).message, pattern);
}

/** `p()` rejects with an Error whose `code` is `code`. */
export async function rejectsCode(p: () => Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  try {
    await p();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, `expected a rejection with code ${code}`);
  assert.is((caught as { code?: string }).code, code);
}
