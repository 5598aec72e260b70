import type {
  ChatLinkRecord,
  ChatPlatform,
  IdentityStore,
  OidcIdentity,
  SessionRecord,
  Ticket,
  TicketPurpose,
} from '../../identity/store.js';
import type { SqliteStore } from './index.js';

/**
 * Identity persistence beside the main store (tables from migration 0200), sharing its
 * connection and group-commit queue so writes stay serialised with everything else.
 */
export class SqliteIdentityStore implements IdentityStore {
  private readonly stmt;

  constructor(private readonly store: SqliteStore) {
    const db = store.db;
    this.stmt = {
      // Sessions past their absolute timeout for a day are of no use, not even for audit (the log has them).
      sweepSessions: db.prepare('DELETE FROM identity_sessions WHERE expires_at < ?'),
      putSession: db.prepare(
        'INSERT OR REPLACE INTO identity_sessions (id, kind, reviewer_id, expires_at, revoked_at, last_seen_at, body) VALUES (@id, @kind, @reviewerId, @expiresAt, @revokedAt, @lastSeenAt, @body)',
      ),
      getSession: db.prepare<[string], { body: string; revoked_at: number | null; last_seen_at: number }>(
        'SELECT body, revoked_at, last_seen_at FROM identity_sessions WHERE id = ?',
      ),
      touch: db.prepare('UPDATE identity_sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?'),
      revoke: db.prepare('UPDATE identity_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      putTicket: db.prepare(
        'INSERT INTO identity_tickets (id, purpose, expires_at, body) VALUES (@id, @purpose, @expiresAt, @body)',
      ),
      getTicket: db.prepare<[string, string], { body: string; expires_at: number }>(
        'SELECT body, expires_at FROM identity_tickets WHERE id = ? AND purpose = ?',
      ),
      deleteTicket: db.prepare('DELETE FROM identity_tickets WHERE id = ?'),
      sweepTickets: db.prepare('DELETE FROM identity_tickets WHERE expires_at < ?'),
      putLink: db.prepare(
        'INSERT OR REPLACE INTO identity_chat_links (platform, team_id, user_id, reviewer_id, linked_at, body) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      getLink: db.prepare<[string, string, string], { body: string }>(
        'SELECT body FROM identity_chat_links WHERE platform = ? AND team_id = ? AND user_id = ?',
      ),
      linkFor: db.prepare<[string, string, string], { body: string }>(
        "SELECT body FROM identity_chat_links WHERE platform = ? AND (reviewer_id = ? OR lower(json_extract(body, '$.person.email')) = lower(?)) ORDER BY linked_at DESC LIMIT 1",
      ),
      deleteLink: db.prepare(
        'DELETE FROM identity_chat_links WHERE platform = ? AND team_id = ? AND user_id = ?',
      ),
      putPerson: db.prepare(
        'INSERT OR REPLACE INTO identity_people (id, email, last_login_at, body) VALUES (?, ?, ?, ?)',
      ),
      byEmail: db.prepare<[string], { body: string }>(
        'SELECT body FROM identity_people WHERE email = ? ORDER BY last_login_at DESC',
      ),
    };
  }

  putSession(s: SessionRecord): Promise<void> {
    return this.store.writes.run(() => {
      this.stmt.sweepSessions.run(s.createdAt - 86_400_000);
      this.stmt.putSession.run({ ...s, reviewerId: s.person.id, body: JSON.stringify(s) });
    });
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const row = this.stmt.getSession.get(id);
    if (!row) return undefined;
    return {
      ...(JSON.parse(row.body) as SessionRecord),
      revokedAt: row.revoked_at,
      lastSeenAt: row.last_seen_at,
    };
  }

  touchSession(id: string, at: number): Promise<void> {
    return this.store.writes.run(() => {
      this.stmt.touch.run(at, id, at);
    });
  }

  revokeSession(id: string, at: number): Promise<boolean> {
    return this.store.writes.run(() => this.stmt.revoke.run(at, id).changes === 1);
  }

  putTicket(t: Ticket): Promise<void> {
    return this.store.writes.run(() => {
      this.stmt.sweepTickets.run(t.expiresAt - 86_400_000);
      this.stmt.putTicket.run({ ...t, body: JSON.stringify(t) });
    });
  }

  takeTicket(id: string, purpose: TicketPurpose, now: number): Promise<Ticket | undefined> {
    // Read and delete in one write transaction: two concurrent redemptions cannot both succeed.
    return this.store.writes.run(() => {
      const row = this.stmt.getTicket.get(id, purpose);
      if (!row) return undefined;
      this.stmt.deleteTicket.run(id);
      return row.expires_at > now ? (JSON.parse(row.body) as Ticket) : undefined;
    });
  }

  putChatLink(l: ChatLinkRecord): Promise<void> {
    return this.store.writes.run(() => {
      this.stmt.putLink.run(l.platform, l.teamId, l.userId, l.person.id, l.linkedAt, JSON.stringify(l));
    });
  }

  async getChatLink(platform: ChatPlatform, teamId: string, userId: string) {
    const row = this.stmt.getLink.get(platform, teamId, userId);
    return row ? (JSON.parse(row.body) as ChatLinkRecord) : undefined;
  }

  async chatLinkFor(platform: ChatPlatform, reviewerOrEmail: string) {
    const row = this.stmt.linkFor.get(platform, reviewerOrEmail, reviewerOrEmail);
    return row ? (JSON.parse(row.body) as ChatLinkRecord) : undefined;
  }

  deleteChatLink(platform: ChatPlatform, teamId: string, userId: string): Promise<boolean> {
    return this.store.writes.run(() => this.stmt.deleteLink.run(platform, teamId, userId).changes === 1);
  }

  rememberPerson(p: OidcIdentity, at: number): Promise<void> {
    return this.store.writes.run(() => {
      this.stmt.putPerson.run(p.id, p.email.toLowerCase(), at, JSON.stringify(p));
    });
  }

  async peopleByEmail(email: string): Promise<OidcIdentity[]> {
    return this.stmt.byEmail.all(email.trim().toLowerCase()).map((r) => JSON.parse(r.body) as OidcIdentity);
  }
}
