import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SourceError } from '../util/yaml-source.js';
import { loadConfig } from './load.js';
import { ConfigFile } from './schema.js';

const dir = mkdtempSync(join(tmpdir(), 'cs-config-typos-'));
const file = join(dir, 'countersign.yaml');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(text: string, env: NodeJS.ProcessEnv = {}): string {
  writeFileSync(file, text);
  try {
    loadConfig(file, env);
  } catch (e) {
    if (e instanceof SourceError) return e.message;
    throw e;
  }
  throw new Error(`expected an error for:\n${text}`);
}

type Path = Array<string | number>;
interface Level {
  path: Path;
  keys: string[];
}

/**
 * Every level of the configuration that refuses unknown keys, with the keys it knows, read from
 * the schema itself so that a new section is covered without touching this test. A union level
 * (an MCP upstream is a command or a URL) knows the keys of all its branches; a map with free
 * names (mcp.upstreams) is entered through one sample name; a list through its first item.
 */
function levels(schema: unknown, path: Path = [], out: Level[] = []): Level[] {
  const s = schema as Record<string, unknown>;
  const branches = [s, ...((s.anyOf as unknown[] | undefined) ?? [])].filter(
    (b) => (b as Record<string, unknown>).properties,
  ) as Array<Record<string, unknown>>;
  if (branches.length && branches.every((b) => b.additionalProperties === false))
    out.push({ path, keys: [...new Set(branches.flatMap((b) => Object.keys(b.properties as object)))] });
  for (const b of branches)
    for (const [name, sub] of Object.entries(b.properties as Record<string, unknown>))
      levels(sub, [...path, name], out);
  for (const b of (s.anyOf as unknown[] | undefined) ?? [])
    if (!(b as Record<string, unknown>).properties) levels(b, path, out);
  if (s.type === 'array' && s.items) levels(s.items, [...path, 0], out);
  const patterns = Object.entries((s.patternProperties as Record<string, unknown> | undefined) ?? {});
  if (patterns.length === 1 && new RegExp((patterns[0] as [string, unknown])[0]).test('fs'))
    levels((patterns[0] as [string, unknown])[1], [...path, 'fs'], out);
  return out;
}

/** Independent of the code under test: is `b` one insertion, deletion, substitution or swap from `a`? */
function oneEditApart(a: string, b: string): boolean {
  if (a === b) return false;
  if (a.length === b.length) {
    const diff = [...a].flatMap((c, i) => (c === b[i] ? [] : [i]));
    if (diff.length === 1) return true;
    const [i, j] = diff as [number, number];
    return diff.length === 2 && j === i + 1 && a[i] === b[j] && a[j] === b[i];
  }
  const [short, long] = a.length < b.length ? [a, b] : [b, a];
  if (long.length - short.length !== 1) return false;
  for (let i = 0; i < long.length; i++) if (long.slice(0, i) + long.slice(i + 1) === short) return true;
  return false;
}

/** A document holding only `key: 1` at `path`, with the line and column where the key is written. */
function documentWith(path: Path, key: string): { text: string; at: string } {
  let value: unknown = { [key]: 1 };
  for (const seg of [...path].reverse()) value = typeof seg === 'number' ? [value] : { [seg]: value };
  const text = stringify(value);
  const lines = text.split('\n');
  const line = lines.findIndex((l) => new RegExp(`^[\\s-]*"?${key}"?:`).test(l));
  const col = (lines[line] as string).search(/[^\s-]/) + 1;
  return { text, at: `${file}:${line + 1}:${col}` };
}

const all = levels(ConfigFile);
const typoChars = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_'];

/** One typist's slip in `key`: a character replaced, added, dropped, or two neighbours swapped. */
const typo = (key: string) =>
  fc.oneof(
    fc
      .tuple(fc.nat({ max: key.length - 1 }), fc.constantFrom(...typoChars))
      .map(([i, c]) => key.slice(0, i) + c + key.slice(i + 1)),
    fc
      .tuple(fc.nat({ max: key.length }), fc.constantFrom(...typoChars))
      .map(([i, c]) => key.slice(0, i) + c + key.slice(i)),
    fc.nat({ max: key.length - 1 }).map((i) => key.slice(0, i) + key.slice(i + 1)),
    fc
      .nat({ max: Math.max(0, key.length - 2) })
      .map((i) => key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2)),
  );

