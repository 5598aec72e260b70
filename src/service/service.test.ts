import { afterEach, describe, expect, it, vi } from 'vitest';
import { agent, pendingRequest, serviceWithoutPolicy } from '../../test/support/fixtures.js';
import { ManualClock } from '../core/clock.js';
import type { ActionRequest } from '../core/request.js';
import { SqliteStore } from '../store/sqlite/index.js';
import type { Store } from '../store/store.js';
import { InProcessNotifier } from './notifier.js';
import { Service } from './service.js';

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

afterEach(() => {
  vi.useRealTimers();
});

describe('Service.waitForDecision', () => {
  it('does not miss a decision published while it re-reads the request (a store with slow reads)', async () => {
    // Only the waiting timer is faked and never advanced: a missed wake-up would wait 60 s.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const clock = new ManualClock(0);
    const state: { request: ActionRequest } = {
      request: pendingRequest({ anyOf: [{ groups: ['sre'], count: 1 }], denyThreshold: 1 }, { id: 'w1' }),
    };
    // A read that takes its snapshot at once and answers later, as over a network.
    let gate: Promise<void> | null = null;
    const store = {
      async getRequest() {
        const snap = { request: { ...state.request }, reviews: [] };
        if (gate) await gate;
        return snap;
      },
      async dueRequests() {
        return [];
      },
    } as unknown as Store;
    const notifier = new InProcessNotifier();
    const service = new Service({
      store,
      clock,
      notifier,
      policy: () => {
        throw new Error('not used');
      },
    });

    let result: ActionRequest | undefined;
    void service.waitForDecision('w1', { actor: agent }, 60_000).then((r) => {
      result = r;
    });
    await turns();
    // A wake-up that decides nothing (a first vote of two); the re-read it causes is held up…
    let open!: () => void;
    gate = new Promise((resolve) => {
      open = resolve;
    });
    notifier.publish('w1');
    await turns();
    // …and the deciding change is committed and published while that read is in flight.
    state.request = { ...state.request, status: 'approved', decidedAt: 1, version: 2 };
    notifier.publish('w1');
    gate = null;
    open();
    await turns();
    expect(result?.status).toBe('approved');
  });
});

describe('Service.submit', () => {
  const service = new Service({
    store: {} as Store,
    clock: new ManualClock(0),
    notifier: new InProcessNotifier(),
    policy: () => {
      throw new Error('not used');
    },
  });
  const input = { type: 'secrets.rotate', resource: 'prod/a', justification: 'j', params: {} };

  it('names the kind of credential and its allowed types when refusing an action type', async () => {
    await expect(service.submit(agent, input, ['deploy.*'])).rejects.toThrow(
      'this agent key may not submit actions of type secrets.rotate (allowed: deploy.*)',
    );
    await expect(service.submit({ ...agent, via: 'jwt' }, input, ['deploy.*', 'db.migrate'])).rejects.toThrow(
      'tokens of this issuer may not submit actions of type secrets.rotate (allowed: deploy.*, db.migrate)',
    );
  });
});

describe('Service.recordResult with the request the caller holds', () => {
  const allowed = (id: string) =>
    pendingRequest(
      { anyOf: [], denyThreshold: 1 },
      {
        id,
        status: 'allowed',
        expiresAt: null,
        policy: { version: 'v', rule: 'r', reason: 't', decision: 'allow' },
      },
    );
  const result = { outcome: 'succeeded' as const, detail: 'ok', hash: 'a'.repeat(64) };

  async function withService(body: (service: Service, store: SqliteStore) => Promise<void>) {
    const store = new SqliteStore({ path: ':memory:' });
    try {
      await body(serviceWithoutPolicy(store), store);
    } finally {
      await store.close();
    }
  }

  it('records a result once: the same known request cannot record a second one', async () => {
    await withService(async (service, store) => {
      const request = allowed('req_k1');
      await store.createRequest(request, []);
      expect((await service.recordResult(request.id, agent, result, { known: request })).status).toBe(
        'executed',
      );
      await expect(service.recordResult(request.id, agent, result, { known: request })).rejects.toMatchObject(
        {
          code: 'CS_ERR_RESULT_RECORDED',
        },
      );
      expect((await store.eventsForRequest(request.id)).map((e) => e.kind)).toEqual(['request.executed']);
    });
  });

  it('holds the known request to the same rules: the requester only, and the decided hash only', async () => {
    await withService(async (service, store) => {
      const request = allowed('req_k2');
      await store.createRequest(request, []);
      const other = { ...agent, id: 'act_other' };
      await expect(service.recordResult(request.id, other, result, { known: request })).rejects.toMatchObject(
        {
          code: 'CS_ERR_NOT_FOUND',
        },
      );
      await expect(
        service.recordResult(request.id, agent, { ...result, hash: 'b'.repeat(64) }, { known: request }),
      ).rejects.toMatchObject({ code: 'CS_ERR_HASH_MISMATCH' });
      expect((await store.getRequest(request.id))?.request).toMatchObject({ status: 'allowed', version: 1 });
      expect(await store.eventsForRequest(request.id)).toEqual([]);
    });
  });

  it('takes no shortcut for a request that may have reviews: a known approved request is read back', async () => {
    await withService(async (service, store) => {
      const request = { ...allowed('req_k3'), status: 'approved' as const, validUntil: 60_000 };
      await store.createRequest(request, []);
      const mutate = vi.spyOn(store, 'mutate');
      await service.recordResult(request.id, agent, result, { known: request });
      expect(mutate.mock.calls[0]?.[2]).not.toHaveProperty('known');
      const fresh = allowed('req_k4');
      await store.createRequest(fresh, []);
      await service.recordResult(fresh.id, agent, result, { known: fresh });
      expect(mutate.mock.calls[1]?.[2]).toMatchObject({ known: { request: fresh, reviews: [] } });
    });
  });
});
