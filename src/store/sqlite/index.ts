import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { canonicalJson } from '../../core/action.js';
import { CountersignError } from '../../core/errors.js';
import type { AuditEvent, StoredEvent } from '../../core/event.js';
import type { ActionRequest, Review } from '../../core/request.js';
import type {
  Credential,
  CredentialKind,
  Decision,
  MutateOptions,
  Mutation,
  RequestQuery,
  RequestSnapshot,
  Store,
  WriteOptions,
} from '../store.js';
import { SqliteAuditLog } from './audit.js';
import { Checkpointer } from './checkpointer.js';
import { Flusher, type FlushObservation } from './flush.js';
import { migrations } from './schema.js';
import { WriteQueue } from './write-queue.js';

export interface SqliteOptions {
  /** File path, or `:memory:` for tests that need no file. */
  path: string;
  /**
   * `fsync` (default): a write resolves only once its batch is on stable storage. `os`: once the
   * OS has it (survives a crash of the process, not of the machine); for throwaway setups.
   */
  durability?: 'fsync' | 'os';
  /** Checkpointer tuning; tests shorten it to see several rounds quickly. */
  checkpoint?: { intervalMs?: number; longFrames?: number };
  /**
   * Told of every WAL flush in `fsync` mode (the metrics' `countersign_store_flush_seconds`):
   * a durable write waits for one, so its duration is the disk's share of a request's latency.
   */
  onFlush?: (flush: FlushObservation) => void;
}

/** How often the checkpointer thread moves WAL frames into the database file. */
const checkpointIntervalMs = 200;

/**
 * Statuses the `requests_review` index leaves out: an allowed call becomes executed a moment
 * later, and indexing both cost two page writes per call (decision 0015). Listing only these
 * statuses walks the requests newest first instead.
 */
const unindexedStatuses = new Set<string>(['allowed', 'executed']);
const reviewIndexCondition = "status NOT IN ('allowed', 'executed')";

/** Credentials kept in memory at most; past it the cache starts over. */
const maxCachedCredentials = 10_000;

