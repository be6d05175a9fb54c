/**
 * Shared text normalisation (SPEC §3 `norm`) and number parsing (SPEC §3 "plain numbers", SPEC §4).
 * Every function here is a linear scan: responses can be megabytes of model output, so no regex with
 * nested or adjacent unbounded quantifiers is ever run on them.
 */

const PUNCT = /\p{P}/u;
const WORD = /[\p{L}\p{N}]/u;
const SPACE = /\s/u;

/** The code point that ends at index `end` (exclusive), handling surrogate pairs. */
function codePointBefore(s: string, end: number): number {
  const lo = s.charCodeAt(end - 1);
  if (lo >= 0xdc00 && lo <= 0xdfff && end >= 2) {
    const hi = s.charCodeAt(end - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return s.codePointAt(end - 2) as number;
  }
  return lo;
}

// ASCII fast paths: the scans below run once per character of responses that can be megabytes.
function isWordCode(cp: number): boolean {
  if (cp < 0x80) return (cp >= 0x30 && cp <= 0x39) || ((cp | 0x20) >= 0x61 && (cp | 0x20) <= 0x7a);
  return WORD.test(String.fromCodePoint(cp));
}

function isPunctOrSpaceCode(cp: number): boolean {
  if (cp < 0x80) {
    if (cp <= 0x20) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d);
    // ASCII \p{P}: everything printable but letters, digits and the symbols $ + < = > ^ ` | ~
    if (isWordCode(cp)) return false;
    return !(cp === 0x24 || cp === 0x2b || cp === 0x3c || cp === 0x3d || cp === 0x3e || cp === 0x5e || cp === 0x60 || cp === 0x7c || cp === 0x7e || cp === 0x7f);
  }
  const ch = String.fromCodePoint(cp);
  return PUNCT.test(ch) || SPACE.test(ch);
}

/** True when the character at `i` is a Unicode letter or digit (surrogate-pair aware). */
export function isWordCharAt(s: string, i: number): boolean {
  if (i < 0 || i >= s.length) return false;
  return isWordCode(s.codePointAt(i) as number);
}

/** True when the character just before index `i` is a Unicode letter or digit. */
export function isWordCharBefore(s: string, i: number): boolean {
  if (i <= 0 || i > s.length) return false;
  return isWordCode(codePointBefore(s, i));
}

export function isPunctuation(ch: string): boolean {
  return PUNCT.test(ch);
}

/** Removes Unicode punctuation (\p{P}) and white space from both ends. */
export function stripPunctuationEdges(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end) {
    const cp = s.codePointAt(start) as number;
    if (!isPunctOrSpaceCode(cp)) break;
    start += cp > 0xffff ? 2 : 1;
  }
  while (end > start) {
    const cp = codePointBefore(s, end);
    if (!isPunctOrSpaceCode(cp)) break;
    end -= cp > 0xffff ? 2 : 1;
  }
  return s.slice(start, end);
}

/** Drops markdown emphasis characters: `*`, `_` and backticks. */
export function dropEmphasis(s: string): string {
  return s.replace(/[*_`]/g, '');
}

/** Collapses every run of white space into one space (and trims). */
export function collapseWhitespace(s: string): string {
  // Only runs that are not already one plain space are replaced: a replace per word is slow on
  // megabyte responses, and most white space is single spaces.
  return s.replace(/\s{2,}|[^\S ]/g, ' ').trim();
}

/**
 * SPEC §3 `norm(s)`: lower-case, drop markdown emphasis (`*`, `_`, backticks), collapse white space,
 * strip leading and trailing punctuation (Unicode category P) and spaces. Symbols (`+`, `$`, `°`) are
 * kept, so `c++` does not normalise to `c`.
 */
export function norm(s: string): string {
  return stripPunctuationEdges(collapseWhitespace(dropEmphasis(s.toLowerCase())));
}

// A decimal with an optional exponent; the integer part either has no commas or has commas exactly
// between groups of three digits (`1,234,567`). Sign, currency and `%` are handled by the callers.
// Linear: the alternatives are anchored and no quantified group can match the same text two ways.
const DECIMAL = /^(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Unicode minus (U+2212) is what many tokenizers emit for a negative sign. */
function normalizeSign(ch: string): string {
  return ch === '\u2212' ? '-' : ch;
}

/**
 * Parses an unsigned decimal body (thousands separators allowed between groups of three digits,
 * exponent allowed). Returns null when it is not one, or when it overflows to a non-finite value.
 */
function parseDecimalBody(body: string): number | null {
  if (body.length === 0 || body.length > 4096 || !DECIMAL.test(body)) return null;
  const v = Number(body.replace(/,/g, ''));
  return Number.isFinite(v) ? v : null;
}

/**
 * A "plain number" (SPEC §3): optional sign (`+`, `-`, U+2212 minus), then a decimal as in
 * `parseDecimalBody`. Markdown emphasis and surrounding white space are ignored, and one trailing
 * sentence period is tolerated (`42.` of "The answer is 42." is 42). No currency, no `%`, no units.
 */
export function parsePlainNumber(s: string): number | null {
  if (s.length > 16384) return null;
  let t = dropEmphasis(s).trim();
  if (t.length === 0 || t.length > 4096) return null;
  let sign = 1;
  const first = normalizeSign(t[0] as string);
  if (first === '-' || first === '+') {
    if (first === '-') sign = -1;
    t = t.slice(1);
  }
  let v = parseDecimalBody(t);
  if (v === null && t.endsWith('.')) v = parseDecimalBody(t.slice(0, -1));
  return v === null ? null : sign * v;
}

const CURRENCY = new Set(['$', '€', '£', '¥']);

/**
 * SPEC §4 number: after trimming, removing one currency sign (`$ € £ ¥`) before the digits,
 * thousands separators and one trailing `%`, a finite decimal (sign and exponent allowed).
 * The sign may stand before or after the currency sign (`-$5`, `$-5`). White space is allowed between
 * the currency sign and the digits and before the `%`. One trailing sentence period is tolerated.
 * Returns null for anything else (the caller then compares as text).
 */
export function parseChartNumber(s: string): number | null {
  if (typeof s !== 'string') return null;
  const t = s.trim();
  if (t.length === 0 || t.length > 4096) return null;
  const v = parseChartNumberStrict(t);
  if (v !== null || !t.endsWith('.')) return v;
  return parseChartNumberStrict(t.slice(0, -1).trimEnd());
}

function parseChartNumberStrict(t: string): number | null {
  let i = 0;
  let sign = 1;
  let sawSign = false;
  const takeSign = (): void => {
    const ch = normalizeSign(t[i] ?? '');
    if (!sawSign && (ch === '-' || ch === '+')) {
      sawSign = true;
      if (ch === '-') sign = -1;
      i += 1;
    }
  };
  takeSign();
  if (CURRENCY.has(t[i] ?? '')) {
    i += 1;
    while (i < t.length && SPACE.test(t[i] as string)) i += 1;
    takeSign();
  }
  let end = t.length;
  if (t[end - 1] === '%') {
    end -= 1;
    while (end > i && SPACE.test(t[end - 1] as string)) end -= 1;
  }
  const v = parseDecimalBody(t.slice(i, end));
  return v === null ? null : sign * v;
}
