/**
 * Finds bounding boxes in model output (SPEC §5), in order of appearance:
 * - JSON objects with a `bbox_2d` (Qwen2.5-VL), `bbox` or `box` key holding four numbers, in double or
 *   single quotes (`[{"bbox_2d": [10, 20, 30, 40], "label": "cat"}]`);
 * - Qwen2-VL `<|box_start|>(x1,y1),(x2,y2)<|box_end|>` (0–1000 normalised);
 * - InternVL `<box>[[x1,y1,x2,y2], …]</box>` (0–1000 normalised, several boxes per tag);
 * - bare four-number lists `[x1, y1, x2, y2]` (integers or decimals, signs and exponents allowed).
 *
 * One left-to-right scan: every character is examined a bounded number of times, so the time is linear
 * in the length of any string (no regular expressions, nothing to backtrack). A list is reported once:
 * the value of a `bbox_2d` key *is* a bare list, and the lists inside `<box>…</box>` are reported
 * (as normalised) once, at their position.
 */
import { InvalidArgumentError, ValueRangeError } from '../errors.js';
import type { Box } from '../types.js';

export interface ImageSize {
  width: number;
  height: number;
}

export interface ParseBoxesOptions {
  /**
   * Image size in pixels. When given, coordinates of the 0–1000 normalised formats (Qwen2-VL
   * `<|box_start|>`, InternVL `<box>`) become pixels: `x * width / 1000`, `y * height / 1000`.
   * JSON and bare lists are always returned as written (Qwen2.5-VL emits absolute pixels).
   */
  imageSize?: ImageSize;
}

const BOX_START = '<|box_start|>';
const BOX_END = '<|box_end|>';
const INTERN_OPEN = '<box>';
const INTERN_CLOSE = '</box>';

const CH_LT = 0x3c;
const CH_LBRACKET = 0x5b;
const CH_RBRACKET = 0x5d;
const CH_LPAREN = 0x28;
const CH_RPAREN = 0x29;
const CH_COMMA = 0x2c;

/** Checks `opts.imageSize`; returns it, or undefined when no conversion is asked for. */
export function checkImageSize(opts: ParseBoxesOptions | undefined, name = 'options.imageSize'): ImageSize | undefined {
  if (opts === undefined || opts === null) return undefined;
  if (typeof opts !== 'object') throw new InvalidArgumentError(`options must be an object (got ${typeof opts})`);
  const size = opts.imageSize;
  if (size === undefined || size === null) return undefined;
  if (typeof size !== 'object') throw new InvalidArgumentError(`${name} must be { width, height } (got ${typeof size})`);
  for (const key of ['width', 'height'] as const) {
    const v = size[key];
    if (typeof v !== 'number') throw new InvalidArgumentError(`${name}.${key} must be a number (got ${typeof v})`);
    if (!(v > 0 && v < Infinity)) throw new ValueRangeError(`${name}.${key} must be a positive finite number (got ${v})`);
  }
  return size;
}

/** Scans one text; state lives on the instance so helpers can report where they stopped. */
class BoxScanner {
  private readonly text: string;
  private readonly size: ImageSize | undefined;
  readonly boxes: Box[] = [];
  /** Scratch for the numbers of the list being read. */
  private readonly nums: number[] = [0, 0, 0, 0];
  /** Index of the next `</box>` at or after the last query; -2 = not searched yet, -1 = none left. */
  private closeCache = -2;

  constructor(text: string, size: ImageSize | undefined) {
    this.text = text;
    this.size = size;
  }

  run(): Box[] {
    const text = this.text;
    const n = text.length;
    // Index of the `</box>` ending the InternVL region we are in, or -1 outside one.
    let regionEnd = -1;
    let i = 0;
    while (i < n) {
      if (regionEnd >= 0 && i >= regionEnd) {
        i = regionEnd + INTERN_CLOSE.length;
        regionEnd = -1;
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === CH_LBRACKET) {
        // A failed read stops at a character that may start another box (`[`, `<`): resume there.
        i = this.readList(i, regionEnd >= 0);
      } else if (c === CH_LT) {
        if (text.startsWith(BOX_START, i)) {
          i = this.readQwen2(i + BOX_START.length);
        } else if (regionEnd < 0 && text.startsWith(INTERN_OPEN, i)) {
          // Only a closed tag makes a region: an unclosed `<box>` leaves its lists bare (as given).
          const close = this.nextClose(i + INTERN_OPEN.length);
          if (close >= 0) regionEnd = close;
          i += INTERN_OPEN.length;
        } else {
          i++;
        }
      } else {
        i++;
      }
    }
    return this.boxes;
  }

