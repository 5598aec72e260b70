import { createHash, timingSafeEqual } from 'node:crypto';
import * as client from 'openid-client';
import type { IdentityConfig, OidcConfig } from '../config/identity.js';
import type { Clock } from '../core/clock.js';
import { CountersignError } from '../core/errors.js';
import { newSecret } from '../util/ids.js';
import type { ChatPlatform, IdentityStore, OidcIdentity } from './store.js';

/** Why a login happens, and where it continues once the IdP sends the browser back. */
export type LoginIntent =
  | { purpose: 'web'; returnTo: string }
  | { purpose: 'cli'; redirect: string; challenge: string }
  | { purpose: 'chat'; platform: ChatPlatform; teamId: string; userId: string };

export interface LoginRequest {
  intent: LoginIntent;
  /** Step-up: the IdP must have authenticated the person within this many seconds. */
  maxAgeSec?: number;
}

export interface LoginResult {
  person: OidcIdentity;
  /** auth_time from the ID token (ms); 0 when the IdP did not say, so step-up rules refuse. */
  authTime: number;
  intent: LoginIntent;
}

/** A refused login: what went wrong (never a token or code), plus who, when known, for the audit log. */
export class LoginRefused extends CountersignError {
  constructor(
    detail: string,
    readonly who: { issuer: string; subject?: string; email?: string } | null = null,
  ) {
    super('CS_ERR_LOGIN_FAILED', detail);
  }
}

const LOGIN_TTL_MS = 10 * 60_000;
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * OIDC authorization code flow with PKCE (S256), state and nonce. The state is a single-use
 * ticket in the store, bound to the browser that started the login by a random value in an
 * HttpOnly cookie (only its hash is stored), so a login started in one browser cannot be
 * finished in another (login CSRF). The ID token's signature, issuer, audience, expiry, nonce
 * and — for step-up — auth_time are checked by openid-client; the rules below are ours.
 */
export class OidcLogin {
  private discovered: Promise<client.Configuration> | null = null;

  constructor(
    private readonly oidc: OidcConfig,
    private readonly config: IdentityConfig,
    private readonly store: IdentityStore,
    private readonly clock: Clock,
  ) {}

  get issuer(): string {
    return this.oidc.issuer;
  }

  /** Discovery runs at the first login, not at startup: an IdP outage must not stop the gateway. */
  private configuration(): Promise<client.Configuration> {
    if (!this.discovered) {
      const url = new URL(this.oidc.issuer);
      const auth = this.oidc.clientSecret ? client.ClientSecretBasic(this.oidc.clientSecret) : client.None();
      // Plain HTTP only to an IdP on this machine (tests, local Keycloak); never across a network.
      const execute =
        url.protocol === 'http:' && loopback.has(url.hostname) ? [client.allowInsecureRequests] : [];
      this.discovered = client.discovery(url, this.oidc.clientId, undefined, auth, { execute }).catch((e) => {
        this.discovered = null;
        throw new CountersignError(
          'CS_ERR_IDP_UNAVAILABLE',
          `discovery at ${this.oidc.issuer} failed (${(e as Error).message})`,
        );
      });
    }
    return this.discovered;
  }

