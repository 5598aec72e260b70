import { cp, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { BUNDLE } from './bundle.js';
import { CheckpointSigner } from './checkpoint.js';
import { LocalEd25519Key } from './note.js';
import { writeTestBundle } from './testing.js';
import { verifyBundle } from './verify.js';

// 700 entries: two full level-0 tiles and a partial one, plus a level-1 partial tile.
const N = 700;
const SIZES = [100, 256, 513, N];
let base: string;
let template: string;
let vkey: string;
let entries: string[];
let templateSigner: CheckpointSigner;
let run = 0;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'cs-verify-'));
  template = join(base, 'template');
  ({ vkey, entries, signer: templateSigner } = await writeTestBundle(template, N, SIZES));
});
afterAll(() => rm(base, { recursive: true, force: true }));

async function copy(): Promise<string> {
  const dir = join(base, `b${run++}`);
  await cp(template, dir, { recursive: true });
  return dir;
}

const entriesPath = (dir: string) => join(dir, BUNDLE.entries);
async function rewriteEntries(dir: string, f: (lines: string[]) => string[]): Promise<void> {
  const lines = (await readFile(entriesPath(dir), 'utf8')).split('\n').slice(0, -1);
  const out = f(lines);
  await writeFile(entriesPath(dir), out.length > 0 ? `${out.join('\n')}\n` : '');
}

async function tileFiles(dir: string): Promise<string[]> {
  const all = await readdir(join(dir, 'tile'), { recursive: true, withFileTypes: true });
  return all
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();
}

describe('audit verify on an intact bundle', () => {
  it('passes, reports size and progress, and accepts an earlier trusted checkpoint', async () => {
    const seen: number[] = [];
    const trusted = await readFile(join(template, 'checkpoints', '0000000002'), 'utf8');
    const r = await verifyBundle(template, {
      key: vkey,
      trustedCheckpoint: trusted,
      onProgress: (d) => seen.push(d),
    });
    expect(r).toMatchObject({ ok: true, entries: N, checkpoints: SIZES.length, size: N });
    expect(seen[seen.length - 1]).toBe(N);
  });

  it('refuses a bundle checked against another key', async () => {
    const other = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), new ManualClock());
    const r = await verifyBundle(template, { key: other.verifierKey });
    expect(r.problem).toMatchObject({ code: 'checkpoint', path: 'checkpoints/0000000001' });
  });
});

describe('tampering with entries is detected and the first bad index named', () => {
  const index = fc.integer({ min: 0, max: N - 1 });
  const check = async (mutate: (dir: string) => Promise<void>, want: number) => {
    const dir = await copy();
    await mutate(dir);
    const r = await verifyBundle(dir, { key: vkey });
    expect(r.ok).toBe(false);
    expect(r.problem).toMatchObject({ code: 'entry', index: want });
    await rm(dir, { recursive: true });
  };

  it('mutation of one entry', async () => {
    await fc.assert(
      fc.asyncProperty(index, fc.nat(), async (i, at) => {
        await check(
          (d) =>
            rewriteEntries(d, (ls) => {
              const l = ls[i]!;
              const p = at % l.length;
              ls[i] = l.slice(0, p) + (l[p] === 'x' ? 'y' : 'x') + l.slice(p + 1);
              return ls;
            }),
          i,
        );
      }),
      { numRuns: 20 },
    );
  });

  it('deletion of one entry', async () => {
    await fc.assert(
      fc.asyncProperty(index, async (i) =>
        check((d) => rewriteEntries(d, (ls) => ls.filter((_, j) => j !== i)), i),
      ),
      { numRuns: 15 },
    );
  });

  it('reordering two entries', async () => {
    await fc.assert(
      fc.asyncProperty(index, index, async (a, b) => {
        fc.pre(a !== b);
        const [i, j] = a < b ? [a, b] : [b, a];
        await check(
          (d) =>
            rewriteEntries(d, (ls) => {
              [ls[i], ls[j]] = [ls[j]!, ls[i]!];
              return ls;
            }),
          i,
        );
      }),
      { numRuns: 15 },
    );
  });

  it('truncation', async () => {
    await fc.assert(
      fc.asyncProperty(index, async (k) => check((d) => rewriteEntries(d, (ls) => ls.slice(0, k)), k)),
      { numRuns: 15 },
    );
  });

  it('insertion, including past the last checkpoint', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: N }), async (i) =>
        check((d) => rewriteEntries(d, (ls) => [...ls.slice(0, i), '{"forged":true}', ...ls.slice(i)]), i),
      ),
      { numRuns: 15 },
    );
  });

  it('an entry and its tile forged together: the damage is bounded by the signed checkpoints', async () => {
    const dir = await copy();
    await rewriteEntries(dir, (ls) => {
      ls[300] = '{"forged":true}';
      return ls;
    });
    // The attacker also rewrites the level-0 hash, so the tiles no longer match the signed root.
    const tile = join(dir, 'tile/0/001');
    const data = await readFile(tile);
    data[(300 - 256) * 32] = data[(300 - 256) * 32]! ^ 1;
    await writeFile(tile, data);
    const r = await verifyBundle(dir, { key: vkey });
    expect(r.problem).toMatchObject({ code: 'entry', index: 256 });
    expect(r.problem!.message).toMatch(/up to index 512/);
  });
});

