import { hash } from 'node:crypto';
import { canonicalJson, type Json } from '../core/action.js';
import type { Config } from './load.js';

/**
 * What the audit log records about the configuration a gateway runs on (`config.loaded`): a
 * digest of the whole effective configuration and a summary of its security-relevant settings,
 * both with every secret removed. The log is exported to auditors and shipped to SIEMs, so a
 * secret written into it would be disclosed for good; a hash of a secret would not be safe
 * either (a low-entropy token can be guessed offline against it). So a secret is replaced by a
 * marker, never hashed: rotating one leaves the digest unchanged, changing any setting does not.
 */

export const REDACTED = '[redacted]';

/**
 * Fields that hold a secret, as paths into `Config`: `*` matches any key or array index. Kept
 * explicit (rather than guessed from names) so that a reviewer can read it, and kept honest by
 * src/config/record.test.ts, which walks the configuration schema for every secret-like field and
 * fails when one is not covered here.
 */
export const secretPaths: readonly string[] = [
  'slack.botToken',
  'slack.signingSecret',
  'slack.appToken',
  'webhooks.endpoints.*.secrets.*',
  'webhooks.callbacks.secrets.*',
  'identity.oidc.clientSecret',
  // MCP upstreams: `env` and `headers` exist to carry credentials (docs/mcp.md).
  'mcp.upstreams.*.env.*',
  'mcp.upstreams.*.headers.*',
  // A JWKS is public, but a private or symmetric JWK pasted into it by mistake is not.
  ...['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'].map((m) => `identity.jwtIssuers.*.jwks.keys.*.${m}`),
];

/**
 * URLs to places that may take a credential in the path itself (an MCP server or a webhook
 * receiver whose URL is its API key): only their origin is kept. Every other URL keeps its path
 * but loses userinfo (user:password@) and query values.
 */
export const destinationUrlPaths: readonly string[] = ['webhooks.endpoints.*.url', 'mcp.upstreams.*.url'];

const matches = (pattern: string, path: readonly string[]) => {
  const parts = pattern.split('.');
  return parts.length === path.length && parts.every((p, i) => p === '*' || p === path[i]);
};

const urlLike = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A URL without credentials: no userinfo, no query values, no fragment; `originOnly` drops the path. */
export function redactUrl(text: string, originOnly = false): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return REDACTED;
  }
  const userinfo = url.username !== '' || url.password !== '' ? `${REDACTED}@` : '';
  // Nothing to remove: keep the text exactly (an OIDC issuer is compared byte for byte).
  if (!originOnly && !userinfo && url.search === '' && url.hash === '') return text;
  const origin = `${url.protocol}//${userinfo}${url.host}`;
  if (originOnly) return url.pathname === '/' && url.search === '' ? origin : `${origin}/${REDACTED}`;
  const query = [...url.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=${REDACTED}`).join('&');
  return `${origin}${url.pathname}${query ? `?${query}` : ''}`;
}

function redactValue(value: unknown, path: string[]): Json {
  if (secretPaths.some((p) => matches(p, path))) return REDACTED;
  if (typeof value === 'string') {
    if (destinationUrlPaths.some((p) => matches(p, path))) return redactUrl(value, true);
    // Any URL anywhere (publicUrl, jwksUrl, witnesses, apiUrl...) loses what could be a password.
    return urlLike.test(value) ? redactUrl(value) : value;
  }
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((v, i) => redactValue(v, [...path, String(i)]));
  if (typeof value === 'object') {
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) out[k] = redactValue(v, [...path, k]);
    }
    return out;
  }
  return null;
}

/** The effective configuration with every secret replaced by `[redacted]`. */
export function redactConfig(config: Config): { [key: string]: Json } {
  return redactValue(config, []) as { [key: string]: Json };
}

/**
 * `sha256:<hex>` of the RFC 8785 canonical JSON of the redacted configuration. The file name is
 * left out (the event records it apart): the same settings read from a copy digest the same.
 */
export function configDigest(config: Config): string {
  const { file: _file, ...settings } = redactConfig(config);
  return `sha256:${hash('sha256', canonicalJson(settings), 'hex')}`;
}

/** The settings an auditor asks about first; built from the redacted configuration only. */
export function configSummary(config: Config): { [key: string]: Json } {
  const r = redactConfig(config) as unknown as Config;
  return {
    dev: r.dev,
    server: { host: r.server.host, port: r.server.port, publicUrl: r.server.publicUrl },
    store: { driver: r.store.driver, durability: r.store.durability },
    policy: { files: r.policyFiles ?? [], watch: r.policyWatch },
    identity: {
      jwtIssuers: r.identity.jwtIssuers.map((i) => ({ name: i.name, issuer: i.issuer })),
      oidc: r.identity.oidc ? { issuer: r.identity.oidc.issuer, clientId: r.identity.oidc.clientId } : null,
      reviewers: r.reviewers.length,
      staticGroups: Object.keys(r.identity.groups).sort(),
      secureCookies: r.identity.sessions.secureCookies,
    },
    channels: {
      slack: r.slack ? { mode: r.slack.mode ?? 'http', teamIds: r.slack.teamIds } : null,
      webhooks: (r.webhooks?.endpoints ?? []).map((e) => e.id),
      callbacks: r.webhooks?.callbacks !== undefined && r.webhooks !== null,
      allowPrivateNetworks: r.webhooks?.allowPrivateNetworks ?? [],
      allowHttp: r.webhooks?.allowHttp ?? false,
    },
    audit: {
      origin: r.audit.origin,
      checkpointIntervalMs: r.audit.checkpointIntervalMs,
      publishDir: r.audit.publishDir !== null,
      witnesses: r.audit.witnesses,
    },
    mcp: r.mcp
      ? {
          upstreams: Object.entries(r.mcp.upstreams)
            .map(([name, u]) => ({ name, kind: u.kind }))
            .sort((a, b) => (a.name < b.name ? -1 : 1)),
          hideDeniedTools: r.mcp.hideDeniedTools,
          recordBeforeForward: r.mcp.recordBeforeForward,
        }
      : null,
  };
}

export type ConfigTrigger = 'startup';

/** The `config.loaded` event details: where the configuration came from, its digest and summary. */
export function configLoadedDetails(config: Config, trigger: ConfigTrigger = 'startup') {
  return {
    file: config.file,
    digest: configDigest(config),
    trigger,
    summary: configSummary(config),
  } satisfies { [key: string]: Json };
}