  /** Starts a login: the URL to send the browser to and the binding value for the login cookie. */
  async begin(req: LoginRequest): Promise<{ url: string; binding: string }> {
    const config = await this.configuration();
    const state = newSecret(32);
    const nonce = newSecret(32);
    const verifier = client.randomPKCECodeVerifier();
    const binding = newSecret(32);
    await this.store.putTicket({
      id: state,
      purpose: 'login',
      expiresAt: this.clock.now() + LOGIN_TTL_MS,
      data: {
        nonce,
        verifier,
        bindingHash: sha256(binding),
        intent: req.intent,
        maxAgeSec: req.maxAgeSec ?? null,
      },
    });
    const params: Record<string, string> = {
      redirect_uri: this.oidc.redirectUrl,
      scope: this.oidc.scopes.join(' '),
      response_type: 'code',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (this.oidc.hostedDomain) params.hd = this.oidc.hostedDomain;
    if (req.maxAgeSec !== undefined) {
      params.max_age = String(req.maxAgeSec);
      params.prompt = 'login';
    }
    return { url: client.buildAuthorizationUrl(config, params).href, binding };
  }

  /** Finishes a login from the callback URL; refuses with a reason on any failed check. */
  async finish(callback: URL, binding: string | undefined): Promise<LoginResult> {
    const state = callback.searchParams.get('state');
    if (!state) throw new LoginRefused('the callback has no state; start again from /auth/login');
    const ticket = await this.store.takeTicket(state, 'login', this.clock.now());
    if (!ticket) throw new LoginRefused('the login state is unknown, used or expired; start again');
    const data = ticket.data as {
      nonce: string;
      verifier: string;
      bindingHash: string;
      intent: LoginIntent;
      maxAgeSec: number | null;
    };
    if (!binding || !sameHash(data.bindingHash, sha256(binding)))
      throw new LoginRefused('this login was started in another browser; start again from /auth/login');
    const idpError = callback.searchParams.get('error');
    if (idpError)
      throw new LoginRefused(`the identity provider refused the login (${idpError.slice(0, 100)})`);
    const config = await this.configuration();
    let claims: client.IDToken;
    try {
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: data.verifier,
        expectedState: state,
        expectedNonce: data.nonce,
        idTokenExpected: true,
        ...(data.maxAgeSec !== null ? { maxAge: data.maxAgeSec } : {}),
      });
      claims = tokens.claims() as client.IDToken;
    } catch (e) {
      throw new LoginRefused(`the code exchange or ID token check failed: ${describe(e)}`);
    }
    const person = this.personFrom(claims);
    const authTime = typeof claims.auth_time === 'number' ? claims.auth_time * 1000 : 0;
    return { person, authTime, intent: data.intent };
  }

  private personFrom(claims: client.IDToken): OidcIdentity {
    const who = { issuer: claims.iss, subject: claims.sub };
    const email = typeof claims.email === 'string' ? claims.email.trim() : '';
    if (!email) throw new LoginRefused('the ID token has no email claim; request the email scope', who);
    const withEmail = { ...who, email };
    if (claims[this.oidc.emailVerifiedClaim] !== true)
      throw new LoginRefused(`the email address is not verified by the identity provider`, withEmail);
    const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
    if (this.oidc.allowedDomains.length && !this.oidc.allowedDomains.includes(domain))
      throw new LoginRefused(`the email domain ${domain} is not allowed here`, withEmail);
    if (this.oidc.hostedDomain && claims.hd !== this.oidc.hostedDomain)
      throw new LoginRefused(
        `the account is not in the Google Workspace domain ${this.oidc.hostedDomain}`,
        withEmail,
      );
    const raw = this.oidc.groupsClaim ? claims[this.oidc.groupsClaim] : undefined;
    const idpGroups = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter(
      (g): g is string => typeof g === 'string' && g.length > 0,
    );
    const name = typeof claims.name === 'string' && claims.name ? claims.name : email;
    return {
      id: `${claims.iss}#${claims.sub}`,
      issuer: claims.iss,
      subject: claims.sub,
      email,
      name,
      idpGroups,
    };
  }

  /** Only a loopback HTTP redirect for the CLI: the code must not leave the reviewer's machine. */
  static isLoopbackRedirect(value: string): boolean {
    try {
      const u = new URL(value);
      return (
        u.protocol === 'http:' && loopback.has(u.hostname) && u.port !== '' && !u.username && !u.password
      );
    } catch {
      return false;
    }
  }

  get identityConfig(): IdentityConfig {
    return this.config;
  }
}

/** openid-client's error codes and messages name the failed check, never a secret value. */
function describe(e: unknown): string {
  const err = e as { code?: string; error?: string; message?: string };
  const text = err.error ?? err.message ?? 'unknown error';
  // The name of a claim that failed a comparison (nonce, aud, iss), never its values.
  let cause: unknown = e;
  let name: unknown;
  for (let depth = 0; depth < 4 && cause && name === undefined; depth++) {
    name = (cause as { claim?: unknown }).claim;
    cause = (cause as { cause?: unknown }).cause;
  }
  const claim = typeof name === 'string' ? ` (claim ${name})` : '';
  return `${err.code ? `${err.code}: ` : ''}${text}${claim}`.slice(0, 300);
}
