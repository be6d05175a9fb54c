/**
 * Merges the samples of requests that arrive within a short window into one scoring call, so the
 * open-ended samples of many small requests reach the BMAS kernels as one batch. Each request
 * gets back exactly its own results, in its own order.
 */

export type ScoreFn<S, R> = (items: S[]) => Promise<R[]>;

interface Pending<S, R> {
  items: S[];
  resolve: (results: R[]) => void;
  reject: (err: unknown) => void;
}

export interface BatcherOptions {
  /** How long the first request of a batch waits for others (ms); 0 = until the next turn of the event loop. */
  windowMs?: number;
  /** A batch is sent at once when it holds this many items. */
  maxItems?: number;
  /** Scoring calls running at once; further requests wait and merge into the next call. */
  maxInFlight?: number;
}

export interface BatcherStats {
  calls: number;
  requests: number;
  items: number;
}

export class MicroBatcher<S, R> {
  private readonly score: ScoreFn<S, R>;
  private readonly windowMs: number;
  private readonly maxItems: number;
  private readonly maxInFlight: number;
  private pending: Pending<S, R>[] = [];
  private pendingItems = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  readonly stats: BatcherStats = { calls: 0, requests: 0, items: 0 };

  constructor(score: ScoreFn<S, R>, opts: BatcherOptions = {}) {
    this.score = score;
    this.windowMs = opts.windowMs ?? 2;
    this.maxItems = opts.maxItems ?? 4096;
    this.maxInFlight = opts.maxInFlight ?? 2;
  }

  submit(items: S[]): Promise<R[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<R[]>((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      this.pendingItems += items.length;
      if (this.pendingItems >= this.maxItems) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.windowMs);
    });
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // Busy: the waiting requests merge and go when a running call finishes.
    if (this.pending.length === 0 || this.inFlight >= this.maxInFlight) return;
    const group = this.pending;
    this.pending = [];
    this.pendingItems = 0;
    const all: S[] = [];
    for (const p of group) for (const it of p.items) all.push(it);
    this.inFlight++;
    this.stats.calls++;
    this.stats.requests += group.length;
    this.stats.items += all.length;
    let call: Promise<R[]>;
    try {
      call = this.score(all);
    } catch (err) {
      call = Promise.reject(err);
    }
    call.then(
      (results) => {
        let at = 0;
        for (const p of group) {
          p.resolve(results.slice(at, at + p.items.length));
          at += p.items.length;
        }
      },
      (err) => {
        for (const p of group) p.reject(err);
      },
    ).finally(() => {
      this.inFlight--;
      if (this.pending.length > 0) this.flush();
    });
  }
}
