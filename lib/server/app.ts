/**
 * The HTTP reward server (fastify): `POST /get_reward` (OpenRLHF), `POST /score` (SPEC §7
 * samples), `GET /health`. Requests are validated by hand so that a 400 names the field at fault;
 * every sample of every request goes through one micro-batcher.
 */
import { STATUS_CODES } from 'node:http';
import { fastify, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { EmbeddingTable } from '../embeddings/table.js';
import { backends, resolveBackend } from '../backend/select.js';
import { mixedReward, type Result, type Sample } from '../rewards/mixed.js';
import type { BackendName, Task } from '../types.js';
import { DEFAULT_TASK, recordToSample, stripIndex } from '../cli/records.js';
import { packageVersion } from '../cli/version.js';
import { MicroBatcher } from './batcher.js';
import { LabelError, labelToSample, responseFromQuery } from './openrlhf.js';

export interface ServerOptions {
  host?: string;
  port?: number;
  /** Hugging Face model directory whose tokenizer and embeddings score open-ended samples. */
  model?: string;
  /** A ready table (takes precedence over `model`); default: the table shipped in the package. */
  table?: EmbeddingTable;
  backend?: BackendName;
  weights?: { accuracy?: number; format?: number };
  thinkPrefilled?: boolean;
  /** Task of plain (non-JSON) labels and of samples without a task. Default 'matching'. */
  defaultTask?: Task;
  /** Largest request body in bytes (413 above). Default 64 MiB. */
  bodyLimit?: number;
  /** 'throw' (default): a malformed sample or label makes the request a 400 naming it.
   * 'zero': it scores 0 and its result carries `error`. */
  onError?: 'throw' | 'zero';
  /** Micro-batching window in ms (default 2). */
  batchWindowMs?: number;
  /** Fastify's request log (default off). */
  logger?: boolean;
}

export const DEFAULT_BODY_LIMIT = 64 * 1024 * 1024;

/** An error that becomes an HTTP status with this message. */
export class HttpError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
  }
}

function bad(message: string): HttpError {
  return new HttpError(400, message);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw bad(`the request body must be a JSON object (got ${body === undefined ? 'no body' : describe(body)})`);
  }
  return body as Record<string, unknown>;
}

function stringArray(body: Record<string, unknown>, field: string, required: boolean): string[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) {
    if (required) throw bad(`"${field}" is required: an array of strings`);
    return undefined;
  }
  if (!Array.isArray(v)) throw bad(`"${field}" must be an array of strings (got ${describe(v)})`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'string') throw bad(`${field}[${i}] must be a string (got ${describe(v[i])})`);
  }
  return v as string[];
}

