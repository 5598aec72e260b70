import type { Clock } from '../core/clock.js';
import { CountersignError } from '../core/errors.js';
import type { Actor, Reviewer } from '../core/identity.js';
import { looksLikeJwt, type WorkloadJwtVerifier } from '../identity/jwt.js';
import { isSessionToken, type Sessions } from '../identity/sessions.js';
import { parseToken, secretMatches } from '../identity/tokens.js';
import type { Store } from '../store/store.js';

/** Reviewers known to the gateway, looked up on every request so group changes apply at once. */
export interface ReviewerDirectory {
  get(id: string): Reviewer | undefined;
  list(): Reviewer[];
}

export type Caller =
  | { kind: 'actor'; actor: Actor; allowedTypes: string[] | null }
  | { kind: 'reviewer'; reviewer: Reviewer };

const unauthenticated = (why: string) => new CountersignError('CS_ERR_UNAUTHENTICATED', why);

/** The token of an `Authorization: Bearer <token>` header, as every HTTP edge reads it. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, token] = header.split(' ', 2);
  return scheme?.toLowerCase() === 'bearer' ? token?.trim() : undefined;
}

/** Optional identity sources beyond the stored credentials: workload JWTs and reviewer sessions. */
export interface IdentitySources {
  jwt?: WorkloadJwtVerifier;
  sessions?: Sessions;
}

/** What a cookie-authenticated request offers: its Cookie header, method and CSRF header. */
export interface CookieRequest {
  cookie: string | undefined;
  method: string;
  csrf: string | undefined;
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Turns a bearer token into an identity. The service and everything after it see identities,
 * never raw credentials. Every failure is the same 401 with a reason that names no secret.
 */
export class Authenticator {
  constructor(
    private readonly store: Store,
    private readonly directory: ReviewerDirectory,
    private readonly clock: Clock,
    private readonly sources: IdentitySources = {},
  ) {}

  /** Whether a request carries a reviewer session cookie this gateway would look at. */
  hasSessionCookie(cookie: string | undefined): boolean {
    return this.sources.sessions?.tokenFrom(cookie) !== undefined;
  }

  /** A web session cookie (with CSRF check on state-changing methods) → reviewer. */
  async authenticateCookie(req: CookieRequest): Promise<Caller> {
    const reviewer = await this.sources.sessions?.fromCookie(
      req.cookie,
      !safeMethods.has(req.method.toUpperCase()),
      req.csrf,
    );
    if (!reviewer) throw unauthenticated('no bearer token or session cookie was sent');
    return { kind: 'reviewer', reviewer };
  }

  async authenticate(token: string | undefined): Promise<Caller> {
    if (!token) throw unauthenticated('no bearer token was sent');
    if (this.sources.sessions && isSessionToken(token))
      return { kind: 'reviewer', reviewer: await this.sources.sessions.bearer(token) };
    if (this.sources.jwt?.enabled && looksLikeJwt(token))
      return { kind: 'actor', ...(await this.sources.jwt.verify(token)) };
    const parsed = parseToken(token);
    if (!parsed) throw unauthenticated('the bearer token is not a Countersign agent key or reviewer token');
    const credential = await this.store.findCredential(parsed.id);
    if (!credential || credential.kind !== parsed.kind || !secretMatches(credential, parsed.secret)) {
      throw unauthenticated(`credential ${parsed.id} is unknown or its secret does not match`);
    }
    if (credential.revokedAt !== null) throw unauthenticated(`credential ${parsed.id} was revoked`);
    if (credential.expiresAt !== null && this.clock.now() >= credential.expiresAt) {
      throw unauthenticated(`credential ${parsed.id} has expired`);
    }
    if (credential.kind === 'agent_key') {
      const actor: Actor = {
        id: credential.id,
        name: credential.name,
        principal: credential.owner,
        labels: credential.labels,
        via: 'api_key',
      };
      return { kind: 'actor', actor, allowedTypes: credential.allowedTypes };
    }
    const reviewer = this.directory.get(credential.owner);
    if (!reviewer)
      throw unauthenticated(`reviewer ${credential.owner} is no longer in the reviewer directory`);
    return { kind: 'reviewer', reviewer };
  }
}
