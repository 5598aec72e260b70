import type Database from 'better-sqlite3';
import type { AuditEvent } from '../../core/event.js';
import type { ActionRequest, Review } from '../../core/request.js';
import type { RequestSnapshot } from '../store.js';
import type { SqliteStore } from './index.js';

/** One message to deliver, as the channel derives it from an audit event. */
export interface OutboxMessage {
  /** The `webhook-id`: stable across every retry. */
  id: string;
  /** Endpoint id, or `callback` for a request's callbackUrl. */
  target: string;
  url: string;
  eventType: string;
  requestId: string | null;
  payload: string;
}

export type OutboxStatus = 'pending' | 'delivered' | 'failed' | 'disabled';

export interface OutboxRow extends OutboxMessage {
  eventIdx: number;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  lastError: string | null;
  deliveredAt: number | null;
}

/**
 * Turns one committed audit event into messages. Runs inside the write transaction, so it must be
 * synchronous; the snapshot is read only if asked for.
 */
export type Derive = (event: AuditEvent, snapshot: () => RequestSnapshot | undefined) => OutboxMessage[];

interface Row {
  id: string;
  target: string;
  url: string;
  event_type: string;
  request_id: string | null;
  event_idx: number;
  payload: string;
  created_at: number;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  delivered_at: number | null;
}

const toRow = (r: Row): OutboxRow => ({
  id: r.id,
  target: r.target,
  url: r.url,
  eventType: r.event_type,
  requestId: r.request_id,
  eventIdx: r.event_idx,
  payload: r.payload,
  createdAt: r.created_at,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  deliveredAt: r.delivered_at,
});

/**
 * The durable webhook outbox on the SQLite store. Messages are captured by a write-queue hook that
 * reads the audit events of each batch inside the batch's own transaction: a state change and the
 * messages announcing it commit together or not at all, without the service knowing about webhooks.
 */
export class SqliteOutbox {
  private readonly db: Database.Database;

  constructor(private readonly store: SqliteStore) {
    this.db = store.db;
  }

  /**
   * Starts capturing messages from every batch committed from now on, for events of `kinds`.
   * If capture was off before (first start, or webhooks were not configured), the cursor first
   * jumps to the end of the log: events from while it was off are not replayed.
   */
  capture(kinds: readonly string[], derive: Derive, now: () => number): void {
    const db = this.db;
    db.prepare(
      'UPDATE webhook_cursor SET last_idx = (SELECT COALESCE(MAX(idx), -1) FROM events), active = 1 WHERE id = 1 AND active = 0',
    ).run();
    const cursor = db.prepare<[], { last_idx: number }>('SELECT last_idx FROM webhook_cursor WHERE id = 1');
    const last = db.prepare<[number], { idx: number | null }>(
      'SELECT MAX(idx) AS idx FROM events WHERE idx > ?',
    );
    const newEvents = db.prepare<unknown[], { idx: number; entry: string }>(
      `SELECT idx, entry FROM events WHERE idx > ? AND kind IN (${kinds.map(() => '?').join(', ')}) ORDER BY idx`,
    );
    const request = db.prepare<[string], { body: string }>('SELECT body FROM requests WHERE id = ?');
    const reviews = db.prepare<[string], { body: string }>(
      'SELECT body FROM reviews WHERE request_id = ? ORDER BY at, rowid',
    );
    const disabled = db.prepare<[string, string], { n: number }>(
      'SELECT 1 AS n FROM webhook_disabled WHERE target = ? AND url = ?',
    );
    const insert = db.prepare(
      `INSERT OR IGNORE INTO webhook_outbox (id, target, url, event_type, request_id, event_idx, payload, created_at, status, next_attempt_at)
       VALUES (@id, @target, @url, @eventType, @requestId, @eventIdx, @payload, @now, 'pending', @now)`,
    );
    const advance = db.prepare('UPDATE webhook_cursor SET last_idx = ? WHERE id = 1');
    const snapshot = (id: string) => (): RequestSnapshot | undefined => {
      const row = request.get(id);
      if (!row) return undefined;
      return {
        request: JSON.parse(row.body) as ActionRequest,
        reviews: reviews.all(id).map((r) => JSON.parse(r.body) as Review),
      };
    };
    this.store.writes.hooks.push(() => {
      const from = cursor.get()?.last_idx ?? -1;
      const to = last.get(from)?.idx ?? null;
      if (to === null) return;
      const at = now();
      // .all(), not .iterate(): better-sqlite3 allows no writes on a connection while a read cursor is open.
      for (const row of newEvents.all(from, ...kinds)) {
        const event = JSON.parse(row.entry) as AuditEvent;
        if (!event.requestId) continue;
        for (const m of derive(event, snapshot(event.requestId))) {
          if (disabled.get(m.target, m.url)) continue;
          insert.run({ ...m, eventIdx: row.idx, now: at });
        }
      }
      advance.run(to);
    });
  }

