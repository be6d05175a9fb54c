/**
 * Lines of a byte stream, read chunk by chunk: the stream is pulled only as fast as lines are
 * consumed (async iteration applies backpressure), so memory stays bounded by the chunk size and
 * the longest line, whatever the file size.
 */
import { StringDecoder } from 'node:string_decoder';

export interface LineProgress {
  /** Bytes read from the stream so far. */
  bytes: number;
}

/** Yields each line without its `\n` (and without a `\r` before it). A final line without a
 * newline is yielded too; an empty file yields nothing. A UTF-8 byte-order mark is dropped. */
export async function* readLines(stream: AsyncIterable<Buffer | string>, progress?: LineProgress): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let first = true;
  for await (const chunk of stream) {
    if (progress) progress.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    // `rest` holds no newline, so the search starts after it: a long line costs linear time.
    let from = rest.length;
    let text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
      from = 0;
    }
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', Math.max(start, from));
      if (nl < 0) break;
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      yield text.slice(start, end);
      start = nl + 1;
    }
    rest = start === 0 ? text : text.slice(start);
  }
  rest += decoder.end();
  if (rest.length > 0) yield rest.charCodeAt(rest.length - 1) === 13 ? rest.slice(0, -1) : rest;
}
