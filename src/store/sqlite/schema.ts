import { auditLeavesMigration, auditMigration } from './audit.js';

/**
 * Migrations, applied once each in name order and recorded by name in `schema_migrations`, so
 * features developed side by side can each add their own without renumbering. Never edit a
 * shipped one: add the next. Name them `NNNN-what`.
 */
import { slackWebhookMigrations } from './slack-webhooks-schema.js';

export interface Migration {
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    name: '0001-requests-reviews-events-credentials',
    sql: `
  CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL
  );
  CREATE INDEX requests_deadline ON requests (expires_at) WHERE status = 'pending';
  CREATE INDEX requests_status ON requests (status, id);
  CREATE INDEX requests_actor ON requests (actor_id, id);
  CREATE TABLE reviews (
    request_id TEXT NOT NULL REFERENCES requests (id),
    reviewer_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (request_id, reviewer_id)
  );
  CREATE TABLE events (
    idx INTEGER PRIMARY KEY,
    request_id TEXT,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    entry TEXT NOT NULL
  );
  CREATE INDEX events_request ON events (request_id) WHERE request_id IS NOT NULL;
  CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    body TEXT NOT NULL
  );
  CREATE INDEX credentials_kind ON credentials (kind, created_at);
  `,
  },
  {
    // Calls the policy allows go allowed → executed within milliseconds, and that is most of the
    // traffic: a full (status, id) index rewrote two of its pages for each of them (decision 0015).
    // The statuses people filter on (pending, denied, failed, ...) stay indexed.
    name: '0002-requests-status-index-partial',
    sql: `
  DROP INDEX requests_status;
  CREATE INDEX requests_review ON requests (status, id) WHERE status NOT IN ('allowed', 'executed');
  `,
  },
  {
    // Identity (0200-0299): reviewer sessions, single-use tickets, chat links, people seen at login.
    name: '0200-identity-sessions-tickets-links',
    sql: `
  CREATE TABLE identity_sessions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    last_seen_at INTEGER NOT NULL,
    body TEXT NOT NULL
  );
  CREATE INDEX identity_sessions_reviewer ON identity_sessions (reviewer_id);
  CREATE TABLE identity_tickets (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    body TEXT NOT NULL
  );
  CREATE INDEX identity_tickets_expiry ON identity_tickets (expires_at);
  CREATE TABLE identity_chat_links (
    platform TEXT NOT NULL,
    team_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    linked_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (platform, team_id, user_id)
  );
  CREATE TABLE identity_people (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    last_login_at INTEGER NOT NULL,
    body TEXT NOT NULL
  );
  CREATE INDEX identity_people_email ON identity_people (email);
  `,
  },
  ...slackWebhookMigrations,
  // Audit: the Merkle tree over the events table, its tiles and checkpoints.
  { name: '0300-audit-tree', sql: auditMigration },
  // The incomplete level-0 tile as one row per leaf, so a small batch writes a small row. Its
  // number repeats 0301-slack-messages; migrations are recorded by name, so it must keep it.
  { name: '0301-audit-leaves', sql: auditLeavesMigration },
];