describe('tampering with tiles and checkpoints is detected and the file named', () => {
  it('mutation, deletion or insertion of a tile file', async () => {
    const files = await tileFiles(template);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...files),
        fc.nat(),
        fc.constantFrom('mutate', 'delete', 'insert'),
        async (f, at, op) => {
          const dir = await copy();
          const path = join(dir, f);
          if (op === 'mutate') {
            const data = await readFile(path);
            data[at % data.length] = data[at % data.length]! ^ 0x40;
            await writeFile(path, data);
          } else if (op === 'delete') {
            await unlink(path);
          } else {
            await writeFile(join(dir, 'tile/0/099'), await readFile(path));
          }
          const r = await verifyBundle(dir, { key: vkey });
          expect(r.problem).toMatchObject({ code: 'tile', path: op === 'insert' ? 'tile/0/099' : f });
          await rm(dir, { recursive: true });
        },
      ),
      { numRuns: 20 },
    );
  });

  it('mutation of a checkpoint', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: SIZES.length }), fc.nat(), async (seq, at) => {
        const dir = await copy();
        const name = `checkpoints/${String(seq).padStart(10, '0')}`;
        const text = await readFile(join(dir, name), 'utf8');
        const p = at % text.length;
        const c = text[p] === 'A' ? 'B' : 'A';
        await writeFile(join(dir, name), text.slice(0, p) + c + text.slice(p + 1));
        const r = await verifyBundle(dir, { key: vkey });
        expect(r.problem).toMatchObject({ code: 'checkpoint', path: name });
        await rm(dir, { recursive: true });
      }),
      { numRuns: 20 },
    );
  });

  it('a signature re-encoded with its unused base64 bits set (found by the property above)', async () => {
    const dir = await copy();
    const name = 'checkpoints/0000000001';
    const lines = (await readFile(join(dir, name), 'utf8')).split('\n');
    const at = lines.findIndex((l) => l.startsWith('\u2014 ') && l.endsWith('='));
    const line = lines[at] as string;
    const pad = line.endsWith('==') ? 4 : 2;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = line.length - 1 - pad / 2;
    const altered = alphabet[alphabet.indexOf(line[last] as string) ^ 1] as string;
    lines[at] = line.slice(0, last) + altered + line.slice(last + 1);
    expect(Buffer.from(lines[at].split(' ')[2] as string, 'base64')).toEqual(
      Buffer.from(line.split(' ')[2] as string, 'base64'),
    );
    await writeFile(join(dir, name), lines.join('\n'));
    const r = await verifyBundle(dir, { key: vkey });
    expect(r.problem).toMatchObject({ code: 'checkpoint', path: name });
    await rm(dir, { recursive: true });
  });

  it('reordering checkpoints', async () => {
    const dir = await copy();
    const [a, b] = ['0000000002', '0000000003'].map((n) => join(dir, 'checkpoints', n)) as [string, string];
    const [ta, tb] = [await readFile(a), await readFile(b)];
    await writeFile(a, tb);
    await writeFile(b, ta);
    const r = await verifyBundle(dir, { key: vkey });
    expect(r.problem).toMatchObject({ code: 'chain', path: 'checkpoints/0000000002' });
    expect(r.problem!.message).toMatch(/is checkpoint 3 of the log but number 2 in the bundle/);
  });

  it('dropping the latest checkpoint leaves the newest entries uncovered', async () => {
    const dir = await copy();
    await unlink(join(dir, 'checkpoints', '0000000004'));
    await writeFile(join(dir, BUNDLE.checkpoint), await readFile(join(dir, 'checkpoints', '0000000003')));
    const r = await verifyBundle(dir, { key: vkey });
    expect(r.problem).toMatchObject({ code: 'entry', index: 513 });
    expect(r.problem!.message).toMatch(
      /not covered by any signed checkpoint: the latest in the bundle, checkpoints\/0000000003, covers 513 entries\. Newer checkpoints were removed/,
    );
  });

  it('inserting a checkpoint signed by another key', async () => {
    const dir = await copy();
    const other = new CheckpointSigner(
      'test.example/log',
      LocalEd25519Key.generate(),
      new ManualClock(Date.UTC(2027, 0)),
    );
    const forged = join(base, `forged${run++}`);
    await writeTestBundle(forged, 10, [10], other);
    await writeFile(join(dir, 'checkpoints', '0000000005'), await readFile(join(forged, 'checkpoint')));
    const r = await verifyBundle(dir, { key: vkey });
    expect(r.problem).toMatchObject({ code: 'checkpoint', path: 'checkpoints/0000000005' });
  });
});

