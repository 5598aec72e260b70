import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Config, loadConfig } from './load.js';
import {
  configDigest,
  configLoadedDetails,
  destinationUrlPaths,
  REDACTED,
  redactConfig,
  redactUrl,
  secretPaths,
} from './record.js';
import { ConfigFile } from './schema.js';
import { secretEnv, secretEverywhere, whsec } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'cs-config-record-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function load(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Config {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, stringify({ dataDir: 'data', ...config }));
  return loadConfig(file, env, dir);
}

/** Paths (`*` for array indexes and record keys) where a JSON value holds `[redacted]`. */
function redactedPaths(value: unknown, path: string[] = []): string[][] {
  if (value === REDACTED) return [path];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => redactedPaths(v, [...path, k]));
}
const covers = (pattern: string, path: string[]) => {
  const parts = pattern.split('.');
  return parts.length === path.length && parts.every((p, i) => p === '*' || p === path[i]);
};

describe('config.loaded: no secret reaches the audit log', () => {
  it('redacts a distinctive secret in every secret-bearing field, env overrides and variable references included', () => {
    const config = load(secretEverywhere(), secretEnv);
    // The loaded configuration does hold them: the test would prove nothing otherwise.
    expect(JSON.stringify(config)).toContain('S3CRET-from-env');
    expect(JSON.stringify(config)).toContain('S3CRET-env-override-0123');
    const details = JSON.stringify(configLoadedDetails(config));
    const redacted = JSON.stringify(redactConfig(config));
    expect(details).not.toMatch(/S3CRET/i);
    expect(redacted).not.toMatch(/S3CRET/i);
    // Every pattern of the explicit list was exercised by this configuration.
    const paths = redactedPaths(redactConfig(config));
    for (const pattern of secretPaths.filter((p) => !p.includes('.jwks.keys.*.') || p.endsWith('.d')))
      expect(
        paths.some((p) => covers(pattern, p)),
        pattern,
      ).toBe(true);
    // What is kept is still useful: where things are, without what unlocks them.
    expect(configLoadedDetails(config).summary).toMatchObject({
      store: { durability: 'os' },
      channels: { webhooks: ['siem'], callbacks: true, slack: { mode: 'http' } },
      identity: {
        jwtIssuers: [{ name: 'ci' }, { name: 'k8s' }],
        oidc: { issuer: 'https://idp.example.com' },
      },
      mcp: {
        upstreams: [
          { name: 'remote', kind: 'http' },
          { name: 'tool', kind: 'stdio' },
        ],
      },
    });
    expect(redacted).toContain('"https://[redacted]@hooks.example.com/[redacted]"');
    expect(redacted).toContain('"https://[redacted]@keys.example.com/jwks.json?key=[redacted]"');
    expect(redacted).toContain('"x":"public-x"');
  });

  it('URLs lose userinfo, query values and, for destinations, the path', () => {
    expect(redactUrl('https://a:b@h.example:8443/p/q?x=1&y=2#frag')).toBe(
      'https://[redacted]@h.example:8443/p/q?x=[redacted]&y=[redacted]',
    );
    expect(redactUrl('https://h.example/key123/sse', true)).toBe('https://h.example/[redacted]');
    expect(redactUrl('https://h.example', true)).toBe('https://h.example');
    expect(redactUrl('not a url')).toBe(REDACTED);
    expect(destinationUrlPaths).toContain('mcp.upstreams.*.url');
  });

  it('the explicit secret list covers every secret-like field of the configuration schema', () => {
    // Fields whose name looks secret but hold none, each with the reason.
    const notSecret: Record<string, string> = {
      'identity.sessions.cliTokenTtl': 'a duration',
      'webhooks.allowPrivateNetworks': 'CIDRs of private networks',
      'identity.jwt.issuers.*.maxTokenAge': 'a duration',
    };
    // Where the resolved Config puts a field the schema nests differently.
    const toConfigPath = (p: string) => p.replace(/^identity\.jwt\.issuers\./, 'identity.jwtIssuers.');
    const secretLike = /secret|token|passw|credential|api.?key|private|^env$|^headers$/i;
    const found: string[] = [];
    const walk = (schema: Record<string, any>, path: string[]) => {
      for (const s of schema.anyOf ?? []) walk(s, path);
      for (const [k, v] of Object.entries<Record<string, any>>(schema.properties ?? {})) {
        if (secretLike.test(k)) found.push([...path, k].join('.'));
        walk(v, [...path, k]);
      }
      for (const v of Object.values<Record<string, any>>(schema.patternProperties ?? {}))
        walk(v, [...path, '*']);
      if (schema.items) walk(schema.items, [...path, '*']);
    };
    walk(ConfigFile as unknown as Record<string, any>, []);
    expect(found).toContain('mcp.upstreams.*.env');
    for (const field of found) {
      if (notSecret[field]) continue;
      const at = toConfigPath(field);
      expect(
        secretPaths.some((p) => p === at || p.startsWith(`${at}.`)),
        `${field} looks secret-bearing: add it to secretPaths in src/config/record.ts (or to notSecret here, with the reason)`,
      ).toBe(true);
    }
  });
});

describe('config.loaded: the digest', () => {
  const base = {
    store: { durability: 'fsync' },
    webhooks: { endpoints: [{ id: 'a', url: 'https://h.example/x', secrets: [whsec('one')] }] },
  };

  it('is stable for the same configuration, whatever the key order', () => {
    const a = configDigest(load(base));
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(configDigest(load(base))).toBe(a);
    const reordered = { webhooks: base.webhooks, store: base.store };
    expect(configDigest(load(reordered))).toBe(a);
  });

  it('changes when a setting changes', () => {
    const a = configDigest(load(base));
    expect(configDigest(load({ ...base, store: { durability: 'os' } }))).not.toBe(a);
    const moved = { endpoints: [{ ...base.webhooks.endpoints[0]!, url: 'https://other.example/x' }] };
    expect(configDigest(load({ ...base, webhooks: moved }))).not.toBe(a);
    const more = { endpoints: [{ ...base.webhooks.endpoints[0]!, secrets: [whsec('one'), whsec('two')] }] };
    expect(configDigest(load({ ...base, webhooks: more }))).not.toBe(a);
  });

  it('does not change when only a secret value changes: secrets are removed, never hashed', () => {
    const a = configDigest(load(base));
    const rotated = { endpoints: [{ ...base.webhooks.endpoints[0]!, secrets: [whsec('rotated')] }] };
    expect(configDigest(load({ ...base, webhooks: rotated }))).toBe(a);
  });
});
