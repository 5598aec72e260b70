import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointSigner, logKeyFrom, openCheckpoint } from '../../audit/checkpoint.js';
import { AuditCheckpointer } from '../../audit/checkpointer.js';
import { exportBundle } from '../../audit/export.js';
import {
  CompactRange,
  consistencyProof,
  inclusionProof,
  leafHash,
  verifyConsistency,
  verifyInclusion,
} from '../../audit/merkle.js';
import { LocalEd25519Key } from '../../audit/note.js';
import {
  appendLeaves,
  edgeTiles,
  emptyEdge,
  MemoryTiles,
  TILE_WIDTH,
  type Tile,
  TileNodeReader,
  type TileReader,
} from '../../audit/tiles.js';
import { verifyBundle } from '../../audit/verify.js';
import { ManualClock } from '../../core/clock.js';
import type { AuditEvent } from '../../core/event.js';
import { SqliteStore } from './index.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'cs-sqlite-audit-'));
  dirs.push(d);
  return d;
}

const event = (i: number): AuditEvent => ({
  kind: 'actor.created',
  at: Date.UTC(2026, 0, 1) + i,
  requestId: null,
  subject: { type: 'operator', id: 'test' },
  details: { n: i },
});

function signerFor(clock: ManualClock) {
  return new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), clock);
}

