import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStoreContract } from '../store.case.js';
import { SqliteStore } from './index.js';
import { migrations } from './schema.js';

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
