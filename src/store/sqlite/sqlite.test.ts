import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { pendingRequest } from '../../../test/support/fixtures.js';
import type { AuditEvent } from '../../core/event.js';
import type { ActionRequest, RequestStatus } from '../../core/request.js';
import { runStoreContract } from '../store.case.js';
import { SqliteStore } from './index.js';
import { migrations } from './schema.js';
import { WriteQueue } from './write-queue.js';

const ev = (kind: AuditEvent['kind']): AuditEvent => ({
  kind,
  at: Date.UTC(2026, 0, 1),
  requestId: 'd1',
  subject: { type: 'operator', id: 'test' },
  details: {},
});

/** A stored request in any status (the approval requirement is only there to make it whole). */
const request = (id: string, status: RequestStatus): ActionRequest =>
  pendingRequest({ anyOf: [{ groups: ['sre'], count: 1 }], denyThreshold: 1 }, { id, status });

const files = new WeakMap<SqliteStore, string>();
function fresh(): SqliteStore {
  const path = join(mkdtempSync(join(tmpdir(), 'cs-store-')), 'test.db');
  const s = new SqliteStore({ path });
  files.set(s, path);
  return s;
}

runStoreContract(
  'sqlite',
  async () => fresh(),
  async (s) => {
    const path = files.get(s as SqliteStore) as string;
    await s.close();
    return new SqliteStore({ path });
  },
);