describe('SQLite audit tree', () => {
  it('extends the tree in each group-commit batch and serves proofs that verify', async () => {
    const dir = await tempDir();
    const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    // 700 events from concurrent writers: several batches, across tile boundaries.
    await Promise.all(Array.from({ length: 700 }, (_, i) => store.appendEvents([event(i)])));
    const head = await store.audit.treeHead();
    expect(head.size).toBe(700);
    const entries = await store.audit.readEntries(0, 1000);
    const c = new CompactRange();
    for (const e of entries) c.append(leafHash(e.entry));
    expect(head.root).toEqual(c.root());
    const reader = new TileNodeReader(store.audit);
    const proof = await inclusionProof(reader, 333, 700);
    expect(verifyInclusion(333, 700, leafHash(entries[333]!.entry), proof, head.root)).toBe(true);
    await store.close();

    // Reopened, it carries on from the stored tiles and leaf rows.
    const again = new SqliteStore({ path: join(dir, 'db.sqlite') });
    expectLeafRows(again, 700);
    await again.appendEvents([event(700)]);
    expectLeafRows(again, 701);
    const head2 = await again.audit.treeHead();
    expect(head2.size).toBe(701);
    const cons = await consistencyProof(new TileNodeReader(again.audit), 700, 701);
    expect(verifyConsistency(700, 701, cons, head.root, head2.root)).toBe(true);
    await again.close();
  });

  it('writes no leaf for a write that was refused, and none is missing for those committed', async () => {
    const dir = await tempDir();
    const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    const ok = store.appendEvents([event(1)]);
    const refused = store.writes.run(() => {
      store.db
        .prepare("INSERT INTO events (idx, request_id, kind, at, entry) VALUES (1, NULL, 'x', 0, '{}')")
        .run();
      throw new Error('refused');
    });
    await ok;
    await expect(refused).rejects.toThrow('refused');
    await store.appendEvents([event(2)]);
    expect((await store.audit.treeHead()).size).toBe(2);
    await store.close();
  });

  it('hashes exactly the committed entries when a refused write had appended events of its own', async () => {
    // The refused write's events are hashed as they are inserted, then rolled back by its
    // savepoint; the next write reuses their indexes. Refused in the middle and at the end of a batch,
    // in an empty log (explicit first index) and in one with entries on disk (SQLite assigns it).
    for (const [refusedAt, primed] of [
      [1, false],
      [2, false],
      [1, true],
      [2, true],
    ] as const) {
      const dir = await tempDir();
      const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
      if (primed) await store.appendEvents([event(7)]);
      const append = (e: AuditEvent[]) =>
        (store as unknown as { appendSync(e: AuditEvent[]): void }).appendSync(e);
      const writes = [0, 1, 2].map((i) =>
        store.writes.run(() => {
          if (i !== refusedAt) return append([event(10 * i)]);
          append([event(100), event(101), event(102)]);
          throw new Error('refused');
        }),
      );
      const settled = await Promise.allSettled(writes);
      expect(settled.map((r) => r.status)).toEqual(
        [0, 1, 2].map((i) => (i === refusedAt ? 'rejected' : 'fulfilled')),
      );
      const head = await store.audit.treeHead();
      const entries = await store.audit.readEntries(0, 10);
      expect(entries.map((e) => e.index)).toEqual(primed ? [0, 1, 2] : [0, 1]);
      expect(entries.map((e) => JSON.parse(e.entry).details.n)).toEqual([
        ...(primed ? [7] : []),
        ...(refusedAt === 1 ? [0, 20] : [0, 10]),
      ]);
      const c = new CompactRange();
      for (const e of entries) c.append(leafHash(e.entry));
      expect(head).toEqual({ size: entries.length, root: c.root() });
      await store.close();
    }
  });

  it('exports a bundle that verifies; a row edited in the database is named by index', async () => {
    const dir = await tempDir();
    const clock = new ManualClock();
    const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    const signer = signerFor(clock);
    const cp = new AuditCheckpointer(store.audit, signer, clock);
    for (let b = 0; b < 3; b++) {
      await Promise.all(Array.from({ length: 120 }, (_, i) => store.appendEvents([event(b * 120 + i)])));
      clock.advance(1000);
      await cp.checkpoint();
    }
    const latest = await store.audit.latestCheckpoint();
    expect(openCheckpoint(latest!.note, logKeyFrom(signer.verifierKey)).checkpoint.size).toBe(360);

    const out = join(dir, 'bundle');
    await exportBundle(store.audit, signer.verifierKey, out);
    expect(await verifyBundle(out, { key: signer.verifierKey })).toMatchObject({
      ok: true,
      entries: 360,
      checkpoints: 3,
    });

    // An operator edits one stored event: the export no longer verifies, and says which.
    store.db
      .prepare('UPDATE events SET entry = replace(entry, \'"n":200\', \'"n":201\') WHERE idx = 200')
      .run();
    await exportBundle(store.audit, signer.verifierKey, out);
    expect((await verifyBundle(out, { key: signer.verifierKey })).problem).toMatchObject({
      code: 'entry',
      index: 200,
    });
    await store.close();
  });

  it('signs only when the tree grew, and refuses to store an older checkpoint after a newer one', async () => {
    const dir = await tempDir();
    const clock = new ManualClock();
    const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    const cp = new AuditCheckpointer(store.audit, signerFor(clock), clock);
    await store.appendEvents([event(0)]);
    const first = await cp.checkpoint();
    expect(await cp.checkpoint()).toEqual(first);
    expect(await store.audit.saveCheckpoint(2, 0, clock.now() + 5, 'stale')).toBe(false);
    await store.close();
  });

  it('stores a checkpoint only in the place its chain line names: right after the latest', async () => {
    const dir = await tempDir();
    const clock = new ManualClock();
    const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    await store.appendEvents([event(0)]);
    const first = await new AuditCheckpointer(store.audit, signerFor(clock), clock).checkpoint();
    expect(first?.seq).toBe(1);
    // A racing signer that read the same latest checkpoint: its seq is taken.
    expect(await store.audit.saveCheckpoint(1, 5, clock.now() + 5, 'raced')).toBe(false);
    // A seq that skips a place would leave a hole in the chain.
    expect(await store.audit.saveCheckpoint(3, 5, clock.now() + 5, 'gap')).toBe(false);
    expect(await store.audit.saveCheckpoint(2, 5, clock.now() + 5, 'next')).toBe(true);
    expect((await store.audit.latestCheckpoint())?.seq).toBe(2);
    await store.close();
  });
});

