import type Database from 'better-sqlite3';
import { CountersignError } from '../../core/errors.js';
import type { WriteOptions } from '../store.js';

interface Outcome {
  ok: boolean;
  value: unknown;
}

/** Thrown inside a savepoint-free attempt to roll it back; the batch is then retried with savepoints. */
class OpFailed extends Error {
  constructor(readonly original: unknown) {
    super('a write in the batch failed');
  }
}

interface Op {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  deferred: boolean;
  answerAtCommit: ((flushed: Promise<void>) => void) | undefined;
}

/** How long a committed write with deferred durability may wait for a flush that covers it. */
const deferredFlushMs = 100;

/**
 * How long writes are held behind a flush in flight. Past it the flush is taken for stuck (a
 * hung disk that later recovers) and writes are committed again, each batch with its own flush.
 */
const holdMaxMs = 100;

/** The newest durable batch's flush, while it is in flight. */
interface Flight {
  since: number;
  /** Held writes no longer wait for it. */
  expired: boolean;
}

/** Runs inside every batch's transaction after its writes, e.g. to extend the audit tree. */
export type BatchHook = (db: Database.Database) => void;

/**
 * Makes a committed batch durable; resolves once it is on stable storage. `writes` is how many
 * writes in the batch wait for it (the flusher reads it as a sign of concurrent callers).
 * `overlapped`: its callers act while it runs, so it must not stall them (see Flusher).
 */
export type Syncer = (writes: number, overlapped: boolean) => Promise<void>;

/**
 * Group commit. Writes queued during one turn of the event loop run in one IMMEDIATE
 * transaction; if one of them throws, the batch is rolled back and run again with each write in
 * its own savepoint, so a refused write does not undo its neighbours.
 * After the commit, `sync` makes the batch durable (see SqliteStore), and only then do the
 * batch's promises resolve: nobody is told "stored" before it is on disk. If the commit fails,
 * every write in the batch fails; if the sync fails, every write it was to cover fails (closed),
 * and a refused write keeps its own error either way. The exception is a write that asks for
 * deferred durability (`deferDurability`, nobody decides anything on it): it is answered once
 * committed and is covered by the next flush. A write that asks to be answered at commit
 * (`answerAtCommit`) is, while the disk is known good, and is handed its flush's promise first.
 * While a batch's flush is in flight, writes are held and then committed together (see `flush`).
 */
export class WriteQueue {
  private queue: Op[] = [];
  private scheduled = false;
  private inFlight: Flight | null = null;
  private holdTimer: NodeJS.Timeout | null = null;
  readonly hooks: BatchHook[] = [];
  /** Run at the start of every attempt, so state gathered by a rolled-back attempt is dropped. */
  readonly starts: Array<() => void> = [];

  constructor(
    private readonly db: Database.Database,
    private readonly sync: Syncer,
    private readonly maxBatch = 1000,
  ) {}

  /** Committed writes not yet covered by a flush, and the timer that will flush them. */
  private unflushed: NodeJS.Timeout | null = null;
  /** Flushes started and not yet settled, of any kind. */
  private flushing = 0;
  /** Whether the last flush to settle failed. */
  private lastFailed = false;

