import { createHash, timingSafeEqual } from 'node:crypto';
import type { IdentityConfig } from '../config/identity.js';
import type { Clock } from '../core/clock.js';
import { CountersignError } from '../core/errors.js';
import type { Reviewer } from '../core/identity.js';
import { newId, newSecret } from '../util/ids.js';
import { cookieName, parseCookies } from './cookies.js';
import { reviewerFor } from './reviewers.js';
import type { IdentityStore, OidcIdentity, SessionKind, SessionRecord } from './store.js';

const shape = /^(css_[0-9a-z]{26})\.([0-9a-z]{52})$/;
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const unauthenticated = (why: string) => new CountersignError('CS_ERR_UNAUTHENTICATED', why);

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Is this a reviewer session token (`css_…`)? The CLI sends one as a bearer token. */
export function isSessionToken(token: string): boolean {
  return token.startsWith('css_');
}

/**
 * Reviewer sessions. A web session lives in an HttpOnly cookie and needs a CSRF token on every
 * state-changing request; a CLI session is a bearer token from `countersign login`. Both end at
 * the absolute timeout; web sessions also end after the idle timeout. The reviewer, including
 * groups, is rebuilt from the current configuration on every request.
 */
export class Sessions {
  readonly cookie: string;

  constructor(
    private readonly store: IdentityStore,
    private readonly config: IdentityConfig,
    private readonly clock: Clock,
  ) {
    this.cookie = cookieName('cs_session', config.sessions.secureCookies);
  }

  async create(kind: SessionKind, person: OidcIdentity, authTime: number) {
    const now = this.clock.now();
    const secret = newSecret(32);
    const life = kind === 'web' ? this.config.sessions.absoluteMs : this.config.sessions.cliTokenMs;
    const record: SessionRecord = {
      id: newId('css', now),
      kind,
      secretHash: sha256(secret),
      person,
      authTime,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + life,
      revokedAt: null,
    };
    await this.store.putSession(record);
    const token = `${record.id}.${secret}`;
    return { token, record, csrf: this.csrfFor(token) };
  }

  /** The CSRF token is derived from the session secret, so it needs no storage and dies with it. */
  csrfFor(token: string): string {
    return sha256(`csrf:${token}`);
  }

  /** The live session behind a token, or a 401 saying why there is none. */
  async lookup(token: string, kind: SessionKind): Promise<SessionRecord> {
    const m = shape.exec(token);
    if (!m) throw unauthenticated('the session token is malformed; sign in again');
    const s = await this.store.getSession(m[1] as string);
    if (!s || s.kind !== kind || !same(s.secretHash, sha256(m[2] as string)))
      throw unauthenticated('the session is unknown; sign in again');
    const now = this.clock.now();
    if (s.revokedAt !== null) throw unauthenticated('the session was signed out; sign in again');
    if (now >= s.expiresAt) throw unauthenticated('the session reached its absolute timeout; sign in again');
    if (kind === 'web' && now - s.lastSeenAt >= this.config.sessions.idleMs)
      throw unauthenticated('the session was idle too long; sign in again');
    if (now - s.lastSeenAt >= 5000) await this.store.touchSession(s.id, now);
    return s;
  }

  reviewer(s: SessionRecord): Reviewer {
    return reviewerFor(this.config, s.person, s.authTime);
  }

  async bearer(token: string): Promise<Reviewer> {
    return this.reviewer(await this.lookup(token, 'cli'));
  }

  /** The session token in a Cookie header, if any. */
  tokenFrom(cookieHeader: string | undefined): string | undefined {
    return parseCookies(cookieHeader).get(this.cookie);
  }

  /**
   * Authenticates a cookie session. `unsafe` requests (anything but GET/HEAD/OPTIONS) must carry
   * the session's CSRF token in `x-csrf-token`: a cross-site form cannot set that header.
   */
  async fromCookie(cookieHeader: string | undefined, unsafe: boolean, csrf: string | undefined) {
    const token = this.tokenFrom(cookieHeader);
    if (token === undefined) return undefined;
    const s = await this.lookup(token, 'web');
    if (unsafe && (csrf === undefined || !same(csrf, this.csrfFor(token))))
      throw new CountersignError(
        'CS_ERR_CSRF',
        'state-changing requests with a session cookie need the x-csrf-token header from GET /auth/session',
      );
    return this.reviewer(s);
  }

  async revoke(token: string): Promise<SessionRecord | undefined> {
    const m = shape.exec(token);
    if (!m) return undefined;
    const s = await this.store.getSession(m[1] as string);
    if (!s || !same(s.secretHash, sha256(m[2] as string))) return undefined;
    await this.store.revokeSession(s.id, this.clock.now());
    return s;
  }
}