  /** Records that capture is off, so that turning it on later starts from the log's end. */
  idle(): void {
    this.db.prepare('UPDATE webhook_cursor SET active = 0 WHERE id = 1').run();
  }

  due(now: number, limit: number): OutboxRow[] {
    return this.db
      .prepare<[number, number, number], Row>(
        `SELECT * FROM webhook_outbox WHERE status = 'pending' AND next_attempt_at <= ?
         AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at, event_idx LIMIT ?`,
      )
      .all(now, now, limit)
      .map(toRow);
  }

  /** Takes a lease on a message so that two workers (or replicas) never send it at once. */
  claim(id: string, now: number, leaseMs: number): Promise<boolean> {
    return this.store.writes.run(
      () =>
        this.db
          .prepare(
            `UPDATE webhook_outbox SET lease_until = ? WHERE id = ? AND status = 'pending'
             AND (lease_until IS NULL OR lease_until <= ?)`,
          )
          .run(now + leaseMs, id, now).changes === 1,
    );
  }

  delivered(id: string, now: number, attempts: number): Promise<void> {
    return this.store.writes.run(() => {
      this.db
        .prepare(
          `UPDATE webhook_outbox SET status = 'delivered', delivered_at = ?, attempts = ?, lease_until = NULL, last_error = NULL WHERE id = ?`,
        )
        .run(now, attempts, id);
    });
  }

  retry(id: string, attempts: number, nextAttemptAt: number, error: string): Promise<void> {
    return this.store.writes.run(() => {
      this.db
        .prepare(
          'UPDATE webhook_outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, lease_until = NULL WHERE id = ?',
        )
        .run(attempts, nextAttemptAt, error, id);
    });
  }

  /** Gives up on one message for good. */
  fail(id: string, attempts: number, error: string): Promise<void> {
    return this.store.writes.run(() => {
      this.db
        .prepare(
          `UPDATE webhook_outbox SET status = 'failed', attempts = ?, last_error = ?, lease_until = NULL WHERE id = ?`,
        )
        .run(attempts, error, id);
    });
  }

  /**
   * A receiver answered 410 Gone: nothing more goes to this target at this URL, queued or future.
   * Changing the endpoint's URL in the configuration enables it again. For a callback the target
   * is per request, so only that request's callback stops.
   */
  disable(target: string, url: string, requestId: string | null, now: number, reason: string): Promise<void> {
    return this.store.writes.run(() => {
      if (target === 'callback') {
        this.db
          .prepare(
            `UPDATE webhook_outbox SET status = 'disabled', last_error = ?, lease_until = NULL
             WHERE target = 'callback' AND url = ? AND request_id IS ? AND status = 'pending'`,
          )
          .run(reason, url, requestId);
        return;
      }
      this.db
        .prepare(
          'INSERT OR IGNORE INTO webhook_disabled (target, url, disabled_at, reason) VALUES (?, ?, ?, ?)',
        )
        .run(target, url, now, reason);
      this.db
        .prepare(
          `UPDATE webhook_outbox SET status = 'disabled', last_error = ?, lease_until = NULL
           WHERE target = ? AND url = ? AND status = 'pending'`,
        )
        .run(reason, target, url);
    });
  }

  isDisabled(target: string, url: string): boolean {
    return (
      this.db
        .prepare<[string, string], { n: number }>(
          'SELECT 1 AS n FROM webhook_disabled WHERE target = ? AND url = ?',
        )
        .get(target, url) !== undefined
    );
  }

  /** Forgets settled messages (delivered, failed, disabled) created before `before`. */
  prune(before: number): Promise<number> {
    return this.store.writes.run(
      () =>
        this.db.prepare("DELETE FROM webhook_outbox WHERE status != 'pending' AND created_at < ?").run(before)
          .changes,
    );
  }

  list(): OutboxRow[] {
    return this.db
      .prepare<[], Row>('SELECT * FROM webhook_outbox ORDER BY event_idx, target')
      .all()
      .map(toRow);
  }

  /** The earliest time a pending message is due, for the worker's timer. */
  nextDue(): number | null {
    return (
      this.db
        .prepare<[], { t: number | null }>(
          "SELECT MIN(next_attempt_at) AS t FROM webhook_outbox WHERE status = 'pending'",
        )
        .get()?.t ?? null
    );
  }
}