describe('durable tree head', () => {
  it('offers for signing only the tree size whose batch is on stable storage', async () => {
    const dir = await tempDir();
    const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    await store.appendEvents([event(0), event(1)]);
    const durable = await store.audit.treeHead();
    // A batch committed but not yet synced: bypass the write queue, as if fdatasync were pending.
    store.db.transaction(() => {
      store.db
        .prepare(
          "INSERT INTO events (idx, request_id, kind, at, entry) VALUES (2, NULL, 'actor.created', 0, '{}')",
        )
        .run();
      store.audit.extend();
    })();
    expect(await store.audit.treeHead()).toEqual(durable);
    store.audit.markDurable(store.audit.committed());
    expect((await store.audit.treeHead()).size).toBe(3);
    await store.close();
  });
});

describe('upgrade', () => {
  it('builds the tree on open for events written before it existed, in pages', async () => {
    const dir = await tempDir();
    const path = join(dir, 'db.sqlite');
    const first = new SqliteStore({ path });
    await first.close();
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(path);
    const insert = raw.prepare(
      "INSERT INTO events (idx, request_id, kind, at, entry) VALUES (?, NULL, 'actor.created', 0, ?)",
    );
    raw.transaction(() => {
      for (let i = 0; i < 25_000; i++) insert.run(i, `{"i":${i}}`);
    })();
    raw.close();
    const store = new SqliteStore({ path });
    const head = await store.audit.treeHead();
    expect(head.size).toBe(25_000);
    const c = new CompactRange();
    for (let i = 0; i < 25_000; i++) c.append(leafHash(`{"i":${i}}`));
    expect(head.root).toEqual(c.root());
    await store.close();
  });
});

/** The leaf rows hold exactly the incomplete level-0 tile, and no level-0 partial tile remains. */
function expectLeafRows(store: SqliteStore, size: number): void {
  const open = size - (size % TILE_WIDTH);
  const idx = store.db.prepare('SELECT idx FROM audit_leaves ORDER BY idx').pluck().all();
  expect(idx).toEqual(Array.from({ length: size % TILE_WIDTH }, (_, i) => open + i));
  const partial = store.db
    .prepare('SELECT COUNT(*) FROM audit_tiles WHERE level = 0 AND width < ?')
    .pluck()
    .get(TILE_WIDTH);
  expect(partial).toBe(0);
}

const digest = (data: Buffer | undefined) => data && createHash('sha256').update(data).digest('hex');
const tileKey = (t: Tile) => `${t.level}/${t.index}/${t.width}/${digest(t.data)}`;

/** The same leaf hashes through the pure `appendLeaves` into memory: what the store must serve. */
class Reference {
  edge = emptyEdge();
  readonly tiles = new MemoryTiles();
  readonly leaves: Buffer[] = [];
  private readonly range = new CompactRange();
  /** Root and tiles at every size checked so far. */
  readonly seen = new Map<number, { root: Buffer; tiles: string[] }>();

  /** Hashes the entries the store committed since the last call. */
  async catchUp(store: SqliteStore): Promise<void> {
    for (;;) {
      const entries = await store.audit.readEntries(this.edge.size, 20_000);
      if (entries.length === 0) return;
      const hashes = entries.map((e) => leafHash(e.entry));
      const { edge, tiles } = appendLeaves(this.edge, hashes);
      this.edge = edge;
      this.tiles.write(tiles);
      for (const h of hashes) {
        this.range.append(h);
        this.leaves.push(h);
      }
    }
  }

  root(): Buffer {
    return this.range.root();
  }

  /** Every tile at the current size, in the order `tilesAt` yields them. */
  currentTiles(): string[] {
    return [...this.tiles.tiles]
      .map(([k, data]) => {
        const [level, index] = k.split('/').map(Number) as [number, number];
        return { level, index, width: data.length / 32, data };
      })
      .sort((a, b) => a.level - b.level || a.index - b.index)
      .map(tileKey);
  }
}

async function tilesAt(store: SqliteStore, size: number): Promise<string[]> {
  const out: string[] = [];
  for await (const t of store.audit.tilesAt(size)) out.push(tileKey(t));
  return out;
}

