import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { iamAction, startGateway, writeConfig } from './support/gateway.js';
import { serve } from './support/process.js';

const shortTtl = `
version: 1
approval: { approvers: { groups: [sre], count: 1 }, ttl: 1s, validity: 1m }
rules: []
`;

describe('expiry', () => {
  it('expires a pending request once its TTL passes, and refuses votes that come after', async () => {
    const clock = new ManualClock(Date.now());
    const t = await startGateway({ policy: shortTtl, clock });
    const { body: req } = await t.call('POST', '/v1/actions', t.agent, iamAction);
    expect(await t.gw.service.expireDue()).toBe(0);
    clock.advance(1000);
    const late = await t.call('POST', `/v1/actions/${req.id}/reviews`, t.reviewers.alice, {
      vote: 'approve',
    });
    expect(late.status).toBe(409);
    expect(late.body.requestStatus).toBe('expired');
    expect((await t.call('GET', `/v1/actions/${req.id}`, t.agent)).body.status).toBe('expired');
    const kinds = (await t.call('GET', `/v1/actions/${req.id}/events`, t.agent)).body.items.map(
      (e: any) => e.kind,
    );
    expect(kinds).toEqual(['request.submitted', 'request.expired']);
    await t.close();
  });

  it('expires what came due while the gateway was down, on the next start (same store, new process state)', async () => {
    const clock = new ManualClock(Date.now());
    const first = await startGateway({ policy: shortTtl, clock });
    const { body: req } = await first.call('POST', '/v1/actions', first.agent, iamAction);
    await first.close();
    clock.advance(60_000);
    const second = await startGateway({ configFile: first.configFile, clock });
    // Either the sweeper that starts with the gateway or this call expires it; exactly once.
    await second.gw.service.expireDue();
    expect((await second.gw.service.get(req.id)).request.status).toBe('expired');
    const expired = (await second.gw.service.trail(req.id)).filter((e) => e.kind === 'request.expired');
    expect(expired).toHaveLength(1);
    await second.close();
  });

  it('wakes a long-polling agent when its request expires', async () => {
    const clock = new ManualClock(Date.now());
    const t = await startGateway({ policy: shortTtl, clock });
    const { body: req } = await t.call('POST', '/v1/actions', t.agent, iamAction);
    const waiting = t.call('GET', `/v1/actions/${req.id}/decision?wait=30`, t.agent);
    clock.advance(2000);
    await t.gw.service.expireDue();
    expect((await waiting).body.status).toBe('expired');
    await t.close();
  });
});

describe('expiry across a real process restart', () => {
  it('keeps the deadline in the store and expires the request after the process is killed and restarted', async () => {
    const { configFile } = writeConfig(shortTtl, 'expiry: { sweepInterval: 100ms }');
    const first = await startGateway({ configFile });
    const agent = first.agent;
    await first.close();

    const a = await serve(configFile);
    const submitted = await fetch(`${a.url}/v1/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
      body: JSON.stringify(iamAction),
    }).then((r) => r.json() as Promise<any>);
    expect(submitted.status).toBe('pending');
    a.proc.kill('SIGKILL');
    await once(a.proc, 'exit');

    const b = await serve(configFile);
    try {
      // The decision endpoint returns as soon as the request leaves pending; the TTL is 1 s.
      const decided = await fetch(`${b.url}/v1/actions/${submitted.id}/decision?wait=20`, {
        headers: { authorization: `Bearer ${agent}` },
      }).then((r) => r.json() as Promise<any>);
      expect(decided.status).toBe('expired');
    } finally {
      b.proc.kill('SIGTERM');
      await once(b.proc, 'exit');
    }
  });
});
