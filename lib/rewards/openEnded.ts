/**
 * The open-ended reward: BMAS between the policy's answer and the reference, in the table's own
 * token space (SPEC §6). Control tokens (chat-template specials) are dropped first: they carry
 * no meaning and would let a response gain similarity by echoing template tokens.
 */
import { InvalidArgumentError } from '../errors.js';
import { EmbeddingTable } from '../embeddings/table.js';
import { bmas, type BmasOptions } from '../kernels/bmas.js';
import { extractAnswer } from '../text/extractAnswer.js';

export interface OpenEndedOptions extends Omit<BmasOptions, 'detail'> {
  /** The embedding table; default: the table shipped in the package. */
  table?: EmbeddingTable;
}

/** Token ids of `text` in `table`'s vocabulary, without control tokens. */
export function scoringTokens(table: EmbeddingTable, text: string): Int32Array {
  const ids = table.tokenize(text);
  const control = table.controlIds;
  if (control.size === 0) return ids;
  return ids.filter((id) => !control.has(id));
}

export function resolveTable(table: unknown): EmbeddingTable {
  if (table === undefined) return EmbeddingTable.defaultSync();
  if (!(table instanceof EmbeddingTable)) throw new InvalidArgumentError('options.table must be an EmbeddingTable');
  return table;
}

/** BMAS of the table's tokenisation of `extractAnswer(response)` and of `reference`. */
export function openEndedReward(response: string, reference: string, opts: OpenEndedOptions = {}): number {
  if (typeof response !== 'string') throw new InvalidArgumentError('response must be a string');
  if (typeof reference !== 'string') throw new InvalidArgumentError('reference must be a string');
  const table = resolveTable(opts?.table);
  const { table: _t, ...bmasOpts } = opts ?? {};
  return bmas(table, scoringTokens(table, extractAnswer(response)), scoringTokens(table, reference), bmasOpts);
}
