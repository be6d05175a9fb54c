/**
 * The policy model's own tokenizer, from its `tokenizer.json` (+ `tokenizer_config.json`), through
 * @huggingface/tokenizers. `encode` adds no special tokens (BMAS compares content, not the chat
 * template); added tokens marked `special` are the table's control ids, left out of BMAS.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelLoadError } from '../errors.js';
import type { TextTokenizer } from './table.js';

/** The part of @huggingface/tokenizers' `Tokenizer` used here (the package ships ESM types,
 * so it is loaded with require() and typed locally). */
interface HfTokenizerLike {
  encode(text: string, opts: { add_special_tokens: boolean }): { ids: Array<number | undefined> };
  get_added_tokens_decoder(): Map<number, { content: string; special: boolean }>;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}
type HfTokenizerCtor = new (tokenizerJson: object, config: object) => HfTokenizerLike;

let ctor: HfTokenizerCtor | undefined;
function tokenizerClass(): HfTokenizerCtor {
  if (!ctor) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ctor = (require('@huggingface/tokenizers') as { Tokenizer: HfTokenizerCtor }).Tokenizer;
  }
  return ctor;
}

export class HfTokenizer implements TextTokenizer {
  readonly controlIds: ReadonlySet<number>;
  /** Largest id the tokenizer can produce (vocabulary and added tokens); -1 when empty. */
  readonly maxId: number;
  private readonly tok: HfTokenizerLike;

  constructor(tok: HfTokenizerLike) {
    this.tok = tok;
    const control = new Set<number>();
    for (const [id, t] of tok.get_added_tokens_decoder()) if (t.special) control.add(id);
    this.controlIds = control;
    let maxId = -1;
    for (const id of tok.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.maxId = maxId;
  }

  encode(text: string): Int32Array {
    const ids = this.tok.encode(text, { add_special_tokens: false }).ids;
    const out = new Int32Array(ids.length);
    let n = 0;
    // A piece with no id (a BPE without unk token or byte fallback) is dropped rather than
    // silently becoming id 0.
    for (const id of ids) if (typeof id === 'number') out[n++] = id;
    return n === ids.length ? out : out.slice(0, n);
  }
}

function readJson(file: string, required: boolean): object | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelLoadError(`cannot read ${path.basename(file)}: ${(err as Error).message} (${file})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${path.basename(file)} is not valid JSON: ${(err as Error).message} (${file})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ModelLoadError(`${path.basename(file)} is not a JSON object (${file})`);
  }
  return json;
}

/** Loads `tokenizer.json` (required) and `tokenizer_config.json` (optional) from `dir`. */
export function loadHfTokenizer(dir: string): HfTokenizer {
  const tokenizerJson = readJson(path.join(dir, 'tokenizer.json'), true) as object;
  const config = readJson(path.join(dir, 'tokenizer_config.json'), false) ?? {};
  try {
    const Tokenizer = tokenizerClass();
    return new HfTokenizer(new Tokenizer(tokenizerJson, config));
  } catch (err) {
    throw new ModelLoadError(`cannot build the tokenizer from ${path.join(dir, 'tokenizer.json')}: ${(err as Error).message}`);
  }
}