  run<T>(fn: () => T, options?: WriteOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deferred = options?.deferDurability === true;
      const answerAtCommit = options?.answerAtCommit;
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject, deferred, answerAtCommit });
      if (!this.scheduled && !this.holdTimer) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    if (this.queue.length === 0) {
      this.scheduled = false;
      return;
    }
    const hold = this.holdFor();
    if (hold > 0) {
      // A write committed now would wait for the flush after the one in flight anyway: hold the
      // queue and commit it as one batch when that flush is done (fewer, larger commits).
      this.scheduled = false;
      this.holdTimer ??= setTimeout(() => {
        this.holdTimer = null;
        if (this.inFlight) this.inFlight.expired = true;
        this.flush();
      }, hold);
      return;
    }
    const batch = this.queue.splice(0, this.maxBatch);
    this.scheduled = this.queue.length > 0;
    if (this.scheduled) setImmediate(() => this.flush());
    let outcomes: Outcome[];
    try {
      outcomes = this.commit(batch, false);
    } catch (error) {
      if (!(error instanceof OpFailed)) {
        this.fail(batch, error);
        return;
      }
      // A write refused itself (a lost race, a vote that is not allowed): run the batch again
      // with a savepoint around each write, so only that one is undone. Store writes touch
      // nothing outside the database, so running them twice is safe after the rollback.
      try {
        outcomes = this.commit(batch, true);
      } catch (retryError) {
        this.fail(batch, retryError);
        return;
      }
    }
    // Deferred writes are answered at commit (nobody decides anything on them); the others once
    // a flush covers them. A refused write keeps its own error whatever the flush does: it
    // changed nothing, and its caller must learn why it was refused, not that the disk failed.
    // A write answered at commit is acted on before its flush is done, so only while the disk is
    // known good: a failing or hung disk must stop it as it stops any durable write.
    const diskGood = this.flushing === 0 && !this.lastFailed;
    const durable: Array<[Op, Outcome]> = [];
    const atCommit: Array<[Op, Outcome]> = [];
    batch.forEach((op, i) => {
      const outcome = outcomes[i] as Outcome;
      if (op.deferred) settle(op, outcome);
      else if (op.answerAtCommit && diskGood && outcome.ok) atCommit.push([op, outcome]);
      else durable.push([op, outcome]);
    });
    if (durable.length === 0 && atCommit.length === 0) {
      // Starting a flush here would make the next durable write wait behind it.
      this.unflushed ??= setTimeout(() => this.flushDeferred(), deferredFlushMs);
      return;
    }
    this.clearDeferred();
    const flight: Flight = { since: performance.now(), expired: false };
    this.inFlight = flight;
    const flushed = () => {
      if (this.inFlight !== flight) return;
      this.inFlight = null;
      if (this.holdTimer) clearTimeout(this.holdTimer);
      this.holdTimer = null;
      if (this.queue.length > 0 && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    };
    // Callers answered here act while the flush runs: they send the call they were waiting to send.
    const synced = this.track(this.sync(durable.length + atCommit.length, atCommit.length > 0));
    synced.then(
      () => {
        flushed();
        for (const [op, outcome] of durable) settle(op, outcome);
      },
      (error: unknown) => {
        flushed();
        const failure = unavailable(error);
        for (const [op, outcome] of durable) op.reject(outcome.ok ? failure : outcome.value);
      },
    );
    if (atCommit.length === 0) return;
    const flushedOrFailed = synced.catch((error: unknown) => {
      throw unavailable(error);
    });
    // Each caller handles the promise it is handed; this keeps one it drops from going unhandled.
    flushedOrFailed.catch(() => {});
    for (const [op, outcome] of atCommit) {
      op.answerAtCommit?.(flushedOrFailed);
      op.resolve(outcome.value);
    }
  }

  /** Counts a flush until it settles, and remembers whether the last one to settle failed. */
  private track(flush: Promise<void>): Promise<void> {
    this.flushing += 1;
    return flush.then(
      () => {
        this.flushing -= 1;
        this.lastFailed = false;
      },
      (error: unknown) => {
        this.flushing -= 1;
        this.lastFailed = true;
        throw error;
      },
    );
  }

  /** How much longer writes are to be held behind the flush in flight; 0 to commit now. */
  private holdFor(): number {
    const flight = this.inFlight;
    if (!flight || flight.expired) return 0;
    const left = flight.since + holdMaxMs - performance.now();
    if (left <= 0) flight.expired = true;
    return Math.max(0, left);
  }

  private flushDeferred(): void {
    this.unflushed = null;
    // Nobody waits on these writes any more. A failed flush is not reported here: the next
    // durable write's flush covers the same WAL and fails its own batch if the disk still fails.
    this.track(this.sync(0, false)).catch(() => {});
  }

  /** A durable batch's flush covers every deferred write committed before it. */
  private clearDeferred(): void {
    if (!this.unflushed) return;
    clearTimeout(this.unflushed);
    this.unflushed = null;
  }

  /**
   * One IMMEDIATE transaction for the whole batch. Without savepoints (the common case, two
   * statements fewer per write) the first failing write aborts the attempt with OpFailed.
   */
  private commit(batch: Op[], savepoints: boolean): Outcome[] {
    const outcomes: Outcome[] = [];
    for (const start of this.starts) start();
    this.db
      .transaction(() => {
        for (const op of batch) {
          if (!savepoints) {
            try {
              outcomes.push({ ok: true, value: op.fn() });
            } catch (error) {
              throw new OpFailed(error);
            }
            continue;
          }
          try {
            outcomes.push({ ok: true, value: this.db.transaction(op.fn)() });
          } catch (error) {
            outcomes.push({ ok: false, value: error });
          }
        }
        for (const hook of this.hooks) hook(this.db);
      })
      .immediate();
    return outcomes;
  }

  private fail(batch: Op[], cause: unknown): void {
    const failure = unavailable(cause);
    for (const op of batch) op.reject(failure);
  }
}

function settle(op: Op, outcome: Outcome): void {
  if (outcome.ok) op.resolve(outcome.value);
  else op.reject(outcome.value);
}

function unavailable(cause: unknown): CountersignError {
  const failure = new CountersignError('CS_ERR_UNAVAILABLE', 'the store could not commit the change');
  failure.cause = cause;
  return failure;
}
