import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import type { TrustedIssuerConfig } from '../config/identity.js';
import type { Clock } from '../core/clock.js';
import { CountersignError } from '../core/errors.js';
import type { Actor } from '../core/identity.js';

/** What a verified workload token authenticates: the actor, its delegation chain, its limits. */
export interface JwtActor {
  actor: Actor;
  allowedTypes: string[] | null;
}

const unauthenticated = (why: string) =>
  new CountersignError('CS_ERR_UNAUTHENTICATED', `workload JWT refused: ${why}`);

/** Three base64url segments: the shape of a JWS compact serialization. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token);
}

/**
 * Reads a claim: an exact top-level name first (`sub`, `kubernetes.io`), else a JSON-pointer-like
 * path (`/kubernetes.io/serviceaccount/name`) for nested claims.
 */
export function claimAt(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  if (!name.startsWith('/')) return undefined;
  let at: unknown = payload;
  for (const seg of name.slice(1).split('/')) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, seg)) return undefined;
    at = (at as Record<string, unknown>)[seg];
  }
  return at;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const texts = (v: unknown): string[] =>
  (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string' && x.length > 0);

/** Turns jose's errors into a reason a caller can act on; never echoes the token or a key. */
function reason(e: unknown, issuer: TrustedIssuerConfig): string {
  if (e instanceof errors.JWTExpired) return 'the token has expired; request a fresh one';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'aud') return `the audience is not one of ${issuer.audience.join(', ')}`;
    if (e.claim === 'iss') return 'the issuer does not match';
    return `claim '${e.claim}' is invalid (${e.reason})`;
  }
  if (e instanceof errors.JOSEAlgNotAllowed)
    return `the signing algorithm is not allowed for issuer '${issuer.name}' (allowed: ${issuer.algorithms.join(', ')})`;
  if (e instanceof errors.JWKSNoMatchingKey)
    return `no key of issuer '${issuer.name}' matches the token (unknown kid or key type)`;
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid || !(e instanceof errors.JOSEError))
    return `the signing keys of issuer '${issuer.name}' could not be fetched; failing closed`;
  return 'the token is malformed or uses an unsupported feature';
}

/**
 * Verifies bearer JWTs from configured workload issuers (CI systems, Kubernetes, cloud IAM) and
 * maps their claims onto an actor. Anything unexpected refuses the token: there is no fallback
 * that would let an unverifiable token through.
 */
export class WorkloadJwtVerifier {
  private readonly keys = new Map<string, JWTVerifyGetKey>();

  constructor(
    private readonly issuers: TrustedIssuerConfig[],
    private readonly clock: Clock,
  ) {
    for (const i of issuers) {
      const getKey = i.jwks
        ? createLocalJWKSet(i.jwks as unknown as JSONWebKeySet)
        : createRemoteJWKSet(new URL(i.jwksUrl as string), {
            timeoutDuration: 5000,
            cooldownDuration: 30_000,
          });
      this.keys.set(i.name, getKey);
    }
  }

  get enabled(): boolean {
    return this.issuers.length > 0;
  }

  async verify(token: string): Promise<JwtActor> {
    let iss: string | undefined;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw unauthenticated('the token is not a well-formed JWT');
    }
    const issuer = this.issuers.find((i) => i.issuer === iss);
    if (!issuer)
      // The list of trusted issuers is not echoed: an unauthenticated caller need not learn it.
      throw unauthenticated(
        'the issuer is not trusted by this gateway; an operator adds it under identity.jwt.issuers',
      );
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.get(issuer.name) as JWTVerifyGetKey, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: issuer.algorithms,
        clockTolerance: issuer.clockToleranceSec,
        requiredClaims: ['exp'],
        currentDate: new Date(this.clock.now()),
        ...(issuer.maxTokenAgeSec !== null ? { maxTokenAge: issuer.maxTokenAgeSec } : {}),
      }));
    } catch (e) {
      throw unauthenticated(reason(e, issuer));
    }
    return { actor: this.actorFrom(issuer, payload), allowedTypes: issuer.allowedTypes };
  }

  private actorFrom(issuer: TrustedIssuerConfig, payload: JWTPayload): Actor {
    for (const [claim, allowed] of Object.entries(issuer.require)) {
      const have = texts(claimAt(payload, claim));
      if (!have.some((v) => allowed.includes(v)))
        throw unauthenticated(`claim '${claim}' does not have a value issuer '${issuer.name}' requires`);
    }
    const id = text(claimAt(payload, issuer.claims.actor));
    if (!id) throw unauthenticated(`the token has no '${issuer.claims.actor}' claim naming the actor`);
    const principal = issuer.claims.principal ? text(claimAt(payload, issuer.claims.principal)) : null;
    const onBehalfOf = issuer.claims.onBehalfOf ? texts(claimAt(payload, issuer.claims.onBehalfOf)) : [];
    const name = issuer.claims.name ? text(claimAt(payload, issuer.claims.name)) : null;
    return {
      // The issuer name keeps two issuers' subjects apart (`repo:a/b` from GitHub vs GitLab).
      id: `jwt:${issuer.name}:${id}`,
      name: name ?? id,
      principal,
      ...(onBehalfOf.length ? { onBehalfOf } : {}),
      labels: { issuer: issuer.name },
      via: 'jwt',
    };
  }
}
