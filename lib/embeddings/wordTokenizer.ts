/**
 * The tokenizer of the default table: text split the way the GloVe 6B vectors were built
 * (lower-cased, Penn-Treebank-style tokens: words, hyphenated compounds, each punctuation mark a
 * token, clitics split off as in "do n't", "ca n't"). One linear scan, no regular expression on the
 * text as a whole, so any input (10 MB, binary junk) tokenises in linear time and never throws.
 *
 * Id 0 is <unk>: an all-zero row (similarity 0 with everything) and a control id, so words the
 * table does not know (numbers, single letters such as "a" and "i", which the source package left
 * out, other scripts, emoji) are left out of BMAS instead of diluting it.
 */
import type { TextTokenizer } from './table.js';

export const UNK_ID = 0;

/** Longer "words" are junk (base64, minified code): never looked up. */
const MAX_WORD_LENGTH = 64;

/** Clitics the source vocabulary dropped, mapped to the word they stand for; "'s" (is / has /
 * possessive) has no single reading and stays unknown. */
const CLITICS: Readonly<Record<string, string | null>> = {
  "n't": 'not',
  "'re": 'are',
  "'m": 'am',
  "'ll": 'will',
  "'ve": 'have',
  "'d": 'would',
  "'s": null,
};

const LETTER_OR_DIGIT = /[\p{L}\p{N}\p{M}]/u;
const COMBINING_MARKS = /\p{M}/gu;

function isSpace(c: number): boolean {
  return c <= 0x20 || c === 0x7f || c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200b) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function isApostrophe(c: number): boolean {
  return c === 0x27 || c === 0x2019;
}

export class WordTokenizer implements TextTokenizer {
  readonly controlIds: ReadonlySet<number> = new Set([UNK_ID]);
  private readonly ids: Map<string, number>;

  /** `words[i]` gets id i + 1 (id 0 is <unk>). */
  constructor(words: readonly string[]) {
    this.ids = new Map();
    for (let i = 0; i < words.length; i++) if (!this.ids.has(words[i])) this.ids.set(words[i], i + 1);
  }

  get vocabSize(): number {
    return this.ids.size + 1;
  }

  idOf(word: string): number {
    if (word.length > MAX_WORD_LENGTH) return UNK_ID;
    const id = this.ids.get(word);
    if (id !== undefined) return id;
    // The vocabulary is ASCII past its punctuation: "café" and "naïve" back off to "cafe", "naive".
    for (let k = 0; k < word.length; k++) {
      if (word.charCodeAt(k) >= 0x80) return this.ids.get(word.normalize('NFD').replace(COMBINING_MARKS, '')) ?? UNK_ID;
    }
    return UNK_ID;
  }

  encode(text: string): Int32Array {
    const out: number[] = [];
    this.scan(text, (tok) => {
      const id = this.idOf(tok);
      if (id !== UNK_ID || !tok.includes('-') && !tok.includes('.') && !tok.includes(',')) {
        out.push(id);
        return;
      }
      // An unknown compound ("state-funded", "3.5", "u.s"): its parts, without the joiners.
      let start = 0;
      for (let k = 0; k <= tok.length; k++) {
        const ch = tok.charCodeAt(k);
        if (k === tok.length || ch === 0x2d || ch === 0x2e || ch === 0x2c) {
          if (k > start) out.push(this.idOf(tok.slice(start, k)));
          start = k + 1;
        }
      }
    });
    return Int32Array.from(out);
  }

  /** The token strings of `text` before lookup (clitics already mapped), for tests and debugging. */
  tokens(text: string): string[] {
    const out: string[] = [];
    this.scan(text, (t) => out.push(t));
    return out;
  }

  private scan(text: string, emit: (token: string) => void): void {
    const s = String(text).toLowerCase();
    const n = s.length;
    const isWordAt = (k: number): boolean => {
      if (k >= n) return false;
      const c = s.charCodeAt(k);
      if (c < 0x80) return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
      if (c >= 0xdc00 && c <= 0xdfff) return false; // a low surrogate is handled with its high one
      const cp = s.codePointAt(k) as number;
      return LETTER_OR_DIGIT.test(String.fromCodePoint(cp));
    };
    const isDigitAt = (k: number): boolean => k < n && s.charCodeAt(k) >= 0x30 && s.charCodeAt(k) <= 0x39;
    const emitClitic = (c: string): void => {
      const word = CLITICS[c];
      emit(word ?? c);
    };
    let i = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (isSpace(c)) {
        i++;
        continue;
      }
      if (isWordAt(i)) {
        let j = i;
        while (j < n) {
          if (isWordAt(j)) {
            j += s.charCodeAt(j) >= 0xd800 && s.charCodeAt(j) <= 0xdbff ? 2 : 1;
            continue;
          }
          const d = s.charCodeAt(j);
          // Joiners kept inside a token, as the vectors' tokenizer did: "well-known", "3.5", "1,000".
          if ((d === 0x2d || d === 0x2e) && isWordAt(j + 1)) j++;
          else if (d === 0x2c && isDigitAt(j - 1) && isDigitAt(j + 1)) j++;
          else break;
        }
        const word = s.slice(i, j);
        if (j < n && isApostrophe(s.charCodeAt(j))) {
          const a = s.charCodeAt(j + 1);
          const b = s.charCodeAt(j + 2);
          if (a === 0x74 /* t */ && word.length > 1 && word.endsWith('n') && !isWordAt(j + 2)) {
            // "don't" -> "do" "n't", "can't" -> "ca" "n't": the Treebank split the vectors were trained on.
            emit(word.slice(0, -1));
            emitClitic("n't");
            i = j + 2;
            continue;
          }
          let clitic = '';
          if ((a === 0x73 || a === 0x6d || a === 0x64) && !isWordAt(j + 2)) clitic = "'" + s[j + 1];
          else if (((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) && !isWordAt(j + 3)) {
            clitic = "'" + s[j + 1] + s[j + 2];
          }
          if (clitic) {
            emit(word);
            emitClitic(clitic);
            i = j + clitic.length;
            continue;
          }
        }
        emit(word);
        i = j;
        continue;
      }
      // Punctuation or a symbol: one token per run of the same character ("!!!" -> "!").
      const cp = s.codePointAt(i) as number;
      const ch = String.fromCodePoint(cp);
      let j = i + ch.length;
      while (j < n && s.startsWith(ch, j)) j += ch.length;
      emit(isApostrophe(c) ? "'" : ch);
      i = j;
    }
  }
}
