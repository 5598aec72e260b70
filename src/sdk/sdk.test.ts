import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every module reachable from a file through static and dynamic imports. */
function reachable(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const spec = m[1] as string;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('countersign/sdk', () => {
  it('imports nothing from the server, the store or native modules', () => {
    const root = join(import.meta.dirname, '..', '..');
    const { files, packages } = reachable(join(import.meta.dirname, 'index.ts'));
    const outside = [...files].map((f) => relative(root, f)).filter((f) => !f.startsWith('src/sdk/'));
    expect(outside).toEqual([]);
    expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
  });
});
