import type { SqliteStore } from './index.js';

export interface SlackMessageRef {
  requestId: string;
  channel: string;
  ts: string;
}

/** What the Slack channel keeps: where each request was posted, and deliveries already handled. */
export class SqliteSlackState {
  constructor(private readonly store: SqliteStore) {}

  saveMessage(ref: SlackMessageRef, at: number): Promise<void> {
    return this.store.writes.run(() => {
      this.store.db
        .prepare(
          'INSERT OR REPLACE INTO slack_messages (request_id, channel, ts, posted_at) VALUES (?, ?, ?, ?)',
        )
        .run(ref.requestId, ref.channel, ref.ts, at);
    });
  }

  messagesFor(requestId: string): SlackMessageRef[] {
    return this.store.db
      .prepare<[string], SlackMessageRef>(
        'SELECT request_id AS requestId, channel, ts FROM slack_messages WHERE request_id = ? ORDER BY posted_at, channel',
      )
      .all(requestId);
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
