import type Database from 'better-sqlite3';
import { CountersignError } from '../../core/errors.js';

interface Op {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Runs inside every batch's transaction after its writes, e.g. to extend the audit tree. */
export type BatchHook = (db: Database.Database) => void;

/** Makes a committed batch durable; resolves once it is on stable storage. */
export type Syncer = () => Promise<void>;

/**
 * Group commit. Writes queued during one turn of the event loop run in one IMMEDIATE
 * transaction, each inside its own savepoint so a refused write does not undo its neighbours.
 * After the commit, `sync` makes the batch durable off the event loop (see SqliteStore), and only
 * then do the batch's promises resolve: nobody is told "stored" before it is on disk. If the
 * commit or the sync fails, every write in the batch fails (closed).
 */
export class WriteQueue {
  private queue: Op[] = [];
  private scheduled = false;
  readonly hooks: BatchHook[] = [];

  constructor(
    private readonly db: Database.Database,
    private readonly sync: Syncer,
    private readonly maxBatch = 1000,
  ) {}

  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.maxBatch);
    this.scheduled = this.queue.length > 0;
    if (this.scheduled) setImmediate(() => this.flush());
    const outcomes: Array<{ ok: boolean; value: unknown }> = [];
    try {
      this.db
        .transaction(() => {
          for (const op of batch) {
            try {
              outcomes.push({ ok: true, value: this.db.transaction(op.fn)() });
            } catch (error) {
              outcomes.push({ ok: false, value: error });
            }
          }
          for (const hook of this.hooks) hook(this.db);
        })
        .immediate();
    } catch (error) {
      this.fail(batch, error);
      return;
    }
    this.sync().then(
      () => {
        batch.forEach((op, i) => {
          const o = outcomes[i] as { ok: boolean; value: unknown };
          if (o.ok) op.resolve(o.value);
          else op.reject(o.value);
        });
      },
      (error: unknown) => this.fail(batch, error),
    );
  }

  private fail(batch: Op[], cause: unknown): void {
    const failure = new CountersignError('CS_ERR_UNAVAILABLE', 'the store could not commit the change');
    failure.cause = cause;
    for (const op of batch) op.reject(failure);
  }
}