/** Tree head, proofs, edge tiles and exported tiles at the committed size all match the reference. */
async function expectMatches(store: SqliteStore, ref: Reference): Promise<void> {
  await ref.catchUp(store);
  const size = ref.edge.size;
  const root = ref.root();
  expect(await store.audit.treeHead()).toEqual({ size, root });
  expectLeafRows(store, size);

  const ids = edgeTiles(size);
  const read = async (r: TileReader) => (await r.readTiles(ids)).map(digest);
  expect(await read(store.audit)).toEqual(await read(ref.tiles));
  const tiles = ref.currentTiles();
  expect(await tilesAt(store, size)).toEqual(tiles);

  const mine = new TileNodeReader(store.audit);
  const theirs = new TileNodeReader(ref.tiles);
  for (const i of new Set([0, size >> 1, size - 2, size - 1, size - 257].filter((i) => i >= 0))) {
    const proof = await inclusionProof(mine, i, size);
    expect(proof).toEqual(await inclusionProof(theirs, i, size));
    expect(verifyInclusion(i, size, ref.leaves[i]!, proof, root)).toBe(true);
  }
  for (const [m, earlier] of ref.seen) {
    if (m === 0 || m >= size) continue;
    const proof = await consistencyProof(mine, m, size);
    expect(proof).toEqual(await consistencyProof(theirs, m, size));
    expect(verifyConsistency(m, size, proof, earlier.root, root)).toBe(true);
    // Tiles as they were at an earlier size: cut off from the tiles as they are now.
    expect(await tilesAt(store, m)).toEqual(earlier.tiles);
  }
  ref.seen.set(size, { root, tiles });
}

/** One group-commit batch: writes queued in the same turn, one per entry of `writes`. */
async function batch(store: SqliteStore, writes: readonly number[]): Promise<void> {
  let n = store.audit.committed();
  await Promise.all(
    writes.map((count) => {
      const events = Array.from({ length: count }, () => event(n++));
      return store.appendEvents(events);
    }),
  );
}

