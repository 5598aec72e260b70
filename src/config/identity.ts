import { type Static, Type } from '@sinclair/typebox';
import { parseDuration } from '../util/duration.js';

const Duration = Type.String({
  pattern: '^(\\d+(ms|s|m|h|d))+$',
  description: 'A duration such as 30s, 15m, 12h.',
});
const OneOrMany = Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))]);

/**
 * Only asymmetric algorithms: a workload token is verified with the issuer's *public* key, and
 * accepting HS* would let anyone holding that public key mint tokens. `none` is never accepted.
 */
export const jwtAlgorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

const TrustedIssuer = Type.Object(
  {
    name: Type.String({
      pattern: '^[a-z0-9][a-z0-9-]*$',
      description: 'Short name; actor ids are jwt:<name>:<claim>.',
    }),
    issuer: Type.String({ minLength: 1, description: 'Exact `iss` value.' }),
    jwksUrl: Type.Optional(
      Type.String({ format: 'uri', description: 'Where the signing keys are published.' }),
    ),
    jwks: Type.Optional(
      Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true }), { minItems: 1 }) }),
    ),
    audience: OneOrMany,
    algorithms: Type.Optional(
      Type.Array(Type.Union(jwtAlgorithms.map((a) => Type.Literal(a))), { minItems: 1 }),
    ),
    clockTolerance: Type.Optional(Duration),
    maxTokenAge: Type.Optional(Duration),
    claims: Type.Optional(
      Type.Object(
        {
          actor: Type.Optional(
            Type.String({ minLength: 1, description: 'Claim naming the actor (default sub).' }),
          ),
          name: Type.Optional(Type.String({ minLength: 1 })),
          principal: Type.Optional(Type.String({ minLength: 1, description: 'Claim naming the human.' })),
          onBehalfOf: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    require: Type.Optional(
      Type.Record(Type.String(), OneOrMany, { description: 'Claims that must equal one of these values.' }),
    ),
    allowedTypes: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  },
  { additionalProperties: false },
);

export const IdentitySection = Type.Object(
  {
    jwt: Type.Optional(Type.Object({ issuers: Type.Array(TrustedIssuer) }, { additionalProperties: false })),
    oidc: Type.Optional(
      Type.Object(
        {
          issuer: Type.String({ format: 'uri' }),
          clientId: Type.String({ minLength: 1 }),
          clientSecret: Type.Optional(
            Type.String({ minLength: 1, description: 'Prefer COUNTERSIGN__IDENTITY__OIDC__CLIENT_SECRET.' }),
          ),
          redirectUrl: Type.Optional(Type.String({ format: 'uri' })),
          scopes: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
          allowedDomains: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
          hostedDomain: Type.Optional(Type.String({ minLength: 1, description: 'Google Workspace `hd`.' })),
          groupsClaim: Type.Optional(Type.String({ minLength: 1 })),
          emailVerifiedClaim: Type.Optional(
            Type.String({
              minLength: 1,
              description: 'Boolean claim that vouches for the email (Entra: xms_edov).',
            }),
          ),
          groupMap: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String({ minLength: 1 })))),
        },
        { additionalProperties: false },
      ),
    ),
    groups: Type.Optional(
      Type.Record(Type.String(), Type.Array(Type.String({ minLength: 1 })), {
        description: 'Static membership: approver group → emails or issuer#subject ids.',
      }),
    ),
    sessions: Type.Optional(
      Type.Object(
        {
          idleTimeout: Type.Optional(Duration),
          absoluteTimeout: Type.Optional(Duration),
          cliTokenTtl: Type.Optional(Duration),
          secureCookies: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    chat: Type.Optional(
      Type.Object(
        { matchByEmail: Type.Optional(Type.Boolean()), linkTtl: Type.Optional(Duration) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type IdentitySectionT = Static<typeof IdentitySection>;

export interface TrustedIssuerConfig {
  name: string;
  issuer: string;
  jwksUrl: string | null;
  jwks: { keys: Array<Record<string, unknown>> } | null;
  audience: string[];
  algorithms: string[];
  clockToleranceSec: number;
  maxTokenAgeSec: number | null;
  claims: { actor: string; name: string | null; principal: string | null; onBehalfOf: string | null };
  require: Record<string, string[]>;
  allowedTypes: string[] | null;
}

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string | null;
  redirectUrl: string;
  scopes: string[];
  allowedDomains: string[];
  hostedDomain: string | null;
  groupsClaim: string | null;
  emailVerifiedClaim: string;
  groupMap: Record<string, string[]> | null;
}

/** The `identity:` section after defaults. */
export interface IdentityConfig {
  jwtIssuers: TrustedIssuerConfig[];
  oidc: OidcConfig | null;
  groups: Record<string, string[]>;
  sessions: { idleMs: number; absoluteMs: number; cliTokenMs: number; secureCookies: boolean };
  chat: { matchByEmail: boolean; linkTtlMs: number };
  /** Where browsers reach the gateway; login links are built on it. */
  publicUrl: string;
}

/** Keys fetched over plain HTTP could be swapped in transit; only this machine is exempt. */
function secureOrLoopback(url: string): boolean {
  const u = new URL(url);
  return (
    u.protocol === 'https:' ||
    (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))
  );
}

const ms = (d: string | undefined, fallback: string) => parseDuration(d ?? fallback) as number;
const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);

function issuerConfig(i: NonNullable<IdentitySectionT['jwt']>['issuers'][number]): TrustedIssuerConfig {
  if (!i.jwksUrl === !i.jwks)
    throw new Error(`identity.jwt.issuers '${i.name}': give exactly one of jwksUrl or jwks`);
  if (i.jwksUrl && !secureOrLoopback(i.jwksUrl))
    throw new Error(`identity.jwt.issuers '${i.name}': jwksUrl must be https (plain http only to 127.0.0.1)`);
  return {
    name: i.name,
    issuer: i.issuer,
    jwksUrl: i.jwksUrl ?? null,
    jwks: (i.jwks as TrustedIssuerConfig['jwks']) ?? null,
    audience: list(i.audience),
    algorithms: i.algorithms ?? ['RS256', 'ES256', 'EdDSA'],
    clockToleranceSec: ms(i.clockTolerance, '30s') / 1000,
    maxTokenAgeSec: i.maxTokenAge ? ms(i.maxTokenAge, '0s') / 1000 : null,
    claims: {
      actor: i.claims?.actor ?? 'sub',
      name: i.claims?.name ?? null,
      principal: i.claims?.principal ?? null,
      onBehalfOf: i.claims?.onBehalfOf ?? null,
    },
    require: Object.fromEntries(Object.entries(i.require ?? {}).map(([k, v]) => [k, list(v)])),
    allowedTypes: i.allowedTypes ?? null,
  };
}

/** Applies defaults. `publicUrl` is server.publicUrl, or the listen address when none is set. */
export function resolveIdentity(section: IdentitySectionT | undefined, publicUrl: string): IdentityConfig {
  const s = section ?? {};
  const base = publicUrl.replace(/\/+$/, '');
  const oidc = s.oidc
    ? {
        issuer: s.oidc.issuer,
        clientId: s.oidc.clientId,
        clientSecret: s.oidc.clientSecret ?? null,
        redirectUrl: s.oidc.redirectUrl ?? `${base}/auth/callback`,
        scopes: s.oidc.scopes ?? ['openid', 'email', 'profile'],
        allowedDomains: (s.oidc.allowedDomains ?? []).map((d) => d.toLowerCase()),
        hostedDomain: s.oidc.hostedDomain ?? null,
        groupsClaim: s.oidc.groupsClaim ?? null,
        emailVerifiedClaim: s.oidc.emailVerifiedClaim ?? 'email_verified',
        groupMap: s.oidc.groupMap ?? null,
      }
    : null;
  const names = new Set<string>();
  for (const i of s.jwt?.issuers ?? []) {
    if (names.has(i.name)) throw new Error(`identity.jwt.issuers: the name '${i.name}' is used twice`);
    names.add(i.name);
  }
  return {
    jwtIssuers: (s.jwt?.issuers ?? []).map(issuerConfig),
    oidc,
    groups: s.groups ?? {},
    sessions: {
      idleMs: ms(s.sessions?.idleTimeout, '30m'),
      absoluteMs: ms(s.sessions?.absoluteTimeout, '12h'),
      cliTokenMs: ms(s.sessions?.cliTokenTtl, '12h'),
      secureCookies: s.sessions?.secureCookies ?? !base.startsWith('http://'),
    },
    chat: { matchByEmail: s.chat?.matchByEmail ?? false, linkTtlMs: ms(s.chat?.linkTtl, '15m') },
    publicUrl: base,
  };
}
