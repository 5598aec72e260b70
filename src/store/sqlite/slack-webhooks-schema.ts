import type { Migration } from './schema.js';

/** Tables of the Slack and webhook channels (range 0300-0399). */
export const slackWebhookMigrations: Migration[] = [
  {
    name: '0300-webhook-outbox',
    sql: `
  -- The last audit event the outbox has looked at, and whether capture was on: when it is turned
  -- on, the cursor jumps to the log's end, so enabling webhooks never replays history.
  CREATE TABLE webhook_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_idx INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 0
  );
  INSERT INTO webhook_cursor (id, last_idx) SELECT 1, COALESCE(MAX(idx), -1) FROM events;
  CREATE TABLE webhook_outbox (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    url TEXT NOT NULL,
    event_type TEXT NOT NULL,
    request_id TEXT,
    event_idx INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    delivered_at INTEGER,
    UNIQUE (event_idx, target)
  );
  CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE status = 'pending';
  CREATE TABLE webhook_disabled (
    target TEXT NOT NULL,
    url TEXT NOT NULL,
    disabled_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (target, url)
  );
  `,
  },
  {
    name: '0301-slack-messages',
    sql: `
  -- One row per posted review message. status/votes are what the message last showed, so a
  -- sweep can find messages left behind by a failed update and bring them up to date.
  CREATE TABLE slack_messages (
    request_id TEXT NOT NULL,
    target TEXT NOT NULL,
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,
    status TEXT NOT NULL,
    votes INTEGER NOT NULL,
    rendered_at INTEGER NOT NULL,
    PRIMARY KEY (request_id, target)
  );
  -- Interactivity deliveries already handled, kept past Slack's 5-minute signature window.
  CREATE TABLE slack_deliveries (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
  CREATE INDEX slack_deliveries_expiry ON slack_deliveries (expires_at);
  `,
  },
];