const cpName = (seq: number) => `checkpoints/${String(seq).padStart(10, '0')}`;

describe('the checkpoint chain: removing, reordering or replacing a checkpoint is detected', () => {
  it('an intact bundle is fully chained', async () => {
    expect(await verifyBundle(template, { key: vkey })).toMatchObject({ ok: true, unchained: 0 });
    const second = await readFile(join(template, cpName(2)), 'utf8');
    expect(second.split('\n')[3]).toMatch(/^countersign\.chain\/v1 2 [A-Za-z0-9+/]{43}=$/);
  });

  it('deleting an intermediate checkpoint names the one whose predecessor is gone', async () => {
    const dir = await copy();
    await unlink(join(dir, cpName(2)));
    const r = await verifyBundle(dir, { key: vkey });
    expect(r.problem).toMatchObject({ code: 'chain', path: cpName(3) });
    expect(r.problem!.message).toMatch(/checkpoint 2 is missing/);
  });

  it('deleting the first checkpoint is detected', async () => {
    const dir = await copy();
    await unlink(join(dir, cpName(1)));
    const r = await verifyBundle(dir, { key: vkey });
    expect(r.problem).toMatchObject({ code: 'chain', path: cpName(2) });
  });

  it('deleting the newest checkpoint file names it when `checkpoint` still holds it', async () => {
    const dir = await copy();
    await unlink(join(dir, cpName(4)));
    const r = await verifyBundle(dir, { key: vkey });
    expect(r.problem).toMatchObject({ code: 'chain', path: cpName(4) });
    expect(r.problem!.message).toMatch(/ends at checkpoint 3/);
  });

  it('replacing a checkpoint with a validly signed one of another history of the same log', async () => {
    const signer = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), new ManualClock());
    const a = join(base, `ra${run++}`);
    await writeTestBundle(a, 300, [100, 200, 300], signer);
    const b = join(base, `rb${run++}`);
    await writeTestBundle(b, 300, [100, 150, 300], signer);
    // b's checkpoint 2 is the log's own signature, at the same place; its root differs, and the
    // chain names the swap at the checkpoint after it.
    await writeFile(join(a, cpName(2)), await readFile(join(b, cpName(2))));
    const r = await verifyBundle(a, { key: signer.verifierKey });
    expect(r.problem).toMatchObject({ code: 'chain', path: cpName(3) });
    expect(r.problem!.message).toMatch(/does not chain to checkpoints\/0000000002/);
  });

  it('an unchained checkpoint after a chained one is refused', async () => {
    const dir = await copy();
    // The same log key, the same tree at size N, but signed without a chain line.
    const legacy = join(base, `legacy${run++}`);
    await writeTestBundle(legacy, N, SIZES, templateSigner, { unchained: SIZES.length });
    const text = await readFile(join(legacy, cpName(4)));
    await writeFile(join(dir, cpName(4)), text);
    await writeFile(join(dir, BUNDLE.checkpoint), text);
    const r = await verifyBundle(dir, { key: vkey });
    expect(r.problem).toMatchObject({ code: 'chain', path: cpName(4) });
    expect(r.problem!.message).toMatch(/carries no countersign\.chain\/v1 line/);
  });

  it('checkpoints signed before the chain existed verify, and are counted as unchained', async () => {
    const dir = join(base, `old${run++}`);
    const { vkey: k } = await writeTestBundle(dir, 300, [100, 200, 250, 300], undefined, { unchained: 2 });
    expect(await verifyBundle(dir, { key: k })).toMatchObject({ ok: true, checkpoints: 4, unchained: 2 });
    // Deleting one of the unchained ones still moves the chained ones out of place.
    await unlink(join(dir, cpName(1)));
    const r = await verifyBundle(dir, { key: k });
    expect(r.problem).toMatchObject({ code: 'chain', path: cpName(3) });
  });

  it('truncating entries and checkpoints together passes alone, and is a rollback against a trusted checkpoint', async () => {
    // The same signer and clock reproduce the first three checkpoints byte for byte.
    const dir = join(base, `trunc${run++}`);
    await writeTestBundle(dir, 513, [100, 256, 513], templateSigner);
    for (const seq of [1, 2, 3])
      expect(await readFile(join(dir, cpName(seq)), 'utf8')).toBe(
        await readFile(join(template, cpName(seq)), 'utf8'),
      );
    expect(await verifyBundle(dir, { key: vkey })).toMatchObject({ ok: true, size: 513 });
    const trusted = await readFile(join(template, cpName(4)), 'utf8');
    const r = await verifyBundle(dir, { key: vkey, trustedCheckpoint: trusted });
    expect(r.problem).toMatchObject({ code: 'rollback', index: 513 });
  });

  it('property: deleting, swapping or replacing checkpoints anywhere is detected and a checkpoint named', async () => {
    const seq = fc.integer({ min: 1, max: SIZES.length });
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('delete' as const),
        gone: fc.uniqueArray(seq, { minLength: 1, maxLength: SIZES.length - 1 }),
        coverUp: fc.boolean(),
      }),
      fc.record({ kind: fc.constantFrom('swap' as const, 'replace' as const), i: seq, j: seq }),
    );
    await fc.assert(
      fc.asyncProperty(op, async (o) => {
        const dir = await copy();
        const file = (s: number) => join(dir, cpName(s));
        let want: { code: string; path?: string; index?: number };
        if (o.kind === 'delete') {
          const gone = new Set(o.gone);
          for (const s of gone) await unlink(file(s));
          const first = Math.min(...gone);
          const kept = [1, 2, 3, 4].filter((s) => !gone.has(s));
          const after = kept.find((s) => s > first);
          const last = kept[kept.length - 1]!;
          // The cover-up makes `checkpoint` match the last file left, as a careful attacker would.
          if (o.coverUp) await writeFile(join(dir, BUNDLE.checkpoint), await readFile(file(last)));
          if (after !== undefined) want = { code: 'chain', path: cpName(after) };
          else if (o.coverUp) want = { code: 'entry', index: SIZES[last - 1]! };
          else want = { code: 'chain', path: cpName(last + 1) };
        } else {
          fc.pre(o.i !== o.j);
          const [ti, tj] = [await readFile(file(o.i)), await readFile(file(o.j))];
          await writeFile(file(o.i), tj);
          if (o.kind === 'swap') await writeFile(file(o.j), ti);
          // Whichever of the two comes first in the bundle is out of place.
          want = { code: 'chain', path: cpName(o.kind === 'swap' ? Math.min(o.i, o.j) : o.i) };
        }
        const r = await verifyBundle(dir, { key: vkey });
        expect(r.ok).toBe(false);
        expect(r.problem).toMatchObject(want);
        await rm(dir, { recursive: true });
      }),
      { numRuns: 40 },
    );
  });
});

