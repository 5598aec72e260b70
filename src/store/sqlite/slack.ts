import type { SqliteStore } from './index.js';

export interface SlackMessageRef {
  requestId: string;
  /** What the message was posted to (a channel id, or a user id for a DM). */
  target: string;
  /** The conversation Slack put it in (a DM's D… id for a user). */
  channel: string;
  ts: string;
}

/** What a message shows: the request status and how many votes. */
export interface Rendered {
  status: string;
  votes: number;
}

/** What the Slack channel keeps: where each request was posted, and deliveries already handled. */
export class SqliteSlackState {
  constructor(private readonly store: SqliteStore) {}

  saveMessage(ref: SlackMessageRef, shown: Rendered, at: number): Promise<void> {
    return this.store.writes.run(() => {
      this.store.db
        .prepare(
          'INSERT OR REPLACE INTO slack_messages (request_id, target, channel, ts, status, votes, rendered_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(ref.requestId, ref.target, ref.channel, ref.ts, shown.status, shown.votes, at);
    });
  }

  markRendered(ref: SlackMessageRef, shown: Rendered, at: number): Promise<void> {
    return this.store.writes.run(() => {
      this.store.db
        .prepare(
          'UPDATE slack_messages SET status = ?, votes = ?, rendered_at = ? WHERE request_id = ? AND target = ?',
        )
        .run(shown.status, shown.votes, at, ref.requestId, ref.target);
    });
  }

  messagesFor(requestId: string): SlackMessageRef[] {
    return this.store.db
      .prepare<[string], SlackMessageRef>(
        'SELECT request_id AS requestId, target, channel, ts FROM slack_messages WHERE request_id = ? ORDER BY rowid',
      )
      .all(requestId);
  }

  /** Pending requests created before `before` that have no message at all. */
  unposted(before: number, limit: number): string[] {
    return this.store.db
      .prepare<[number, number], { id: string }>(
        `SELECT id FROM requests r WHERE r.status = 'pending' AND r.created_at <= ?
         AND NOT EXISTS (SELECT 1 FROM slack_messages m WHERE m.request_id = r.id)
         AND NOT EXISTS (SELECT 1 FROM slack_deliveries d WHERE d.key = 'skip:' || r.id)
         ORDER BY r.created_at LIMIT ?`,
      )
      .all(before, limit)
      .map((r) => r.id);
  }

  /** Marks a request as not for Slack (its rule names other channels), so sweeps pass it by. */
  skip(requestId: string, now: number): Promise<void> {
    return this.first(`skip:${requestId}`, now, 400 * 86_400_000).then(() => undefined);
  }

  /** Requests whose message, last rendered before `before`, no longer shows their status or votes. */
  stale(before: number, limit: number): string[] {
    return this.store.db
      .prepare<[number, number], { id: string }>(
        `SELECT DISTINCT m.request_id AS id FROM slack_messages m JOIN requests r ON r.id = m.request_id
         WHERE m.rendered_at <= ? AND (m.status != r.status
           OR m.votes != (SELECT COUNT(*) FROM reviews v WHERE v.request_id = m.request_id))
         LIMIT ?`,
      )
      .all(before, limit)
      .map((r) => r.id);
  }

  /**
   * True the first time a key is seen, false on every repeat until it expires. Kept in the store so
   * a replay is refused across restarts and replicas alike.
   */
  first(key: string, now: number, keepMs: number): Promise<boolean> {
    return this.store.writes.run(() => {
      this.store.db.prepare('DELETE FROM slack_deliveries WHERE expires_at <= ?').run(now);
      return (
        this.store.db
          .prepare('INSERT OR IGNORE INTO slack_deliveries (key, expires_at) VALUES (?, ?)')
          .run(key, now + keepMs).changes === 1
      );
    });
  }
}
