/** How a file is made durable: on the calling thread, or on libuv's thread pool. */
export interface FlushDeps {
  /** fdatasync on this thread; throws on failure. */
  syncHere(): void;
  /** fdatasync on the thread pool; `done` runs on this thread afterwards. */
  syncOffThread(done: (error: Error | null) => void): void;
  /** A monotonic clock in milliseconds. */
  now(): number;
  /** Told of every flush once it is done, for metrics; what it throws is ignored. */
  observe?(flush: FlushObservation): void;
}

/** One completed flush, as an operator's metrics see it. */
export interface FlushObservation {
  /** From the start of the flush to its end, as its callers waited for it (ms). */
  ms: number;
  /** `event-loop`: fdatasync on the calling thread; `pool`: on libuv's thread pool, hand-off included. */
  thread: 'event-loop' | 'pool';
  failed: boolean;
}

export interface FlushTuning {
  /**
   * The longest average flush (ms) still run on the calling thread. Beyond it the disk is slow
   * enough that a stalled event loop costs more than the hand-off to another thread.
   */
  inlineMaxMs?: number;
  /** How long flushes stay on the thread pool once the disk was found slow, before trying again. */
  offloadMs?: number;
  /** How long flushes stay on the thread pool after one covered several writes. */
  concurrentMs?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
  /** How many writes the caller's batch holds. */
  writes: number;
  overlapped: boolean;
}

/** Weight of the newest flush in the running average: one isolated spike does not move flushes. */
const weight = 0.05;

/**
 * Group flushes of the WAL, on whichever thread is cheaper for the load and the disk at hand.
 *
 * With one writer at a time, flushes run on the calling thread: the caller waits for the disk
 * either way, and handing the flush to the thread pool and back only adds two cross-thread
 * wake-ups to its latency (0.05–0.07 ms per MCP call on a 2-core VM, decision 0002). Once a flush
 * covers several writes, callers are arriving concurrently: for the next `concurrentMs` every
 * flush goes to the thread pool, so the event loop goes on serving them while the disk works,
 * and they share the next flush. A stalled event loop was a fifth of the MCP gateway's time under
 * 8 clients. When the running average of inline flushes passes `inlineMaxMs`, the disk is slow (a
 * network volume, a busy disk) and even a lone flush would stall every request for that long: all
 * flushes then go to the thread pool for `offloadMs`. Off the thread, one flush is in flight at a
 * time, and callers that arrive meanwhile share the next one. A caller that acts while its flush
 * runs (`overlapped`: a write answered at commit, decision 0014) must not be stalled by an inline
 * flush before it has acted, so that flush starts two turns of the event loop later.
 *
 * Either way a caller's promise settles only after a flush that began after its call, and a failed
 * flush rejects every caller it covered.
 */
export class Flusher {
  private readonly inlineMaxMs: number;
  private readonly offloadMs: number;
  private waiting: Waiter[] = [];
  private syncing = false;
  private average = 0;
  private offloadUntil = Number.NEGATIVE_INFINITY;
  private readonly concurrentMs: number;
  private concurrentUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly deps: FlushDeps,
    tuning: FlushTuning = {},
  ) {
    this.inlineMaxMs = tuning.inlineMaxMs ?? 2;
    this.offloadMs = tuning.offloadMs ?? 10_000;
    this.concurrentMs = tuning.concurrentMs ?? 1_000;
  }

  /** Whether the next flush of a single write would run on the calling thread. */
  get inline(): boolean {
    const now = this.deps.now();
    return now >= this.offloadUntil && now >= this.concurrentUntil;
  }

  /**
   * Resolves once everything written before this call is on stable storage. `writes` is how many
   * writes the caller's batch holds: the sign of concurrent callers. `overlapped`: the caller acts
   * while the flush runs, so an inline flush waits until it has (see `next`).
   */
  flush(writes = 1, overlapped = false): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject, writes, overlapped });
      if (!this.syncing) this.next();
    });
  }

  private next(): void {
    const group = this.waiting.splice(0);
    // Nothing is in flight here. Left set when an off-thread flush's callers were handed to an
    // inline flush (the disk turned fast again), it made every later caller wait forever.
    this.syncing = false;
    if (group.length === 0) return;
    if (group.length > 1 || (group[0] as Waiter).writes > 1)
      this.concurrentUntil = this.deps.now() + this.concurrentMs;
    const inline = this.inline;
    if (inline && group.some((w) => w.overlapped)) {
      // Its callers act meanwhile (send the call they hold), and an inline flush run now would make
      // them wait until it is done. So it starts two turns of the event loop later: an HTTP client
      // may itself wait one turn before it writes on a reused connection (undici does).
      this.syncing = true;
      setImmediate(() =>
        setImmediate(() => {
          this.settle(group, this.syncHere());
          this.next();
        }),
      );
      return;
    }
    if (inline) {
      this.settle(group, this.syncHere());
      return;
    }
    this.syncing = true;
    const start = this.deps.now();
    this.deps.syncOffThread((error) => {
      this.tell({ ms: this.deps.now() - start, thread: 'pool', failed: error !== null });
      this.settle(group, error);
      this.next();
    });
  }

  private syncHere(): Error | null {
    const start = this.deps.now();
    let error: Error | null = null;
    try {
      this.deps.syncHere();
    } catch (e) {
      error = e instanceof Error ? e : new Error(String(e));
    }
    const end = this.deps.now();
    this.tell({ ms: end - start, thread: 'event-loop', failed: error !== null });
    this.average += weight * (end - start - this.average);
    if (this.average > this.inlineMaxMs) {
      this.offloadUntil = end + this.offloadMs;
      // Measured afresh when flushes come back to this thread.
      this.average = 0;
    }
    return error;
  }

  /** Metrics must never decide what a writer hears: a throwing observer would leave callers unsettled. */
  private tell(flush: FlushObservation): void {
    try {
      this.deps.observe?.(flush);
    } catch {
      // Ignored, as above.
    }
  }

  private settle(group: Waiter[], error: Error | null): void {
    for (const w of group) {
      if (error) w.reject(error);
      else w.resolve();
    }
  }
}
