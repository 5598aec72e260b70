import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../policy/load.js';
import { loadConfig } from './load.js';

const example = fileURLToPath(new URL('../../examples/mcp/', import.meta.url));

/** `$NAME` reference as written in a config file, built so the linter does not take it for a template. */
const ref = (name: string) => '$' + '{' + name + '}';

function configWith(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cs-mcp-config-'));
  const file = join(dir, 'countersign.yaml');
  writeFileSync(file, text);
  return file;
}

describe('mcp configuration', () => {
  it('loads the example with defaults and compiles its policy', () => {
    const config = loadConfig(join(example, 'countersign.yaml'), {});
    expect(config.mcp?.holdMs).toBe(50_000);
    expect(config.mcp?.upstreams.everything).toMatchObject({ kind: 'stdio', command: 'npx' });
    expect(() => loadPolicy(config.policyFiles ?? [])).not.toThrow();
  });

  it('applies defaults and expands variable references from the environment', () => {
    const file = configWith(
      `mcp:\n  upstreams:\n    gh: { url: "https://example.com/mcp", headers: { Authorization: "Bearer ${ref('GH')}" } }\n`,
    );
    const config = loadConfig(file, { GH: 'tok-123' });
    expect(config.mcp).toMatchObject({
      holdMs: 50_000,
      denyRepeatWindowMs: 600_000,
      hideDeniedTools: false,
      recordBeforeForward: false,
      maxMessageBytes: 1_048_576,
      upstreams: { gh: { kind: 'http', headers: { Authorization: 'Bearer tok-123' } } },
    });
  });

  it('refuses upstream headers the HTTP client cannot send, naming the header and never the value', () => {
    const cases: Array<[string, RegExp]> = [
      ['Connection: close', /headers\.Connection: the gateway's HTTP client sets this header itself/],
      ['Transfer-Encoding: chunked', /headers\.Transfer-Encoding: the gateway's HTTP client sets/],
      ['"Bad Name": x', /headers\.Bad Name: not a valid HTTP header name/],
    ];
    for (const [header, expected] of cases) {
      const file = configWith(
        `mcp:\n  upstreams:\n    gh: { url: "https://example.com/mcp", headers: { ${header} } }\n`,
      );
      expect(() => loadConfig(file, {})).toThrow(expected);
    }
    // A secret that would split the request in two: refused without being quoted.
    const file = configWith(
      `mcp:\n  upstreams:\n    gh: { url: "https://example.com/mcp", headers: { X-Key: "${ref('KEY')}" } }\n`,
    );
    expect(() => loadConfig(file, { KEY: 'sk-9f2\r\nX-Admin: 1' })).toThrow(
      /headers\.X-Key: the value contains a line break/,
    );
    expect(() => loadConfig(file, { KEY: 'sk-9f2\r\nX-Admin: 1' })).not.toThrow(/sk-9f2/);
    expect(loadConfig(file, { KEY: 'sk-9f2' }).mcp?.upstreams.gh).toMatchObject({
      headers: { 'X-Key': 'sk-9f2' },
    });
  });

  it('names a missing variable, never a value', () => {
    const file = configWith(
      `mcp:\n  upstreams:\n    s: { command: srv, env: { A: "${ref('NOT_SET_ANYWHERE')}", B: "visible-secret" } }\n`,
    );
    expect(() => loadConfig(file, {})).toThrow(/NOT_SET_ANYWHERE/);
    expect(() => loadConfig(file, {})).not.toThrow(/visible-secret/);
  });

  it('operator commands load it without the upstream secrets, leaving references unexpanded', () => {
    const file = configWith(
      `mcp:\n  upstreams:\n    s: { command: srv, env: { A: "x-${ref('NOT_SET_ANYWHERE')}" } }\n`,
    );
    const config = loadConfig(file, {}, process.cwd(), { serving: false });
    expect(config.mcp?.upstreams.s).toMatchObject({
      kind: 'stdio',
      env: { A: `x-${ref('NOT_SET_ANYWHERE')}` },
    });
    expect(() => loadConfig(file, {}, process.cwd(), { serving: true })).toThrow(/NOT_SET_ANYWHERE/);
  });

  it('names a working directory that does not exist, instead of failing every spawn later', () => {
    const file = configWith('mcp:\n  upstreams:\n    s: { command: npx, cwd: ./servers }\n');
    const missing = join(dirname(file), 'servers');
    expect(() => loadConfig(file, {})).toThrow(
      `mcp.upstreams.s.cwd: the working directory ${missing} does not exist or is not a directory; create it or fix cwd`,
    );
    expect(loadConfig(file, {}, process.cwd(), { serving: false }).mcp?.upstreams.s).toMatchObject({
      cwd: missing,
    });
    mkdirSync(missing);
    expect(loadConfig(file, {}).mcp?.upstreams.s).toMatchObject({ cwd: missing });
  });

  it('rejects an upstream with both or neither of command and url, and bad names', () => {
    expect(() => loadConfig(configWith('mcp:\n  upstreams:\n    s: { args: [x] }\n'), {})).toThrow();
    expect(() =>
      loadConfig(configWith('mcp:\n  upstreams:\n    "bad/name": { command: x }\n'), {}),
    ).toThrow();
  });

  it('is null without an mcp key', () => {
    expect(loadConfig(configWith('dev: true\n'), {}).mcp).toBeNull();
  });
});