describe('incomplete level-0 tile as leaf rows', () => {
  it('serves what appendLeaves computes at sizes around tile boundaries, up to 65537', async () => {
    const dir = await tempDir();
    const store = new SqliteStore({ path: join(dir, 'db.sqlite'), durability: 'os' });
    const ref = new Reference();
    const schedule: [writes: number[], size: number][] = [
      [[1], 1],
      [[100, 3, 151], 255],
      [[1], 256],
      [[1], 257],
      [[7, 247], 511],
      [[1], 512],
      [[1], 513],
      // One batch completes two level-0 tiles (767, 1023) and starts another.
      [[300, 200, 100], 1113],
      [[20_000, 20_000, 24_422], 65_535],
      [[1], 65_536],
      [[1], 65_537],
      [[255, 1, 300], 66_093],
    ];
    for (const [writes, size] of schedule) {
      await batch(store, writes);
      expect(store.audit.committed()).toBe(size);
      await expectMatches(store, ref);
    }
    await store.close();
  });

  it('serves what appendLeaves computes for any mix of batch sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 3 }), {
          minLength: 1,
          maxLength: 6,
        }),
        async (batches) => {
          const store = new SqliteStore({ path: ':memory:' });
          const ref = new Reference();
          for (const writes of batches) {
            await batch(store, writes);
            await expectMatches(store, ref);
          }
          await store.close();
        },
      ),
      { numRuns: 15 },
    );
  });

  it('keeps the leaf rows consistent when a refused write in the batch had appended events', async () => {
    // Primed so that the batch fills the open tile exactly, crosses its end, or stays inside it;
    // refused first, in the middle and last (the retry with savepoints).
    for (const primed of [253, 254, 300]) {
      for (const refusedAt of [0, 1, 2]) {
        const store = new SqliteStore({ path: ':memory:' });
        const ref = new Reference();
        await batch(store, [primed]);
        await expectMatches(store, ref);
        const append = (e: AuditEvent[]) =>
          (store as unknown as { appendSync(e: AuditEvent[]): void }).appendSync(e);
        const writes = [0, 1, 2].map((i) =>
          store.writes.run(() => {
            if (i !== refusedAt) return append([event(10 * i), event(10 * i + 1)]);
            append([event(100), event(101), event(102)]);
            throw new Error('refused');
          }),
        );
        const settled = await Promise.allSettled(writes);
        expect(settled.filter((r) => r.status === 'rejected')).toHaveLength(1);
        expect(store.audit.committed()).toBe(primed + 4);
        await expectMatches(store, ref);
        await batch(store, [1]);
        await expectMatches(store, ref);
        await store.close();
      }
    }
  });

  it('fails closed when a leaf row is missing: short tile, no proof, no open', async () => {
    const dir = await tempDir();
    const path = join(dir, 'db.sqlite');
    const store = new SqliteStore({ path });
    await batch(store, [300]);
    const before = (await store.audit.readTiles([{ level: 0, index: 1 }]))[0];
    store.db.prepare('DELETE FROM audit_leaves WHERE idx = 290').run();
    // The running store serves the open tile from the edge it computed, so its proofs stay right...
    expect((await store.audit.readTiles([{ level: 0, index: 1 }]))[0]).toEqual(before);
    await inclusionProof(new TileNodeReader(store.audit), 295, 300);
    // ...but what is read from the database stops at the gap: never a later hash shifted into place.
    await expect(tilesAt(store, 300)).rejects.toThrow('audit tile 0/1 is missing or short');
    expect((await tilesAt(store, 290)).length).toBeGreaterThan(0);
    await store.close();
    expect(() => new SqliteStore({ path })).toThrow('tile/0/001.p/44 is missing or short');
  });

  it('moves the partial level-0 tile of a database written before leaf rows into them on open', async () => {
    const dir = await tempDir();
    const path = join(dir, 'db.sqlite');
    const clock = new ManualClock();
    const signer = signerFor(clock);
    const first = new SqliteStore({ path });
    const ref = new Reference();
    await batch(first, [250, 50]);
    await expectMatches(first, ref);
    await new AuditCheckpointer(first.audit, signer, clock).checkpoint();
    await first.close();

    // The previous version's layout: no audit_leaves, the open tile as one partial row.
    const raw = new Database(path);
    const hashes = raw.prepare<[], Buffer>('SELECT hash FROM audit_leaves ORDER BY idx').pluck().all();
    expect(hashes).toHaveLength(44);
    raw
      .prepare(
        'INSERT INTO audit_tiles (level, idx, width, data) VALUES (?, ?, ?, ?) ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data',
      )
      .run(0, 1, hashes.length, Buffer.concat(hashes));
    raw.exec("DROP TABLE audit_leaves; DELETE FROM schema_migrations WHERE name = '0301-audit-leaves'");
    raw.close();

    const store = new SqliteStore({ path });
    expectLeafRows(store, 300);
    await expectMatches(store, ref);
    const out = join(dir, 'bundle');
    await exportBundle(store.audit, signer.verifierKey, out);
    expect(await verifyBundle(out, { key: signer.verifierKey })).toMatchObject({ ok: true, entries: 300 });

    // It carries on: past the end of the converted tile and the next one.
    await batch(store, [100, 200]);
    await expectMatches(store, ref);
    clock.advance(1000);
    await new AuditCheckpointer(store.audit, signer, clock).checkpoint();
    await exportBundle(store.audit, signer.verifierKey, out);
    expect(await verifyBundle(out, { key: signer.verifierKey })).toMatchObject({
      ok: true,
      entries: 600,
      checkpoints: 2,
    });
    await store.close();
  });

  it('writes a few small pages for a one-event batch, not the whole open tile', async () => {
    const dir = await tempDir();
    const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    await batch(store, [200]);
    for (let k = 0; k < 3; k++) {
      expect(store.db.pragma('wal_checkpoint(TRUNCATE)', { simple: true })).toBe(0);
      await batch(store, [1]);
      const [{ log }] = store.db.pragma('wal_checkpoint(PASSIVE)') as [{ log: number }];
      // The events leaf page, audit_tree and the audit_leaves leaf page. Rewriting the open tile
      // (200 hashes: a leaf page and two overflow pages) made it 7.
      expect(log).toBe(3);
    }
    await store.close();
  });
});
