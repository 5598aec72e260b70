import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { agent, pendingRequest, reviewer, serviceWithoutPolicy } from '../../test/support/fixtures.js';
import { SqliteStore } from '../store/sqlite/index.js';
import type { RequestSnapshot } from '../store/store.js';
import type { Service } from './service.js';

const alice = reviewer('alice', ['sre']);

/** One pending request as the property draws it: whom it asks, and whether alice may vote. */
const drawn = fc.record({ group: fc.constantFrom('sre', 'dba'), self: fc.boolean(), due: fc.boolean() });
type Drawn = { group: string; self: boolean; due: boolean };

async function withQueue(queue: Drawn[], body: (service: Service, eligible: string[]) => Promise<void>) {
  const store = new SqliteStore({ path: ':memory:' });
  try {
    const eligible: string[] = [];
    for (const [i, d] of queue.entries()) {
      const id = `req_${String(i).padStart(4, '0')}`;
      const requester = d.self ? { ...agent, principal: alice.email } : agent;
      const request = pendingRequest(
        { anyOf: [{ groups: [d.group], count: 1 }], denyThreshold: 1 },
        { id, requester, expiresAt: d.due ? 500 : 1e12 },
      );
      await store.createRequest(request, []);
      if (d.group === 'sre' && !d.self && !d.due) eligible.push(id);
    }
    await body(serviceWithoutPolicy(store), eligible.reverse());
  } finally {
    await store.close();
  }
}

/** Follows `next` from the first page to the last; every page it read, in order. */
async function allPages(service: Service, limit: number, scanMax: number) {
  const pages: RequestSnapshot[][] = [];
  let before: string | undefined;
  for (;;) {
    const page = await service.pendingFor(alice, { limit, before, scanMax });
    pages.push(page.items);
    if (page.next === null) return pages;
    // The cursor only moves back in time, so following it always ends.
    if (before !== undefined) expect(page.next < before).toBe(true);
    before = page.next;
  }
}

describe('Service.pendingFor', () => {
  it('pages through exactly the requests a reviewer may vote on, newest first, each once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(drawn, { maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 15 }),
        (queue, limit, scanMax) =>
          withQueue(queue, async (service, eligible) => {
            const pages = await allPages(service, limit, scanMax);
            for (const page of pages) expect(page.length).toBeLessThanOrEqual(limit);
            expect(pages.flat().map((s) => s.request.id)).toEqual(eligible);
          }),
      ),
      { numRuns: 60 },
    );
  });

  it('fills pages and ends on the last one when the scan bound is not reached', async () => {
    const queue = Array.from({ length: 5 }, () => ({ group: 'sre', self: false, due: false }));
    await withQueue(queue, async (service, eligible) => {
      const first = await service.pendingFor(alice, { limit: 2 });
      expect(first.items.map((s) => s.request.id)).toEqual(eligible.slice(0, 2));
      expect(first.next).toBe(eligible[1]);
      // A last page that happens to be full says so: no empty page after it.
      const last = await service.pendingFor(alice, { limit: 5 });
      expect(last.items).toHaveLength(5);
      expect(last.next).toBeNull();
    });
  });

  it('stops at the scan bound with a short page and a cursor to go on from', async () => {
    const queue = [
      ...Array.from({ length: 6 }, () => ({ group: 'sre', self: false, due: false })),
      ...Array.from({ length: 6 }, () => ({ group: 'dba', self: false, due: false })),
    ];
    await withQueue(queue, async (service, eligible) => {
      // The six newest are not alice's to review: a bound of four reads none she may vote on.
      const page = await service.pendingFor(alice, { limit: 3, scanMax: 4 });
      expect(page.items).toEqual([]);
      expect(page.next).toBe('req_0008');
      const after = await service.pendingFor(alice, { limit: 3, scanMax: 4, before: 'req_0008' });
      expect(after.items.map((s) => s.request.id)).toEqual(eligible.slice(0, 2));
    });
  });
});