describe('sqlite specifics', () => {
  it('fails every write of a batch closed when the commit fails', async () => {
    const s = fresh();
    // A hook that throws makes the batch transaction fail after the writes ran.
    s.writes.hooks.push(() => {
      throw new Error('disk full');
    });
    const { pendingRequest } = await import('../../../test/support/fixtures.js');
    const req = pendingRequest({ anyOf: [{ groups: ['sre'], count: 1 }], denyThreshold: 1 });
    await expect(s.createRequest(req, [])).rejects.toMatchObject({ code: 'CS_ERR_UNAVAILABLE' });
    s.writes.hooks.length = 0;
    expect(await s.getRequest(req.id)).toBeUndefined();
    await s.close();
  });

  it('answers a deferred write once committed, and flushes it with the next durable write or on its own', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER)');
    let flushes = 0;
    let release: () => void = () => {};
    const q = new WriteQueue(db, () => {
      flushes++;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    const insert = (v: number) => () => db.prepare('INSERT INTO t (v) VALUES (?)').run(v);
    // Resolves although the flush it would need is held back: it does not wait for the disk.
    await q.run(insert(1), { deferDurability: true });
    expect(flushes).toBe(0);
    // A durable write flushes once, covering the deferred one, and waits for that flush.
    let durable = false;
    const written = q.run(insert(2)).then(() => {
      durable = true;
    });
    await vi.waitFor(() => expect(flushes).toBe(1));
    expect(durable).toBe(false);
    release();
    await written;
    // Alone, a deferred write is flushed without any other write coming along.
    await q.run(insert(3), { deferDurability: true });
    expect(flushes).toBe(1);
    await vi.waitFor(() => expect(flushes).toBe(2));
    release();
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 3 });
  });

  it('offers a deferred write for signing only once a flush covers it', async () => {
    const s = fresh();
    const { pendingRequest } = await import('../../../test/support/fixtures.js');
    const req = pendingRequest({ anyOf: [{ groups: ['sre'], count: 1 }], denyThreshold: 1 }, { id: 'd1' });
    await s.createRequest(req, [ev('request.submitted')]);
    const before = (await s.audit.treeHead()).size;
    let sync!: () => void;
    const held = new Promise<void>((resolve) => {
      sync = resolve;
    });
    // Hold the flush back: the deferred write is committed (and readable) but not yet durable.
    const wal = (s as unknown as { wal: { sync(): Promise<void> } }).wal;
    const real = wal.sync.bind(wal);
    wal.sync = () => held.then(real);
    await s.mutate(
      'd1',
      () => ({ mutation: { request: req, events: [ev('request.cancelled')] }, value: 1 }),
      {
        deferDurability: true,
      },
    );
    expect((await s.eventsForRequest('d1')).length).toBe(2);
    expect((await s.audit.treeHead()).size).toBe(before);
    sync();
    await vi.waitFor(async () => expect((await s.audit.treeHead()).size).toBe(before + 1));
    await s.close();
  });

  it('commits the good writes of a batch in which one write is refused', async () => {
    const s = fresh();
    const { pendingRequest } = await import('../../../test/support/fixtures.js');
    const req = (id: string) =>
      pendingRequest({ anyOf: [{ groups: ['sre'], count: 1 }], denyThreshold: 1 }, { id });
    await s.createRequest(req('taken'), []);
    // Queued in one turn of the event loop, so they share one batch.
    const results = await Promise.allSettled([
      s.createRequest(req('a'), []),
      s.createRequest(req('taken'), []),
      s.createRequest(req('b'), []),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await s.listRequests({ limit: 10 })).map((r) => r.id).sort()).toEqual(['a', 'b', 'taken']);
    await s.close();
  });

  it('sees a credential revoked by another process at once, though it caches credentials', async () => {
    const s = fresh();
    const credential = {
      id: 'csk_cached',
      kind: 'agent_key' as const,
      name: 'bot',
      owner: 'dana@example.com',
      secretHash: 'h'.repeat(64),
      createdAt: 1,
      expiresAt: null,
      revokedAt: null,
      allowedTypes: ['db.*'],
      labels: {},
    };
    await s.createCredential(credential, [ev('actor.created')]);
    const first = await s.findCredential('csk_cached');
    expect(first?.revokedAt).toBeNull();
    // A cached credential is shared: nobody may change it for the next caller.
    expect(() => {
      (first as { revokedAt: number | null }).revokedAt = 5;
    }).toThrow(TypeError);
    expect(() => first?.allowedTypes?.push('*')).toThrow(TypeError);

    // Another connection to the same file, as the CLI is: the revocation never passes through s.
    const cli = new Database(files.get(s) as string);
    cli.prepare('UPDATE credentials SET revoked_at = 7 WHERE id = ?').run('csk_cached');
    cli.close();
    expect((await s.findCredential('csk_cached'))?.revokedAt).toBe(7);

    // And its own revocation, once committed.
    await s.createCredential({ ...credential, id: 'csk_two' }, [ev('actor.created')]);
    expect((await s.findCredential('csk_two'))?.revokedAt).toBeNull();
    await s.revokeCredential('csk_two', 9, [ev('actor.revoked')]);
    expect((await s.findCredential('csk_two'))?.revokedAt).toBe(9);
    await s.close();
  });

  it('starts the WAL over under writes that never pause, instead of letting it grow', async () => {
    // Without help from the writer's thread, a checkpoint never copies every frame while commits
    // keep coming, and SQLite cannot start the WAL over: it grows by everything written.
    const path = join(mkdtempSync(join(tmpdir(), 'cs-store-')), 'test.db');
    const s = new SqliteStore({ path, checkpoint: { intervalMs: 10, longFrames: 64 } });
    const big = (i: number): AuditEvent => ({
      ...ev('request.submitted'),
      details: { i, pad: 'x'.repeat(6000) },
    });
    let largest = 0;
    let written = 0;
    const deadline = Date.now() + 1500;
    await Promise.all(
      Array.from({ length: 32 }, async (_, w) => {
        for (let i = 0; Date.now() < deadline; i++) {
          await s.appendEvents([big(w * 1_000_000 + i)]);
          written += 6000;
          largest = Math.max(largest, statSync(`${path}-wal`).size);
        }
      }),
    );
    await s.close();
    // Each entry is about two pages of frames; a WAL that grew with the writes would reach at
    // least the bytes of the entries themselves.
    expect(written).toBeGreaterThan(4 * 1024 * 1024);
    expect(largest).toBeLessThan(written / 4);
  });

  it('writes no page of the status index when an allowed call is executed, and does for a failed one', async () => {
    const s = fresh();
    const path = files.get(s) as string;
    for (let i = 0; i < 20; i++) await s.createRequest(request(`p${i}`, 'pending'), []);
    const indexPages = () =>
      new Set(
        (
          s.db.prepare("SELECT pageno FROM dbstat WHERE name = 'requests_review'").all() as {
            pageno: number;
          }[]
        ).map((r) => r.pageno),
      );
    /** Pages written to the WAL by `change`, which starts from an empty WAL. */
    const pagesWrittenBy = async (change: () => Promise<void>) => {
      expect(s.db.pragma('wal_checkpoint(TRUNCATE)', { simple: true })).toBe(0);
      await change();
      const wal = readFileSync(`${path}-wal`);
      const pageSize = wal.readUInt32BE(8);
      const pages: number[] = [];
      for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize)
        pages.push(wal.readUInt32BE(at));
      return pages;
    };
    const run = (id: string, outcome: 'executed' | 'failed') => async () => {
      const created = request(id, 'allowed');
      await s.createRequest(created, []);
      const next = { ...created, status: outcome, version: created.version + 1 };
      await s.mutate(id, () => ({ mutation: { request: next, events: [] }, value: null }));
    };
    const executed = await pagesWrittenBy(run('x1', 'executed'));
    expect(executed.length).toBeGreaterThan(0);
    const indexAfterExecuted = indexPages();
    expect(executed.filter((p) => indexAfterExecuted.has(p))).toEqual([]);
    // The same reading sees the index written when a request enters it.
    const failed = await pagesWrittenBy(run('x2', 'failed'));
    const indexAfterFailed = indexPages();
    expect(failed.filter((p) => indexAfterFailed.has(p)).length).toBeGreaterThan(0);
    await s.close();
  });

  it('serves the reviewers queue and other statuses it holds from the status index', async () => {
    const s = fresh();
    const prepare = vi.spyOn(s.db, 'prepare');
    const planOf = async (status: RequestStatus[]) => {
      await s.listRequests({ status, limit: 10 });
      const sql = prepare.mock.calls.at(-1)?.[0] as string;
      const plan = s.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...status, 10) as { detail: string }[];
      return plan.map((r) => r.detail).join(' | ');
    };
    expect(await planOf(['pending'])).toContain('USING INDEX requests_review');
    expect(await planOf(['denied', 'failed'])).toContain('USING INDEX requests_review');
    // Statuses left out of the index are found by walking the requests newest first.
    expect(await planOf(['executed'])).not.toContain('requests_review');
    prepare.mockRestore();
    await s.close();
  });

  it('replaces the full status index of an existing database and still finds every request', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'cs-store-')), 'old.db');
    const old = new Database(path);
    old.exec('CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const first = migrations.find((m) => m.name.startsWith('0001-')) as { name: string; sql: string };
    old.exec(first.sql);
    old.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, 0)').run(first.name);
    const statuses: RequestStatus[] = ['pending', 'allowed', 'executed', 'failed', 'denied'];
    for (const [i, status] of statuses.entries()) {
      const r = request(`o${i}`, status);
      old
        .prepare(
          'INSERT INTO requests (id, status, actor_id, expires_at, created_at, version, body) VALUES (?, ?, ?, NULL, 0, 1, ?)',
        )
        .run(r.id, status, r.requester.id, JSON.stringify(r));
    }
    old.close();
    const s = new SqliteStore({ path });
    const indexes = (
      s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'requests'").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
    expect(indexes).toContain('requests_review');
    expect(indexes).not.toContain('requests_status');
    for (const [i, status] of statuses.entries())
      expect((await s.listRequests({ status: [status], limit: 10 })).map((r) => r.id)).toEqual([`o${i}`]);
    await s.close();
  });

  it('records migrations by name and does not run them twice', async () => {
    const s = fresh();
    const path = files.get(s) as string;
    await s.close();
    const again = new SqliteStore({ path });
    const names = again.db.prepare('SELECT name FROM schema_migrations').all() as Array<{ name: string }>;
    expect(names.map((n) => n.name).sort()).toEqual(migrations.map((m) => m.name).sort());
    await again.close();
  });
});
