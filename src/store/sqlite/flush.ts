/** How a file is made durable: on the calling thread, or on libuv's thread pool. */
export interface FlushDeps {
  /** fdatasync on this thread; throws on failure. */
  syncHere(): void;
  /** fdatasync on the thread pool; `done` runs on this thread afterwards. */
  syncOffThread(done: (error: Error | null) => void): void;
  /** A monotonic clock in milliseconds. */
  now(): number;
}

export interface FlushTuning {
  /**
   * The longest average flush (ms) still run on the calling thread. Beyond it the disk is slow
   * enough that a stalled event loop costs more than the hand-off to another thread.
   */
  inlineMaxMs?: number;
  /** How long flushes stay on the thread pool once the disk was found slow, before trying again. */
  offloadMs?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Weight of the newest flush in the running average: one isolated spike does not move flushes. */
const weight = 0.05;

/**
 * Group flushes of the WAL, on whichever thread is cheaper for the disk at hand.
 *
 * While flushes are fast they run on the calling thread, between two batches: handing each one
 * to the thread pool and back made the MCP gateway's CPU per call 0.49–0.54 ms instead of
 * 0.43–0.47 on a 2-core VM, where every cross-thread wake-up is expensive (decision 0002). When
 * the running average passes `inlineMaxMs`, the disk is slow (a network volume, a busy disk) and a flush would stall every
 * request for that long: flushes then go to the thread pool for `offloadMs`, one in flight at a
 * time, and callers that arrive meanwhile share the next one.
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

  constructor(
    private readonly deps: FlushDeps,
    tuning: FlushTuning = {},
  ) {
    this.inlineMaxMs = tuning.inlineMaxMs ?? 2;
    this.offloadMs = tuning.offloadMs ?? 10_000;
  }

  /** Whether the next flush would run on the calling thread. */
  get inline(): boolean {
    return this.deps.now() >= this.offloadUntil;
  }

  /** Resolves once everything written before this call is on stable storage. */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.syncing) this.next();
    });
  }

  private next(): void {
    const group = this.waiting.splice(0);
    // Nothing is in flight here. Left set when an off-thread flush's callers were handed to an
    // inline flush (the disk turned fast again), it made every later caller wait forever.
    this.syncing = false;
    if (group.length === 0) return;
    if (this.inline) {
      this.settle(group, this.syncHere());
      return;
    }
    this.syncing = true;
    this.deps.syncOffThread((error) => {
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
    this.average += weight * (end - start - this.average);
    if (this.average > this.inlineMaxMs) {
      this.offloadUntil = end + this.offloadMs;
      // Measured afresh when flushes come back to this thread.
      this.average = 0;
    }
    return error;
  }

  private settle(group: Waiter[], error: Error | null): void {
    for (const w of group) {
      if (error) w.reject(error);
      else w.resolve();
    }
  }
}
