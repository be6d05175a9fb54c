/**
 * `EmbeddingTable.fromPretrained(dir)`: the policy model's own input-embedding matrix (the
 * paper's "tokenizer embedding") and tokenizer, from a Hugging Face model directory. Only the
 * headers of the safetensors files and the one embedding tensor are read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, ModelLoadError } from '../errors.js';
import { normalizeRowsInPlace } from './normalize.js';
import { readSafetensorsHeader, readTensorF32, type SafetensorsHeader } from './safetensors.js';
import { EmbeddingTable } from './table.js';
import { loadHfTokenizer, type HfTokenizer } from './hfTokenizer.js';

export interface PretrainedOptions {
  /** Name of the embedding tensor; by default the first of EMBEDDING_TENSOR_NAMES present. */
  tensor?: string;
  /**
   * Rows of the table. 'matrix' (default): all rows of the tensor — models pad the matrix beyond
   * the tokenizer (Qwen2.5: 151665 tokens, 151936 or 152064 rows), the padding rows are simply
   * never produced by the tokenizer. 'tokenizer': only the rows the tokenizer can produce
   * (largest id + 1), which saves the padding's memory.
   */
  vocabSize?: 'matrix' | 'tokenizer';
  /** Load `tokenizer.json` (default true). With false the table takes token ids only. */
  tokenizer?: boolean;
  /** Label for logs and `/health` (default: the directory). */
  name?: string;
}

/** Input-embedding tensor names used by real checkpoints, most specific first. */
const EMBEDDING_TENSOR_NAMES: readonly string[] = [
  'model.language_model.embed_tokens.weight', // Qwen2.5-VL / Qwen3-VL, transformers >= 4.52 layout
  'language_model.model.embed_tokens.weight', // LLaVA-style VLMs, InternVL with a Qwen/LLaMA LLM
  'model.embed_tokens.weight', // Qwen2/2.5/3, Qwen2.5-VL (old layout), LLaMA, Mistral
  'language_model.model.tok_embeddings.weight', // InternVL with an InternLM2 LLM
  'model.tok_embeddings.weight', // InternLM2
  'tok_embeddings.weight', // original LLaMA / InternLM checkpoints
  'transformer.wte.weight', // GPT-2 (LM head model), Qwen-1
  'wte.weight', // GPT-2 base model
  'bert.embeddings.word_embeddings.weight', // BERT with a task head
  'embeddings.word_embeddings.weight', // BERT base model
  'transformer.word_embeddings.weight', // BLOOM
  'gpt_neox.embed_in.weight', // Pythia / GPT-NeoX
  'model.decoder.embed_tokens.weight', // OPT
  'embed_tokens.weight',
];

interface WeightsSource {
  /** Every tensor name available, mapped to the file holding it. */
  readonly files: ReadonlyMap<string, string>;
  /** Headers already read (the single-file case). */
  readonly headers: Map<string, SafetensorsHeader>;
}

function exists(file: string): boolean {
  try {
    fs.statSync(file);
    return true;
  } catch {
    return false;
  }
}

function loadIndex(dir: string, indexFile: string): WeightsSource {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(`cannot read ${path.basename(indexFile)}: ${(err as Error).message} (${indexFile})`);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (weightMap === null || typeof weightMap !== 'object' || Array.isArray(weightMap)) {
    throw new ModelLoadError(`${path.basename(indexFile)} has no "weight_map" object (${indexFile})`);
  }
  const root = path.resolve(dir);
  const files = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '') {
      throw new ModelLoadError(`${path.basename(indexFile)}: weight_map entry '${name}' is not a file name (${indexFile})`);
    }
    const file = path.resolve(root, shard);
    // A shard must live in the model directory: an index must not send reads elsewhere.
    if (path.relative(root, file).startsWith('..') || path.isAbsolute(path.relative(root, file))) {
      throw new ModelLoadError(`${path.basename(indexFile)}: shard '${shard}' of tensor '${name}' is outside the model directory (${indexFile})`);
    }
    files.set(name, file);
  }
  return { files, headers: new Map() };
}

async function loadHeaders(fileList: string[]): Promise<WeightsSource> {
  const files = new Map<string, string>();
  const headers = new Map<string, SafetensorsHeader>();
  for (const file of fileList) {
    const header = await readSafetensorsHeader(file);
    headers.set(file, header);
    for (const name of header.tensors.keys()) if (!files.has(name)) files.set(name, file);
  }
  return { files, headers };
}

async function findWeights(dir: string): Promise<WeightsSource> {
  const index = path.join(dir, 'model.safetensors.index.json');
  if (exists(index)) return loadIndex(dir, index);
  const single = path.join(dir, 'model.safetensors');
  if (exists(single)) return loadHeaders([single]);
  const entries = fs.readdirSync(dir);
  const others = entries.filter((f) => f.endsWith('.safetensors')).sort();
  if (others.length > 0) return loadHeaders(others.map((f) => path.join(dir, f)));
  const seen = entries.filter((f) => /\.(bin|pt|pth|gguf|h5|msgpack|ckpt)$/.test(f));
  throw new ModelLoadError(
    `no safetensors weights in ${dir}: expected model.safetensors or model.safetensors.index.json` +
      (seen.length ? ` (found ${seen.slice(0, 5).join(', ')}: convert them to safetensors)` : ''),
  );
}

