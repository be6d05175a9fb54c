/**
 * SPEC §3 matching reward (yes/no, multiple choice, short free-form answers), 0 or 1.
 * Every rule is a linear scan of the extracted answer, and every hedge (`A or B`, a list of all the
 * options, two letters named in two places) leaves no prediction, so it scores 0.
 */
import { InvalidArgumentError } from '../errors.js';
import { describe, extractAnswer } from '../text/extractAnswer.js';
import {
  dropEmphasis,
  isPunctuation,
  isWordCharAt,
  isWordCharBefore,
  norm,
  parsePlainNumber,
  stripPunctuationEdges,
} from '../text/normalize.js';

export interface MatchingOptions {
  /** Option texts; option i has letter A+i. */
  choices?: string[];
}

export function matchingReward(response: string, answer: string, opts?: MatchingOptions): 0 | 1 {
  if (typeof response !== 'string') {
    throw new InvalidArgumentError(`response must be a string, got ${describe(response)}`);
  }
  if (typeof answer !== 'string') {
    throw new InvalidArgumentError(`answer must be a string, got ${describe(answer)}`);
  }
  const choices = readChoices(opts);
  const a = unwrapLatexText(extractAnswer(response));
  const ref = unwrapLatexText(answer);
  const na = norm(a);
  const nref = norm(ref);
  // An empty prediction never scores, and an empty reference can only be matched by nothing.
  if (na.length === 0 || nref.length === 0) return 0;

  const pair = yesNoPair(nref);
  if (pair !== null) return predictYesNo(na, pair) === nref ? 1 : 0;

  const letter = answerLetter(nref);
  if (letter !== null) return predictLetter(a, na, choices) === letter ? 1 : 0;

  const pNum = parsePlainNumber(a);
  const tNum = parsePlainNumber(ref);
  if (pNum !== null && tNum !== null) return pNum === tNum ? 1 : 0;
  return na === nref ? 1 : 0;
}

function readChoices(opts: MatchingOptions | undefined): string[] | undefined {
  if (opts === undefined || opts === null) return undefined;
  if (typeof opts !== 'object') {
    throw new InvalidArgumentError(`opts must be an object, got ${describe(opts)}`);
  }
  const c = opts.choices;
  if (c === undefined || c === null) return undefined;
  if (!Array.isArray(c)) {
    throw new InvalidArgumentError(`opts.choices must be an array of strings, got ${describe(c)}`);
  }
  c.forEach((x, i) => {
    if (typeof x !== 'string') {
      throw new InvalidArgumentError(`opts.choices[${i}] must be a string, got ${describe(x)}`);
    }
  });
  return c;
}

// `\boxed{\text{B}}` and friends are how math-trained models write a word or letter in LaTeX.
// `[^{}]*` stops at the next brace, so each match attempt scans at most to the next brace: linear.
const LATEX_TEXT = /\\(?:text|textbf|textit|textrm|texttt|mathrm|mathbf|mathit|mbox)\{([^{}]*)\}/g;

function unwrapLatexText(s: string): string {
  return s.includes('\\') ? s.replace(LATEX_TEXT, '$1') : s;
}

// ---------------------------------------------------------------------------------------------
// Yes / no

type Pair = readonly [string, string];
const YES_NO: Pair = ['yes', 'no'];
const TRUE_FALSE: Pair = ['true', 'false'];

function yesNoPair(nref: string): Pair | null {
  if (nref === 'yes' || nref === 'no') return YES_NO;
  if (nref === 'true' || nref === 'false') return TRUE_FALSE;
  return null;
}

/** SPEC §3 yes/no prediction on norm(a): the first token if it is one of the pair, else the one
 * word of the pair that occurs as a whole word, else none. */
export function predictYesNo(na: string, pair: Pair): string | null {
  const sp = na.indexOf(' ');
  const first = stripPunctuationEdges(sp < 0 ? na : na.slice(0, sp));
  if (first === pair[0] || first === pair[1]) return first;
  const has0 = hasWholeWord(na, pair[0]);
  const has1 = hasWholeWord(na, pair[1]);
  if (has0 === has1) return null;
  return has0 ? pair[0] : pair[1];
}