export async function createServer(opts: ServerOptions = {}): Promise<FastifyInstance> {
  const defaultTask = opts.defaultTask ?? DEFAULT_TASK;
  const onError = opts.onError ?? 'throw';
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const backend = resolveBackend(opts.backend);
  let table = opts.table;
  if (!table && opts.model !== undefined) table = await EmbeddingTable.fromPretrained(opts.model);
  // Validate weights once here rather than failing every request.
  await mixedReward([], { weights: opts.weights, backend });

  const version = packageVersion();
  const started = Date.now();
  const batcher = new MicroBatcher<Sample, Result>(
    (samples) => mixedReward(samples, { weights: opts.weights, thinkPrefilled: opts.thinkPrefilled, table, backend, onError: 'zero' }),
    { windowMs: opts.batchWindowMs ?? 2 },
  );

  /** Scores one request's samples; `field` names them in error messages. */
  const scoreSamples = async (samples: Sample[], field: string): Promise<Result[]> => {
    const results = await batcher.submit(samples);
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      if (r.error !== undefined) {
        r.error = `${field}[${i}] ${stripIndex(r.error)}`;
        if (onError === 'throw') throw bad(r.error);
      }
    }
    return results;
  };

  const app = fastify({ bodyLimit, logger: opts.logger === true, forceCloseConnections: 'idle' });

  // One JSON parser for every content type: OpenRLHF sends application/json, but `curl -d` sends
  // a form type, and a reward server has no other body format to offer.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim().length === 0) {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(bad(`the request body is not valid JSON: ${(err as Error).message}`));
    }
  });

  app.setErrorHandler((err: FastifyError | HttpError, _req: FastifyRequest, reply: FastifyReply) => {
    let status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    let message = err.message;
    if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      status = 413;
      message = `the request body is larger than the limit of ${bodyLimit} bytes (serve --body-limit)`;
    }
    if (status >= 500) process.stderr.write(`mixed-reward serve: ${err.stack ?? err.message}\n`);
    void reply.status(status).send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    void reply.status(404).send({ statusCode: 404, error: 'Not Found', message: `no route ${req.method} ${req.url} (routes: POST /get_reward, POST /score, GET /health)` });
  });

  app.post('/get_reward', async (req: FastifyRequest) => {
    const body = bodyObject(req.body);
    const query = stringArray(body, 'query', true)!;
    const prompts = stringArray(body, 'prompts', false);
    if (prompts && prompts.length !== query.length) {
      throw bad(`"prompts" has ${prompts.length} items but "query" has ${query.length}: they must have the same length`);
    }
    const labels = body.labels;
    if (labels === undefined || labels === null) throw bad('"labels" is required: one label per query (OpenRLHF: --label_key)');
    if (!Array.isArray(labels)) throw bad(`"labels" must be an array (got ${describe(labels)})`);
    if (labels.length !== query.length) {
      throw bad(`"labels" has ${labels.length} items but "query" has ${query.length}: they must have the same length`);
    }
    const samples: Sample[] = new Array(query.length);
    const labelErrors: (string | undefined)[] = [];
    for (let i = 0; i < query.length; i++) {
      const response = responseFromQuery(query[i], prompts?.[i]);
      try {
        samples[i] = labelToSample(labels[i], response, defaultTask);
      } catch (err) {
        if (!(err instanceof LabelError)) throw err;
        const msg = `labels[${i}] ${err.message}`;
        if (onError === 'throw') throw bad(msg);
        labelErrors[i] = msg;
        samples[i] = { task: defaultTask, response, answer: '' };
      }
    }
    const results = await scoreSamples(samples, 'labels');
    const rewards: number[] = new Array(results.length);
    const accuracy: number[] = new Array(results.length);
    const format: number[] = new Array(results.length);
    for (let i = 0; i < results.length; i++) {
      const zero = labelErrors[i] !== undefined;
      rewards[i] = zero ? 0 : results[i].reward;
      accuracy[i] = zero ? 0 : results[i].accuracy;
      format[i] = zero ? 0 : results[i].format;
    }
    return { rewards, scores: rewards, extra_logs: { accuracy, format } };
  });

  app.post('/score', async (req: FastifyRequest) => {
    const body = bodyObject(req.body);
    const raw = body.samples;
    if (raw === undefined || raw === null) throw bad('"samples" is required: an array of samples {task, response, answer, choices?, id?}');
    if (!Array.isArray(raw)) throw bad(`"samples" must be an array (got ${describe(raw)})`);
    const samples: Sample[] = new Array(raw.length);
    const early: (string | undefined)[] = [];
    for (let i = 0; i < raw.length; i++) {
      const r = recordToSample(raw[i], defaultTask);
      if (r.ok) {
        samples[i] = r.sample;
        continue;
      }
      const msg = `samples[${i}] ${r.error}`;
      if (onError === 'throw') throw bad(msg);
      early[i] = msg;
      // Scored as a placeholder to keep positions; its result is replaced below.
      samples[i] = { task: defaultTask, response: '', answer: '' };
    }
    const results = await scoreSamples(samples, 'samples');
    for (let i = 0; i < results.length; i++) {
      const msg = early[i];
      if (msg === undefined) continue;
      const rec = raw[i] as { task?: unknown; id?: unknown } | null;
      const out: Result = { task: typeof rec?.task === 'string' ? rec.task : 'unknown', reward: 0, accuracy: 0, format: 0, error: msg };
      if (typeof rec?.id === 'string' || typeof rec?.id === 'number') out.id = rec.id;
      results[i] = out;
    }
    return { results };
  });

  app.get('/health', async () => ({
    status: 'ok',
    version,
    uptime_s: Math.round((Date.now() - started) / 1000),
    backend,
    backends: backends(),
    default_task: defaultTask,
    on_error: onError,
    table: table
      ? { name: table.name, vocab_size: table.vocabSize, dim: table.dim, tokenizer: table.tokenizer !== undefined }
      : { name: 'default', loaded_on_first_open_ended_sample: true },
    batching: { ...batcher.stats },
  }));

  return app;
}
