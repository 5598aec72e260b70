import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SourceError } from '../util/yaml-source.js';
import { loadConfig } from './load.js';

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cs-config-'));
  const f = join(dir, 'countersign.yaml');
  writeFileSync(f, text);
  return f;
}
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SourceError) return e.message;
    throw e;
  }
  throw new Error('expected an error');
}

describe('configuration', () => {
  it('uses embedded defaults and dev mode with no file', () => {
    const c = loadConfig(null, {}, '/srv');
    expect(c).toMatchObject({
      dev: true,
      server: { host: '127.0.0.1', port: 8080 },
      dataDir: '/srv/.countersign',
      policyFiles: null,
    });
    expect(c.store.path).toBe('/srv/.countersign/countersign.db');
  });

  it('resolves paths against the file and turns dev mode off', () => {
    const f = file('dataDir: ./data\npolicy: { files: [./p.yaml] }\n');
    const c = loadConfig(f, {});
    expect(c.dev).toBe(false);
    expect(c.dataDir).toBe(join(f, '..', 'data'));
    expect(c.policyFiles).toEqual([join(f, '..', 'p.yaml')]);
  });

  it('lets environment variables override keys, keeping types', () => {
    const c = loadConfig(file('server: { port: 8080 }\n'), {
      COUNTERSIGN__SERVER__PORT: '9090',
      COUNTERSIGN__SERVER__LOG_LEVEL: 'warn',
      COUNTERSIGN__DEV: 'true',
    });
    expect(c.server.port).toBe(9090);
    expect(c.server.logLevel).toBe('warn');
    expect(c.dev).toBe(true);
  });

  it('says which file, line and key is wrong, and where to look', () => {
    expect(errorOf(() => loadConfig(file('server:\n  port: 8080\n  prot: 1\n'), {}))).toMatch(
      /countersign\.yaml:3:3: unknown key 'prot' in server \(did you mean 'port'\?\)\. See docs\/configuration\.md/,
    );
    expect(errorOf(() => loadConfig(file('server:\n  port: high\n'), {}))).toMatch(
      /countersign\.yaml:2:3: server\.port must be integer/,
    );
    expect(errorOf(() => loadConfig(file('slack:\n  mode: sockets\n'), {}))).toMatch(
      /countersign\.yaml:2:3: slack\.mode must be one of http, socket\./,
    );
    expect(
      errorOf(() =>
        loadConfig(
          file(
            'identity:\n  jwt:\n    issuers:\n      - { name: ci, issuer: x, jwks: { keys: [{}] }, audience: a, algorithms: [HS256] }\n',
          ),
          {},
        ),
      ),
    ).toMatch(/identity\.jwt\.issuers\.0\.algorithms\.0 must be one of RS256, RS384, .*EdDSA, Ed25519\./);
    expect(
      errorOf(() => loadConfig(file('reviewers:\n  - { id: a, email: nope, groups: [] }\n'), {})),
    ).toMatch(/countersign\.yaml:2:.*email/);
    expect(errorOf(() => loadConfig(null, { COUNTERSIGN__SERVER__PORT: 'abc' }))).toMatch(
      /^environment variable COUNTERSIGN__SERVER__PORT: server\.port must be integer/,
    );
    expect(errorOf(() => loadConfig('/nonexistent/countersign.yaml', {}))).toMatch(
      /cannot read the configuration file \(ENOENT\)/,
    );
  });
});