  /** Positions of `</box>` only grow, so the searches cover disjoint ranges: linear in total. */
  private nextClose(from: number): number {
    if (this.closeCache === -1) return -1;
    if (this.closeCache >= from) return this.closeCache;
    this.closeCache = this.text.indexOf(INTERN_CLOSE, from);
    return this.closeCache;
  }

  private skipSpace(i: number): number {
    const text = this.text;
    while (i < text.length && text.charCodeAt(i) <= 0x20) i++;
    return i;
  }

  /**
   * Reads `[+-]? (digits (. digits*)? | . digits) ([eE] [+-]? digits)?` at i into nums[k].
   * Returns the index after it, or -1 when no number starts at i.
   */
  private readNumber(i: number, k: number): number {
    const text = this.text;
    const n = text.length;
    const start = i;
    let c = text.charCodeAt(i);
    if (c === 0x2b || c === 0x2d) c = text.charCodeAt(++i);
    let digits = 0;
    while (c >= 0x30 && c <= 0x39) {
      digits++;
      c = text.charCodeAt(++i);
    }
    if (c === 0x2e) {
      c = text.charCodeAt(++i);
      while (c >= 0x30 && c <= 0x39) {
        digits++;
        c = text.charCodeAt(++i);
      }
    }
    if (digits === 0) return -1;
    if (c === 0x65 || c === 0x45) {
      let j = i + 1;
      let d = text.charCodeAt(j);
      if (d === 0x2b || d === 0x2d) d = text.charCodeAt(++j);
      if (d >= 0x30 && d <= 0x39) {
        while (j < n && d >= 0x30 && d <= 0x39) d = text.charCodeAt(++j);
        i = j;
      }
    }
    this.nums[k] = Number(text.slice(start, i));
    return i;
  }

  /**
   * Reads `[ n , n , n , n ]` starting at the `[` at `open`. On success pushes the box and returns the
   * index after `]`; on failure returns the index of the first character that does not fit (> open),
   * which is never a `[` or `<` that was consumed, so no box is skipped.
   */
  private readList(open: number, normalised: boolean): number {
    const text = this.text;
    let i = open + 1;
    for (let k = 0; k < 4; k++) {
      i = this.skipSpace(i);
      if (k > 0) {
        if (text.charCodeAt(i) !== CH_COMMA) return i;
        i = this.skipSpace(i + 1);
      }
      const end = this.readNumber(i, k);
      if (end < 0) return i;
      i = end;
    }
    i = this.skipSpace(i);
    if (text.charCodeAt(i) !== CH_RBRACKET) return i;
    this.push(normalised);
    return i + 1;
  }

  /** Reads `(x1,y1),(x2,y2)<|box_end|>` after `<|box_start|>`; same return convention as readList. */
  private readQwen2(from: number): number {
    const text = this.text;
    let i = from;
    for (let p = 0; p < 2; p++) {
      i = this.skipSpace(i);
      if (p > 0 && text.charCodeAt(i) === CH_COMMA) i = this.skipSpace(i + 1);
      if (text.charCodeAt(i) !== CH_LPAREN) return i;
      for (let k = 0; k < 2; k++) {
        i = this.skipSpace(i + (k === 0 ? 1 : 0));
        if (k > 0) {
          if (text.charCodeAt(i) !== CH_COMMA) return i;
          i = this.skipSpace(i + 1);
        }
        const end = this.readNumber(i, p * 2 + k);
        if (end < 0) return i;
        i = end;
      }
      i = this.skipSpace(i);
      if (text.charCodeAt(i) !== CH_RPAREN) return i;
      i++;
    }
    i = this.skipSpace(i);
    if (!text.startsWith(BOX_END, i)) return i;
    this.push(true);
    return i + BOX_END.length;
  }

  private push(normalised: boolean): void {
    const [x1, y1, x2, y2] = this.nums as [number, number, number, number];
    const size = this.size;
    if (normalised && size) {
      this.boxes.push([(x1 * size.width) / 1000, (y1 * size.height) / 1000, (x2 * size.width) / 1000, (y2 * size.height) / 1000]);
    } else {
      this.boxes.push([x1, y1, x2, y2]);
    }
  }
}

/**
 * All boxes in `text`, in order of appearance. Never throws on a string (only on bad options);
 * linear time. Boxes are returned as written (no validity check): an invalid one scores IoU 0.
 */
export function parseBoxes(text: string, opts?: ParseBoxesOptions): Box[] {
  if (typeof text !== 'string') throw new InvalidArgumentError(`text must be a string (got ${text === null ? 'null' : typeof text})`);
  const size = checkImageSize(opts);
  return new BoxScanner(text, size).run();
}