describe('trusted checkpoint', () => {
  it('detects a rollback below a checkpoint the auditor saved', async () => {
    const dir = join(base, `small${run++}`);
    const signer = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), new ManualClock());
    const big = join(base, `big${run++}`);
    const { checkpoints } = await writeTestBundle(big, 300, [300], signer);
    await writeTestBundle(dir, 200, [200], signer);
    const r = await verifyBundle(dir, { key: signer.verifierKey, trustedCheckpoint: checkpoints[0]! });
    expect(r.problem).toMatchObject({ code: 'rollback', index: 200 });
  });

  it('detects a fork: same key, same size, other history', async () => {
    const signer = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), new ManualClock());
    const a = join(base, `fa${run++}`);
    const { checkpoints } = await writeTestBundle(a, 50, [50], signer);
    const b = join(base, `fb${run++}`);
    await writeTestBundle(b, 50, [50], signer);
    await rewriteEntries(b, (ls) => ls.map((l) => l.replace('request.submitted', 'request.approved')));
    // Re-sign b's altered history so that b is self-consistent: the operator forked the log.
    const forkDir = join(base, `fork${run++}`);
    const altered = (await readFile(join(b, BUNDLE.entries), 'utf8')).split('\n').slice(0, -1);
    expect(altered).toHaveLength(50);
    await writeForked(forkDir, altered, signer);
    const r = await verifyBundle(forkDir, { key: signer.verifierKey, trustedCheckpoint: checkpoints[0]! });
    expect(r.problem).toMatchObject({ code: 'fork' });
    expect(entries.length).toBe(N);
  });
});

async function writeForked(dir: string, lines: string[], signer: CheckpointSigner): Promise<void> {
  const { createBundle } = await import('./bundle.js');
  const { appendLeaves, emptyEdge } = await import('./tiles.js');
  const { leafHash, rootOfLeaves } = await import('./merkle.js');
  const leaves = lines.map((l) => leafHash(l));
  const bundle = await createBundle(dir);
  await bundle.addEntries(lines);
  await bundle.addTiles(appendLeaves(emptyEdge(), leaves).tiles);
  await bundle.finish(signer.verifierKey, [await signer.sign(lines.length, rootOfLeaves(leaves))]);
}
