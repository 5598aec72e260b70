import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { TileNodeReader } from '../../audit/tiles.js';
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

    // Reopened, it carries on from the stored tiles.
    const again = new SqliteStore({ path: join(dir, 'db.sqlite') });
    await again.appendEvents([event(700)]);
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