/** `needle` occurs in `hay` not inside a longer run of letters/digits (at ends made of such chars). */
function hasWholeWord(hay: string, needle: string): boolean {
  if (needle.length === 0) return false;
  const checkStart = isWordCharAt(needle, 0);
  const checkEnd = isWordCharBefore(needle, needle.length);
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) {
    const end = i + needle.length;
    if (checkStart && isWordCharBefore(hay, i)) continue;
    if (checkEnd && isWordCharAt(hay, end)) continue;
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Choice letters

/** The letter of a choice-letter answer (`B`, `b`, `(B)`, `B.`, `B)`, `[B]`, `**B**`), upper-case. */
function answerLetter(nref: string): string | null {
  return isAsciiLetterString(nref) ? nref.toUpperCase() : null;
}

function isAsciiLetterString(s: string): boolean {
  return s.length === 1 && isAsciiLetterCode(s.charCodeAt(0));
}

function isUpper(c: number): boolean {
  return c >= 0x41 && c <= 0x5a;
}

function isAsciiLetterCode(c: number): boolean {
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x7a;
}

/**
 * SPEC §3 letter prediction, rules 1–4 in order, on the extracted answer `a` (LaTeX text unwrapped)
 * and `na = norm(a)`. Returns the upper-case letter or null (no prediction).
 */
export function predictLetter(a: string, na: string, choices?: readonly string[]): string | null {
  // Rule 1: the whole answer is one letter with optional wrappers (`(b)`, `[B]`, `B.`, `**B**`).
  if (isAsciiLetterString(na)) return na.toUpperCase();

  const s = dropEmphasis(a).trim();
  const phrase = phraseLetters(s);

  // Rule 2: a leading option marker followed by text. It stands only when no other option marker and
  // no answer phrase names a different letter: an answer that lists the options (`A. cat B. dog`) or
  // contradicts itself (`B. cat, the answer is C`) has no prediction.
  const lead = leadingMarker(s);
  if (lead !== null) {
    for (const l of markerLetters(s)) if (l !== lead) return null;
    for (const l of phrase) if (l !== lead) return null;
    return lead;
  }

  // Rule 3: `answer is B`, `answer: (B)`, `option C`, `choice D`; two different letters: no prediction.
  if (phrase.size === 1) return phrase.values().next().value as string;
  if (phrase.size > 1) return null;

  // Rule 4: the option whose text is the answer, else the only option whose text occurs in it.
  if (choices !== undefined && choices.length > 0) return letterFromChoices(na, choices);
  return null;
}

// `B. a cat`, `B) 42`, `B: dog` (upper-case, then white space) or `(C) the dog`, `[C] dog`.
const LEADING_MARKER = /^(?:[([]([A-Z])[)\]](?![\p{L}\p{N}])|([A-Z])[.):](?=\s))/u;

function leadingMarker(s: string): string | null {
  const m = LEADING_MARKER.exec(s);
  if (m === null) return null;
  return (m[1] ?? m[2]) as string;
}

// Option markers anywhere: a bracketed letter `(b)`/`[B]` (either case), or an upper-case `B.`, `B)`,
// `B:` at the start or after white space and followed by white space or the end.
const MARKER = /[([]([A-Za-z])[)\]]|(?:^|\s)([A-Z])[.):](?=\s|$)/g;

function markerLetters(s: string): Set<string> {
  const out = new Set<string>();
  MARKER.lastIndex = 0;
  for (let m = MARKER.exec(s); m !== null; m = MARKER.exec(s)) {
    if (m[1] !== undefined) {
      // `f(x)` or `(a)b` is not a marker.
      if (isWordCharBefore(s, m.index) || isWordCharAt(s, m.index + 3)) continue;
      out.add(m[1].toUpperCase());
    } else {
      out.add(m[2] as string);
    }
    if (out.size > 1) break;
  }
  return out;
}

const KEYWORD = /answer|option|choice/gi;
const FILLERS = new Set(['is', 'be', 'was', 'would', 'should', 'will', 'must', 'option', 'choice', 'letter']);
const JOINERS = new Set(['or', 'and', 'vs']);
// Bounds on the words skipped after a keyword and on the letters chained by `or`/`,`: they keep the
// scan linear (each keyword looks a bounded number of tokens ahead) and no real phrase is longer.
const MAX_FILLERS = 6;
const MAX_CHAINED = 26;