const levelKeyTypo = fc
  .constantFrom(...all)
  .chain((level) =>
    fc.constantFrom(...level.keys).chain((key) => typo(key).map((t) => ({ level, key, typo: t }))),
  );

describe('configuration typos', () => {
  it('covers the top level and the nested sections', () => {
    const names = all.map((l) => l.path.join('.'));
    for (const expected of [
      '',
      'server',
      'store',
      'identity.oidc',
      'identity.sessions',
      'mcp.upstreams.fs',
      'slack',
      'webhooks.endpoints.0',
    ])
      expect(names).toContain(expected);
  });

  it('names the key a single-character typo meant, where it was written, at every level', () => {
    fc.assert(
      fc.property(levelKeyTypo, ({ level, key, typo }) => {
        fc.pre(typo.length > 0 && !level.keys.includes(typo));
        // Unambiguous: no other key at this level is one slip away from the typo as well.
        fc.pre(level.keys.every((k) => k === key || !oneEditApart(typo, k)));
        const { text, at } = documentWith(level.path, typo);
        const where = level.path.length ? level.path.join('.') : 'the top level';
        expect(errorOf(text)).toContain(`${at}: unknown key '${typo}' in ${where} (did you mean '${key}'?)`);
      }),
      { numRuns: 300 },
    );
  });

  it('suggests the key for typos in nested sections', () => {
    expect(errorOf('server:\n  port: 8080\n  prot: 1\n')).toBe(
      `${file}:3:3: unknown key 'prot' in server (did you mean 'port'?). See docs/configuration.md for every key`,
    );
    expect(errorOf('sever:\n  port: 1\n')).toContain(
      `${file}:1:1: unknown key 'sever' in the top level (did you mean 'server'?)`,
    );
    expect(errorOf('store:\n  durabilty: os\n')).toContain(
      `${file}:2:3: unknown key 'durabilty' in store (did you mean 'durability'?)`,
    );
    expect(errorOf('identity:\n  oidc:\n    isuer: https://idp.example\n    clientId: x\n')).toContain(
      `${file}:3:5: unknown key 'isuer' in identity.oidc (did you mean 'issuer'?)`,
    );
    expect(errorOf('server:\n  log_level: warn\n')).toContain(
      "unknown key 'log_level' in server (did you mean 'logLevel'?)",
    );
  });

  it('picks the typo, not a key of the other kind of MCP upstream', () => {
    expect(errorOf('mcp:\n  upstreams:\n    docs:\n      comand: npx\n')).toContain(
      `${file}:4:7: unknown key 'comand' in mcp.upstreams.docs (did you mean 'command'?)`,
    );
    // `url` is known to the URL kind; the typo is in `headers`.
    expect(
      errorOf('mcp:\n  upstreams:\n    docs:\n      url: https://mcp.example\n      hedaers: {}\n'),
    ).toContain(`${file}:5:7: unknown key 'hedaers' in mcp.upstreams.docs (did you mean 'headers'?)`);
  });

  it('suggests nothing for a key unlike any known one, or equally like two', () => {
    const far = errorOf('server:\n  timeout: 5s\n');
    expect(far).toContain(`${file}:2:3: unknown key 'timeout' in server.`);
    expect(far).not.toContain('did you mean');
    expect(errorOf('server:\n  post: 1\n')).not.toContain('did you mean');
  });

  it('suggests the key for an unknown environment override too', () => {
    expect(errorOf('server:\n  port: 8080\n', { COUNTERSIGN__SERVER__PROT: '1' })).toContain(
      "environment variable COUNTERSIGN__SERVER__PROT: unknown key 'prot' in server (did you mean 'port'?)",
    );
  });
});
