import { describe, expect, it } from 'vitest';
import { iamAction, startGateway } from './support/gateway.js';

describe('fail closed', () => {
  it('allows nothing when the store cannot commit (503, no request exists)', async () => {
    const t = await startGateway();
    t.gw.store.writes.hooks.push(() => {
      throw new Error('SQLITE_FULL: database or disk is full');
    });
    const r = await t.call('POST', '/v1/actions', t.agent, {
      type: 's3.read',
      resource: 'r',
      justification: 'j',
    });
    expect(r.status).toBe(503);
    expect(r.body.code).toBe('CS_ERR_UNAVAILABLE');
    expect(JSON.stringify(r.body)).not.toContain('SQLITE_FULL');
    t.gw.store.writes.hooks.length = 0;
    expect(await t.gw.store.listRequests({ limit: 100 })).toHaveLength(0);
    await t.close();
  });

  it('does not approve when the store cannot record the deciding vote', async () => {
    const t = await startGateway();
    const { body: req } = await t.call('POST', '/v1/actions', t.agent, {
      type: 'deploy.api',
      resource: 'prod/api',
      justification: 'j',
    });
    t.gw.store.writes.hooks.push(() => {
      throw new Error('disk I/O error');
    });
    expect(
      (await t.call('POST', `/v1/actions/${req.id}/reviews`, t.reviewers.alice, { vote: 'approve' })).status,
    ).toBe(503);
    t.gw.store.writes.hooks.length = 0;
    expect((await t.call('GET', `/v1/actions/${req.id}`, t.agent)).body).toMatchObject({
      status: 'pending',
      reviews: [],
    });
    await t.close();
  });

  it('allows nothing when the policy cannot be evaluated', async () => {
    const t = await startGateway();
    const policy = t.gw.policy();
    const original = policy.evaluate;
    (policy as { evaluate: typeof original }).evaluate = () => {
      throw new Error('matcher blew up');
    };
    const r = await t.call('POST', '/v1/actions', t.agent, iamAction);
    expect(r.status).toBe(500);
    expect(r.body.code).toBe('CS_ERR_POLICY');
    (policy as { evaluate: typeof original }).evaluate = original;
    expect(await t.gw.store.listRequests({ limit: 100 })).toHaveLength(0);
    await t.close();
  });

  it('reports not ready while store writes fail or hang, though reads still work', async () => {
    const t = await startGateway();
    expect((await t.call('GET', '/readyz')).status).toBe(200);
    t.gw.store.writes.hooks.push(() => {
      throw new Error('disk I/O error');
    });
    expect((await t.call('GET', '/readyz')).status).toBe(503);
    t.gw.store.writes.hooks.length = 0;
    expect((await t.call('GET', '/readyz')).status).toBe(200);
    // A flush that never returns (the session 5 Flusher bug): commits go through, nothing is durable.
    const wal = (t.gw.store as unknown as { wal: { sync(): Promise<void> } }).wal;
    const sync = wal.sync;
    wal.sync = () => new Promise(() => {});
    const r = await t.call('GET', '/readyz');
    expect(r.status).toBe(503);
    expect(r.body.status).toBe('unavailable');
    wal.sync = sync;
    expect((await t.call('GET', '/readyz')).status).toBe(200);
    await t.close();
  });

  it('reports not ready when the store is gone', async () => {
    const t = await startGateway();
    expect((await t.call('GET', '/readyz')).status).toBe(200);
    t.gw.store.db.close();
    expect((await t.call('GET', '/readyz')).status).toBe(503);
    const r = await t.call('POST', '/v1/actions', t.agent, iamAction);
    expect(r.status).toBeGreaterThanOrEqual(500);
    await t.gw.app.close();
  });
});