/** Cached values are shared between callers, so none of them may change one. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

interface EventRow {
  idx: number;
  entry: string;
}

/** The embedded default store: one SQLite file in WAL mode. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly db: Database.Database;
  readonly writes: WriteQueue;
  /** The Merkle tree over the events table, extended in every write batch. */
  readonly audit: SqliteAuditLog;
  private readonly wal: WalSync;
  private readonly stmt;

  constructor(options: SqliteOptions) {
    // Owner only, like the data directory: the database holds every request and credential hash.
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.migrateSync();
    try {
      this.audit = new SqliteAuditLog(this.db);
      // Catch up with events written before the tree existed (or by a crashed batch), then keep up.
      // Like the migrations, this commits with SQLite's own (synchronous) durability.
      this.db.transaction(() => this.audit.extend()).immediate();
    } catch (error) {
      // A log that cannot be opened (a missing tile) fails the open, before any thread is started.
      this.db.close();
      throw error;
    }
    this.wal = new WalSync(
      this.db,
      options.path,
      options.durability ?? 'fsync',
      options.checkpoint,
      options.onFlush,
    );
    // Events found on open were committed by an earlier process: what we read is what survived.
    this.audit.markDurable(this.audit.committed());
    // Checkpoints may only cover what is on stable storage: the tree size committed by a batch
    // becomes signable once that batch's sync is done.
    this.writes = new WriteQueue(this.db, (writes, overlapped) => {
      const size = this.audit.committed();
      return this.wal.sync(writes, overlapped).then(() => this.audit.markDurable(size));
    });
    this.writes.hooks.push(this.audit.extend);
    this.writes.starts.push(this.audit.discardPending);
    const db = this.db;
    this.stmt = {
      insertRequest: db.prepare(
        'INSERT INTO requests (id, status, actor_id, expires_at, created_at, version, body) VALUES (@id, @status, @actorId, @expiresAt, @createdAt, @version, @body)',
      ),
      updateRequest: db.prepare(
        'UPDATE requests SET status = @status, expires_at = @expiresAt, version = @version, body = @body WHERE id = @id AND version = @prev',
      ),
      getRequest: db.prepare<[string], { body: string }>('SELECT body FROM requests WHERE id = ?'),
      reviewsFor: db.prepare<[string], { body: string }>(
        'SELECT body FROM reviews WHERE request_id = ? ORDER BY at, rowid',
      ),
      insertReview: db.prepare('INSERT INTO reviews (request_id, reviewer_id, at, body) VALUES (?, ?, ?, ?)'),
      // Indexes are MAX(idx)+1. SQLite assigns exactly that to a NULL rowid once the table has a
      // row; only the very first event needs the explicit form, since an empty table starts at 1.
      insertFirstEvent: db.prepare(
        'INSERT INTO events (idx, request_id, kind, at, entry) VALUES ((SELECT COALESCE(MAX(idx), -1) + 1 FROM events), ?, ?, ?, ?)',
      ),
      insertEvent: db.prepare('INSERT INTO events (request_id, kind, at, entry) VALUES (?, ?, ?, ?)'),
      eventsFor: db.prepare<[string], EventRow>(
        'SELECT idx, entry FROM events WHERE request_id = ? ORDER BY idx',
      ),
      readEvents: db.prepare<[number, number], EventRow>(
        'SELECT idx, entry FROM events WHERE idx >= ? ORDER BY idx LIMIT ?',
      ),
      due: db.prepare<[number, number], { id: string }>(
        "SELECT id FROM requests WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
      ),
      nextDeadline: db.prepare<[], { t: number | null }>(
        "SELECT MIN(expires_at) AS t FROM requests WHERE status = 'pending'",
      ),
      insertCredential: db.prepare(
        'INSERT INTO credentials (id, kind, name, owner, secret_hash, created_at, expires_at, revoked_at, body) VALUES (@id, @kind, @name, @owner, @secretHash, @createdAt, @expiresAt, @revokedAt, @body)',
      ),
      getCredential: db.prepare<[string], { body: string; revoked_at: number | null }>(
        'SELECT body, revoked_at FROM credentials WHERE id = ?',
      ),
      listCredentials: db.prepare<[string], { body: string; revoked_at: number | null }>(
        'SELECT body, revoked_at FROM credentials WHERE kind = ? ORDER BY created_at',
      ),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      revokeCredential: db.prepare(
        'UPDATE credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
      ),
    };
  }

  private migrateSync(): void {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    const done = new Set(
      this.db
        .prepare<[], { name: string }>('SELECT name FROM schema_migrations')
        .all()
        .map((r) => r.name),
    );
    const todo = [...migrations]
      .sort((a, b) => a.name.localeCompare(b.name))
      .filter((m) => !done.has(m.name));
    const record = this.db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)');
    this.db
      .transaction(() => {
        for (const m of todo) {
          this.db.exec(m.sql);
          record.run(m.name, Date.now());
        }
      })
      .immediate();
  }

  probeWrite(): Promise<void> {
    return this.writes.run(() => undefined);
  }

  /** Migrations already ran when the store opened, before any write could be queued. */
  async migrate(): Promise<void> {}

  async close(): Promise<void> {
    await this.writes.run(() => undefined);
    await this.wal.close();
    this.db.close();
  }

  private appendSync(events: AuditEvent[]): void {
    for (const e of events) {
      const entry = canonicalJson(e);
      const insert = this.audit.hasDurableEntries() ? this.stmt.insertEvent : this.stmt.insertFirstEvent;
      const { lastInsertRowid } = insert.run(e.requestId, e.kind, e.at, entry);
      this.audit.pending(Number(lastInsertRowid), entry);
    }
  }

  private requestRow(r: ActionRequest) {
    return {
      id: r.id,
      status: r.status,
      actorId: r.requester.id,
      expiresAt: r.status === 'pending' ? r.expiresAt : null,
      createdAt: r.createdAt,
      version: r.version,
      body: JSON.stringify(r),
    };
  }

  createRequest(request: ActionRequest, events: AuditEvent[], options?: WriteOptions): Promise<void> {
    return this.writes.run(() => {
      this.stmt.insertRequest.run(this.requestRow(request));
      this.appendSync(events);
    }, options);
  }

  private snapshotSync(id: string): RequestSnapshot | undefined {
    const row = this.stmt.getRequest.get(id);
    if (!row) return undefined;
    return {
      request: JSON.parse(row.body) as ActionRequest,
      reviews: this.stmt.reviewsFor.all(id).map((r) => JSON.parse(r.body) as Review),
    };
  }

  async getRequest(id: string): Promise<RequestSnapshot | undefined> {
    return this.snapshotSync(id);
  }

  async listRequests(query: RequestQuery): Promise<ActionRequest[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.status?.length) {
      where.push(`status IN (${query.status.map(() => '?').join(', ')})`);
      args.push(...query.status);
      // Restates the partial index's condition word for word, which is how SQLite's planner
      // recognises that the index holds every row the query can match.
      if (!query.status.some((s) => unindexedStatuses.has(s))) where.push(reviewIndexCondition);
    }
    if (query.actorId) {
      where.push('actor_id = ?');
      args.push(query.actorId);
    }
    if (query.before) {
      where.push('id < ?');
      args.push(query.before);
    }
    const sql = `SELECT body FROM requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare<unknown[], { body: string }>(sql).all(...args, query.limit);
    return rows.map((r) => JSON.parse(r.body) as ActionRequest);
  }

  mutate<T>(id: string, decide: (snap: RequestSnapshot) => Decision<T>, options?: MutateOptions): Promise<T> {
    // Read, decide and write run inside one write transaction: nothing can change the row between them.
    return this.writes
      .run(() => {
        const fast = options?.known ? this.mutateKnown(id, options.known, decide) : undefined;
        if (fast) return fast;
        const snap = this.snapshotSync(id);
        if (!snap) throw new CountersignError('CS_ERR_NOT_FOUND', `no request ${id}`);
        const d = decide(snap);
        if (d.mutation && !this.writeSync(id, snap.request.version, d.mutation))
          throw new CountersignError('CS_ERR_ILLEGAL_TRANSITION', `request ${id} changed concurrently`);
        return d;
      }, options)
      .then((d) => {
        if (d.error) throw d.error;
        return d.value as T;
      });
  }

  /**
   * Decides on the caller's snapshot and writes the change if the row is still at its version;
   * undefined (nothing written) when the stored state must decide instead (see MutateOptions).
   */
  private mutateKnown<T>(
    id: string,
    known: RequestSnapshot,
    decide: (snap: RequestSnapshot) => Decision<T>,
  ): Decision<T> | undefined {
    if (known.request.id !== id) return undefined;
    let d: Decision<T>;
    try {
      d = decide(known);
    } catch {
      return undefined;
    }
    if (!d.mutation?.request) return undefined;
    return this.writeSync(id, known.request.version, d.mutation) ? d : undefined;
  }

  /** Writes a mutation if the request is at version `prev`; false (nothing written) if it is not. */
  private writeSync(id: string, prev: number, { request, review, events }: Mutation): boolean {
    if (request) {
      const changed = this.stmt.updateRequest.run({ ...this.requestRow(request), prev });
      if (changed.changes !== 1) return false;
    }
    if (review) this.stmt.insertReview.run(id, review.reviewerId, review.at, JSON.stringify(review));
    this.appendSync(events);
    return true;
  }

  async dueRequests(now: number, limit: number): Promise<string[]> {
    return this.stmt.due.all(now, limit).map((r) => r.id);
  }

  async nextDeadline(): Promise<number | null> {
    return this.stmt.nextDeadline.get()?.t ?? null;
  }

  appendEvents(events: AuditEvent[]): Promise<void> {
    return this.writes.run(() => this.appendSync(events));
  }

  private toStored(row: EventRow): StoredEvent {
    return { ...(JSON.parse(row.entry) as AuditEvent), index: row.idx, entry: row.entry };
  }

  async eventsForRequest(requestId: string): Promise<StoredEvent[]> {
    return this.stmt.eventsFor.all(requestId).map((r) => this.toStored(r));
  }

  async readEvents(fromIndex: number, limit: number): Promise<StoredEvent[]> {
    return this.stmt.readEvents.all(fromIndex, limit).map((r) => this.toStored(r));
  }

  createCredential(c: Credential, events: AuditEvent[]): Promise<void> {
    return this.writes.run(() => {
      this.stmt.insertCredential.run({ ...c, body: JSON.stringify(c) });
      this.appendSync(events);
    });
  }

  private credential(row: { body: string; revoked_at: number | null }): Credential {
    return { ...(JSON.parse(row.body) as Credential), revokedAt: row.revoked_at };
  }

  /**
   * Credentials as read, looked up on every authenticated request. SQLite's data_version changes
   * whenever another connection commits (the CLI revoking a key from another process), which
   * empties the cache; this connection's own revocations empty it once committed. Misses are not
   * cached (so a new credential needs no clearing), and the size is bounded, so unknown ids cannot
   * grow it.
   */
  private readonly credentials = new Map<string, Readonly<Credential>>();
  private credentialsVersion = -1;

  async findCredential(id: string): Promise<Credential | undefined> {
    const version = this.stmt.dataVersion.get() as number;
    if (version !== this.credentialsVersion) {
      this.credentials.clear();
      this.credentialsVersion = version;
    }
    const cached = this.credentials.get(id);
    if (cached) return cached;
    const row = this.stmt.getCredential.get(id);
    if (!row) return undefined;
    const credential = deepFreeze(this.credential(row));
    if (this.credentials.size >= maxCachedCredentials) this.credentials.clear();
    this.credentials.set(id, credential);
    return credential;
  }

  async listCredentials(kind: CredentialKind): Promise<Credential[]> {
    return this.stmt.listCredentials.all(kind).map((r) => this.credential(r));
  }

  revokeCredential(id: string, at: number, events: AuditEvent[]): Promise<boolean> {
    // Cleared once the revocation is committed: a lookup before that reads the key as it still is.
    const write = this.writes.run(() => {
      const changed = this.stmt.revokeCredential.run(at, id).changes === 1;
      if (changed) this.appendSync(events);
      return changed;
    });
    return write.finally(() => this.credentials.clear());
  }
}

/**
 * Durable group commit. Commits run with synchronous=OFF and, in `fsync` mode, the WAL file is
 * fdatasync'ed after each batch through our own fd; callers hear back only after that. The
 * Flusher runs that fdatasync on this thread for a lone writer on a fast disk, and on libuv's
 * thread pool when writers are concurrent or the disk is slow, where an inline flush would stall
 * every request (decision 0002).
 * Automatic checkpoints (which fsync on the committing thread) are off in both modes: a
 * Checkpointer thread runs them with synchronous=FULL, which fsyncs the database file before
 * SQLite may reuse the WAL; when the WAL grows long, this thread copies the last few frames
 * itself so that SQLite can start it over (see finishCheckpoint).
 */
class WalSync {
  private fd: number | undefined;
  private checkpointer: Checkpointer | undefined;
  private flusher: Flusher | undefined;

  constructor(
    db: Database.Database,
    path: string,
    mode: 'fsync' | 'os',
    tuning: SqliteOptions['checkpoint'] = {},
    observe?: SqliteOptions['onFlush'],
  ) {
    if (path === ':memory:') return;
    db.pragma('synchronous = OFF');
    db.pragma('wal_autocheckpoint = 0');
    // Keeps a recycled WAL from staying at its high-water mark on disk.
    db.pragma('journal_size_limit = 67108864');
    this.checkpointer = new Checkpointer(
      path,
      tuning.intervalMs ?? checkpointIntervalMs,
      (message) => process.emitWarning(`SQLite checkpoint failed: ${message}`),
      () => this.finishCheckpoint(db),
      tuning.longFrames,
    );
    if (mode === 'fsync') {
      // The WAL exists once the database has been opened in WAL mode; fsync it through our own fd.
      db.prepare('SELECT COUNT(*) FROM schema_migrations').get();
      this.fd = openSync(`${path}-wal`, 'r');
      // Once closed there is nothing left to flush (a late deferred-write timer may still ask),
      // and the number may by then belong to another file.
      this.flusher = new Flusher({
        syncHere: () => {
          if (this.fd !== undefined) fdatasyncSync(this.fd);
        },
        syncOffThread: (done) => (this.fd === undefined ? done(null) : fdatasync(this.fd, done)),
        now: () => performance.now(),
        observe,
      });
    }
  }

  /**
   * Copies the frames committed since the checkpointer thread's last round (that round copied
   * the rest), so every frame is in the database file and the next commit starts the WAL over
   * from its beginning. It runs on the writer's thread between two batches, where no commit can
   * slip in, with synchronous=FULL so the database file is on disk before SQLite may overwrite
   * the WAL. The cost is one short stall, only in rounds that found the WAL long.
   */
  private finishCheckpoint(db: Database.Database): void {
    if (!db.open || db.inTransaction) return;
    db.pragma('synchronous = FULL');
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch (error) {
      process.emitWarning(`SQLite checkpoint failed: ${(error as Error).message}`);
    } finally {
      db.pragma('synchronous = OFF');
    }
  }

  /** Resolves once every batch committed before the call is on stable storage. */
  sync(writes = 1, overlapped = false): Promise<void> {
    return this.flusher ? this.flusher.flush(writes, overlapped) : Promise.resolve();
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