/** Letters named by answer phrases (SPEC §3 rule 3), upper-case. */
export function phraseLetters(s: string): Set<string> {
  const out = new Set<string>();
  KEYWORD.lastIndex = 0;
  for (let m = KEYWORD.exec(s); m !== null; m = KEYWORD.exec(s)) {
    const end = m.index + m[0].length;
    // Whole word only: not `reanswer`, not `answers`/`options`/`choices`.
    if (isWordCharBefore(s, m.index) || isWordCharAt(s, end)) continue;
    let i = skipFillers(s, end);
    let cand = readLetter(s, i);
    for (let k = 0; cand !== null && k < MAX_CHAINED; k++) {
      out.add(cand.letter);
      i = skipSpaces(s, cand.end);
      const ch = s[i];
      if (ch === ',' || ch === '/' || ch === '&') {
        i += 1;
      } else {
        const w = asciiWordAt(s, i).toLowerCase();
        if (!JOINERS.has(w)) break;
        i += w.length;
      }
      cand = readLetter(s, skipFillers(s, i));
    }
  }
  return out;
}

function skipSpaces(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c > 0x7f && /\s/.test(s[i] as string))) i++;
    else break;
  }
  return i;
}

function skipFillers(s: string, i: number): number {
  for (let k = 0; k < MAX_FILLERS; k++) {
    i = skipSpaces(s, i);
    const ch = s[i];
    if (ch === ':' || ch === '=' || ch === '-') {
      i += 1;
      continue;
    }
    const w = asciiWordAt(s, i);
    if (w.length > 1 && FILLERS.has(w.toLowerCase()) && !isWordCharAt(s, i + w.length)) {
      i += w.length;
      continue;
    }
    break;
  }
  return skipSpaces(s, i);
}

/** The run of ASCII letters at i (at most 8: longer words are never fillers or joiners). */
function asciiWordAt(s: string, i: number): string {
  let j = i;
  while (j < s.length && j - i < 8 && isAsciiLetterCode(s.charCodeAt(j))) j++;
  return s.slice(i, j);
}

/**
 * A letter named at i: bracketed `(b)`/`[B]` (either case), or a lone letter that is upper-case, or
 * followed by punctuation or the end of the text (`answer is a.`; `answer is a cat` names none).
 * An upper-case `I` followed by a lower-case word is the pronoun (`Answer: I think B`).
 */
function readLetter(s: string, i: number): { letter: string; end: number } | null {
  const c = s.charCodeAt(i);
  if (c === 0x28 /* ( */ || c === 0x5b /* [ */) {
    const l = s.charCodeAt(i + 1);
    const close = s[i + 2];
    if (isAsciiLetterCode(l) && (close === ')' || close === ']')) {
      return { letter: String.fromCharCode(l).toUpperCase(), end: i + 3 };
    }
    return null;
  }
  if (!isAsciiLetterCode(c) || isWordCharAt(s, i + 1)) return null;
  const end = i + 1;
  if (isUpper(c)) {
    if (c === 0x49 /* I */ && /^\s+[a-z]/.test(s.slice(end, end + 3))) return null;
    return { letter: s[i] as string, end };
  }
  if (end === s.length || isPunctuation(s[end] as string)) {
    return { letter: (s[i] as string).toUpperCase(), end };
  }
  return null;
}

/** Rule 4: letter of the option whose normalised text equals na, else of the only one occurring in na. */
function letterFromChoices(na: string, choices: readonly string[]): string | null {
  const n = Math.min(choices.length, 26);
  const texts: string[] = [];
  for (let i = 0; i < n; i++) texts.push(norm(stripOwnMarker(choices[i] as string, i)));
  let equal = -1;
  let equalCount = 0;
  for (let i = 0; i < n; i++) {
    if (texts[i] !== '' && texts[i] === na) {
      equal = i;
      equalCount++;
    }
  }
  if (equalCount === 1) return String.fromCharCode(0x41 + equal);
  let found = -1;
  for (let i = 0; i < n; i++) {
    const t = texts[i] as string;
    if (t === '' || !hasWholeWord(na, t)) continue;
    if (found >= 0) return null;
    found = i;
  }
  return found >= 0 ? String.fromCharCode(0x41 + found) : null;
}

/** Datasets often store options as `A. cat` or `(A) cat`; the marker of the option's own letter is
 * not part of its text. */
function stripOwnMarker(choice: string, i: number): string {
  const t = choice.trim();
  const upper = String.fromCharCode(0x41 + i);
  const m = /^[([]?([A-Za-z])[)\].:]\s*/.exec(t);
  if (m === null || (m[1] as string).toUpperCase() !== upper) return t;
  return t.slice(m[0].length);
}
