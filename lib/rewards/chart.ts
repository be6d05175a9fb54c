/**
 * SPEC §4 chart reward: ChartQA's relaxed accuracy. Numbers match within a relative tolerance of the
 * answer; anything else matches as lightly normalised text.
 */
import { InvalidArgumentError, ValueRangeError } from '../errors.js';
import { describe, extractAnswer } from '../text/extractAnswer.js';
import { collapseWhitespace, parseChartNumber } from '../text/normalize.js';

export interface ChartOptions {
  /** Relative tolerance, default 0.05 (ChartQA's 5%). Must be finite and >= 0. */
  tolerance?: number;
}

export const DEFAULT_CHART_TOLERANCE = 0.05;

/** Text comparison form: lower-case, white space collapsed, one trailing period removed. */
export function chartText(s: string): string {
  let t = collapseWhitespace(s.toLowerCase());
  if (t.endsWith('.')) t = t.slice(0, -1).trimEnd();
  return t;
}

/** Validates a chart tolerance (shared with mixedReward's option). */
export function checkTolerance(tolerance: unknown, name = 'tolerance'): number {
  if (tolerance === undefined) return DEFAULT_CHART_TOLERANCE;
  if (typeof tolerance !== 'number') {
    throw new InvalidArgumentError(`${name} must be a number, got ${describe(tolerance)}`);
  }
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new ValueRangeError(`${name} must be a finite number >= 0, got ${tolerance}`);
  }
  return tolerance;
}

/**
 * 1 when the extracted answer of `response` is a number p within `tolerance`·|t| of the answer t
 * (t = 0 needs p = 0), or, when either side is not a number, when both are the same text.
 */
export function chartReward(response: string, answer: string | number, opts?: ChartOptions): 0 | 1 {
  if (typeof response !== 'string') {
    throw new InvalidArgumentError(`response must be a string, got ${describe(response)}`);
  }
  if (typeof answer !== 'string' && typeof answer !== 'number') {
    throw new InvalidArgumentError(`answer must be a string or a number, got ${describe(answer)}`);
  }
  if (typeof answer === 'number' && !Number.isFinite(answer)) {
    // An infinite answer would accept every prediction (|p - ∞| <= tol·∞).
    throw new ValueRangeError(`answer must be a finite number, got ${answer}`);
  }
  if (opts !== undefined && opts !== null && typeof opts !== 'object') {
    throw new InvalidArgumentError(`opts must be an object, got ${describe(opts)}`);
  }
  const tolerance = checkTolerance(opts?.tolerance, 'opts.tolerance');

  const pred = extractAnswer(response);
  const t = typeof answer === 'number' ? answer : parseChartNumber(answer);
  const p = parseChartNumber(pred);
  if (t !== null && p !== null) return Math.abs(p - t) <= tolerance * Math.abs(t) ? 1 : 0;

  const pt = chartText(pred);
  // An empty prediction never scores, even against an empty answer string.
  if (pt.length === 0) return 0;
  return pt === chartText(typeof answer === 'number' ? String(answer) : answer) ? 1 : 0;
}