async function headerOf(src: WeightsSource, tensor: string): Promise<SafetensorsHeader> {
  const file = src.files.get(tensor) as string;
  let header = src.headers.get(file);
  if (!header) {
    if (!exists(file)) {
      throw new ModelLoadError(`shard ${path.basename(file)} (holding tensor '${tensor}') is missing (${file})`);
    }
    header = await readSafetensorsHeader(file);
    src.headers.set(file, header);
  }
  if (!header.tensors.has(tensor)) {
    throw new ModelLoadError(`${path.basename(file)}: tensor '${tensor}' listed in the index is not in the file (${file})`);
  }
  return header;
}

/** 2-D tensors whose name suggests an embedding, for the error message when none is recognised. */
async function embeddingLikeTensors(src: WeightsSource): Promise<string[]> {
  const found: string[] = [];
  for (const name of src.files.keys()) {
    const lower = name.toLowerCase();
    if (!lower.includes('embed') && !lower.includes('wte')) continue;
    try {
      const info = (await headerOf(src, name)).tensors.get(name);
      if (info && info.shape.length === 2) found.push(`${name} ${info.dtype} [${info.shape.join(', ')}]`);
    } catch {
      // An unreadable shard only shortens the hint list; the main error follows.
    }
    if (found.length >= 20) break;
  }
  return found;
}

function pickTensor(src: WeightsSource, requested: string | undefined): string | undefined {
  if (requested !== undefined) return src.files.has(requested) ? requested : undefined;
  return EMBEDDING_TENSOR_NAMES.find((n) => src.files.has(n));
}

/** Loads a Hugging Face model directory as an EmbeddingTable (rows L2-normalised once). */
export async function loadPretrained(dir: string, opts: PretrainedOptions = {}): Promise<EmbeddingTable> {
  if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError('dir must be a non-empty string (a model directory)');
  if (opts === null || typeof opts !== 'object') throw new InvalidArgumentError('opts must be an object');
  const { tensor: requested, vocabSize = 'matrix', tokenizer: wantTokenizer = true } = opts;
  if (requested !== undefined && (typeof requested !== 'string' || requested === '')) {
    throw new InvalidArgumentError('opts.tensor must be a non-empty string');
  }
  if (vocabSize !== 'matrix' && vocabSize !== 'tokenizer') {
    throw new InvalidArgumentError(`opts.vocabSize must be 'matrix' or 'tokenizer' (got ${String(vocabSize)})`);
  }
  if (vocabSize === 'tokenizer' && !wantTokenizer) {
    throw new InvalidArgumentError("opts.vocabSize 'tokenizer' needs the tokenizer (opts.tokenizer is false)");
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (err) {
    throw new ModelLoadError(`model directory ${dir} cannot be read: ${(err as Error).message}`);
  }
  if (!stat.isDirectory()) throw new ModelLoadError(`${dir} is not a directory (expected a Hugging Face model directory)`);

  const src = await findWeights(dir);
  const tensor = pickTensor(src, requested);
  if (tensor === undefined) {
    const candidates = await embeddingLikeTensors(src);
    const what = requested !== undefined ? `no tensor named '${requested}'` : 'no input-embedding tensor with a known name';
    throw new ModelLoadError(
      `${what} in ${dir}; ` +
        (candidates.length ? `candidates: ${candidates.join('; ')} (pass opts.tensor)` : `no 2-D tensor named like an embedding among ${src.files.size} tensors`),
    );
  }
  const header = await headerOf(src, tensor);
  const info = header.tensors.get(tensor)!;
  if (info.shape.length !== 2 || info.shape[0] < 1 || info.shape[1] < 1) {
    throw new ModelLoadError(`${path.basename(header.file)}: tensor '${tensor}' has shape [${info.shape.join(', ')}], expected [vocab, dim] (${header.file})`);
  }
  const [matrixRows, dim] = info.shape as [number, number];
  if (dim > 1 << 20 || matrixRows > 0x7fffffff) {
    throw new ModelLoadError(`tensor '${tensor}' has shape [${matrixRows}, ${dim}], beyond the supported [2^31 - 1, 2^20]`);
  }

  // The tokenizer is loaded before the big read so that its errors come at once.
  let tokenizer: HfTokenizer | undefined;
  if (wantTokenizer) {
    tokenizer = loadHfTokenizer(dir);
    if (tokenizer.maxId >= matrixRows) {
      throw new ModelLoadError(
        `the tokenizer of ${dir} produces ids up to ${tokenizer.maxId} but tensor '${tensor}' has only ${matrixRows} rows: tokenizer and weights do not belong together`,
      );
    }
  }
  const rows = vocabSize === 'tokenizer' ? Math.max(1, tokenizer!.maxId + 1) : matrixRows;
  const data = await readTensorF32(header, tensor, { rows });
  normalizeRowsInPlace(data, rows, dim);
  return EmbeddingTable.fromNormalized(data, rows, dim, { tokenizer, name: opts.name ?? dir });
}
