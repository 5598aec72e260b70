import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'cs-idcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(identity: unknown) {
  const file = join(dir, 'countersign.yaml');
  writeFileSync(file, stringify({ identity }));
  return loadConfig(file, {});
}

const issuer = (extra: Record<string, unknown>) => ({
  jwt: {
    issuers: [
      {
        name: 'ci',
        issuer: 'https://ci.example',
        audience: 'cs',
        jwksUrl: 'https://ci.example/jwks',
        ...extra,
      },
    ],
  },
});

describe('identity configuration', () => {
  it('applies safe defaults', () => {
    const c = load(issuer({})).identity;
    expect(c.jwtIssuers[0]).toMatchObject({
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      audience: ['cs'],
      clockToleranceSec: 30,
    });
    expect(c.sessions).toMatchObject({
      idleMs: 30 * 60_000,
      absoluteMs: 12 * 3_600_000,
      secureCookies: false,
    });
    expect(c.chat.matchByEmail).toBe(false);
  });

  it('refuses alg none and symmetric algorithms for workload issuers', () => {
    for (const alg of ['none', 'HS256', 'HS512'])
      expect(() => load(issuer({ algorithms: [alg] }))).toThrow(/algorithms/);
  });

  it('refuses JWKS over plain HTTP to another host, and both or neither key source', () => {
    expect(() => load(issuer({ jwksUrl: 'http://ci.example/jwks' }))).toThrow(/https/);
    expect(() => load(issuer({ jwks: { keys: [{ kty: 'OKP' }] } }))).toThrow(/exactly one/);
    expect(() => load(issuer({ jwksUrl: undefined }))).toThrow(/exactly one/);
  });

  it('refuses two issuers with one name', () => {
    const one = issuer({}).jwt.issuers[0];
    expect(() => load({ jwt: { issuers: [one, one] } })).toThrow(/used twice/);
  });

  it('uses secure cookies when the public URL is https', () => {
    const file = join(dir, 'https.yaml');
    writeFileSync(file, stringify({ server: { publicUrl: 'https://cs.example' }, identity: {} }));
    const c = loadConfig(file, {});
    expect(c.identity.sessions.secureCookies).toBe(true);
    expect(c.identity.publicUrl).toBe('https://cs.example');
  });
});
