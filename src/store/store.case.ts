import { describe, expect, it } from 'vitest';
import { pendingRequest } from '../../test/support/fixtures.js';
import { CountersignError } from '../core/errors.js';
import type { AuditEvent } from '../core/event.js';
import * as lifecycle from '../core/lifecycle.js';
import type { ActionRequest, Review } from '../core/request.js';
import type { Store } from './store.js';

/**
 * The contract every Store implementation passes (SQLite now, PostgreSQL next).
 * `open` returns a fresh, empty store; `reopen` (when given) opens the same data again.
 */
export function runStoreContract(
  name: string,
  open: () => Promise<Store>,
  reopen?: (s: Store) => Promise<Store>,
): void {
  const ev = (requestId: string | null, kind: AuditEvent['kind'] = 'request.submitted'): AuditEvent => ({
    kind,
    at: 1,
    requestId,
    subject: { type: 'system', id: 't' },
    details: { n: 1 },
  });
  const req = (id: string, over: Partial<ActionRequest> = {}) =>
    pendingRequest({ anyOf: [{ groups: ['sre'], count: 1 }], denyThreshold: 1 }, { id, ...over });
  const review = (requestId: string, reviewerId: string): Review => ({
    requestId,
    reviewerId,
    reviewerEmail: `${reviewerId}@e`,
    reviewerName: reviewerId,
    groups: ['sre'],
    vote: 'approve',
    comment: '',
    via: 't',
    at: 2,
  });

  describe(`Store contract: ${name}`, () => {
    it('creates and reads a request with its events', async () => {
      const s = await open();
      await s.createRequest(req('r1'), [ev('r1')]);
      const snap = await s.getRequest('r1');
      expect(snap?.request.id).toBe('r1');
      expect(snap?.reviews).toEqual([]);
      const events = await s.eventsForRequest('r1');
      expect(events.map((e) => e.kind)).toEqual(['request.submitted']);
      expect(JSON.parse(events[0]?.entry ?? '')).toMatchObject({
        kind: 'request.submitted',
        requestId: 'r1',
      });
      expect(await s.getRequest('nope')).toBeUndefined();
      await s.close();
    });

    it('probes the write path without changing anything', async () => {
      const s = await open();
      await s.createRequest(req('p1'), [ev('p1')]);
      await s.probeWrite();
      expect(await s.readEvents(0, 10)).toHaveLength(1);
      expect((await s.listRequests({ limit: 10 })).map((r) => r.id)).toEqual(['p1']);
      await s.close();
    });

    it('refuses a duplicate id and writes none of its events', async () => {
      const s = await open();
      await s.createRequest(req('dup'), [ev('dup')]);
      await expect(s.createRequest(req('dup'), [ev('dup'), ev('dup')])).rejects.toThrow();
      expect(await s.eventsForRequest('dup')).toHaveLength(1);
      await s.close();
    });

    it('numbers events 0, 1, 2… with no gaps across batches', async () => {
      const s = await open();
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          s.createRequest(req(`n${i}`), [ev(`n${i}`), ev(`n${i}`, 'review.cast')]),
        ),
      );
      await s.appendEvents([ev(null, 'policy.loaded')]);
      const all = await s.readEvents(0, 1000);
      expect(all.map((e) => e.index)).toEqual(Array.from({ length: 61 }, (_, i) => i));
      await s.close();
    });

    it('writes a mutation with its review and events atomically', async () => {
      const s = await open();
      await s.createRequest(req('m1'), [ev('m1')]);
      const out = await s.mutate('m1', ({ request }) => {
        const next = lifecycle.approve(request, 5);
        return {
          mutation: { request: next, review: review('m1', 'alice'), events: [ev('m1', 'request.approved')] },
          value: next.status,
        };
      });
      expect(out).toBe('approved');
      const snap = await s.getRequest('m1');
      expect(snap?.request.status).toBe('approved');
      expect(snap?.request.version).toBe(2);
      expect(snap?.reviews.map((r) => r.reviewerId)).toEqual(['alice']);
      expect((await s.eventsForRequest('m1')).map((e) => e.kind)).toEqual([
        'request.submitted',
        'request.approved',
      ]);
      await s.close();
    });

    it('writes nothing when decide throws', async () => {
      const s = await open();
      await s.createRequest(req('t1'), [ev('t1')]);
      await expect(
        s.mutate('t1', () => {
          throw new CountersignError('CS_ERR_NOT_PENDING');
        }),
      ).rejects.toMatchObject({ code: 'CS_ERR_NOT_PENDING' });
      expect((await s.getRequest('t1'))?.request.version).toBe(1);
      expect(await s.eventsForRequest('t1')).toHaveLength(1);
      await s.close();
    });

    it('commits the mutation, then throws the error a decision carries', async () => {
      const s = await open();
      await s.createRequest(req('e1', { expiresAt: 10 }), [ev('e1')]);
      await expect(
        s.mutate('e1', ({ request }) => ({
          mutation: { request: lifecycle.expire(request, 11), events: [ev('e1', 'request.expired')] },
          error: new CountersignError('CS_ERR_NOT_PENDING', 'expired'),
        })),
      ).rejects.toMatchObject({ code: 'CS_ERR_NOT_PENDING' });
      expect((await s.getRequest('e1'))?.request.status).toBe('expired');
      await s.close();
    });

    it('writes events alone, leaving the request as it was (a refused vote on record)', async () => {
      const s = await open();
      await s.createRequest(req('r1'), [ev('r1')]);
      const before = await s.getRequest('r1');
      await expect(
        s.mutate('r1', () => ({
          mutation: { events: [ev('r1', 'review.refused')] },
          error: new CountersignError('CS_ERR_SELF_APPROVAL', 'own request'),
        })),
      ).rejects.toMatchObject({ code: 'CS_ERR_SELF_APPROVAL' });
      expect(await s.getRequest('r1')).toEqual(before);
      expect((await s.eventsForRequest('r1')).map((e) => e.kind)).toEqual([
        'request.submitted',
        'review.refused',
      ]);
      await s.close();
    });

    it('lets exactly one of many racing transitions win', async () => {
      const s = await open();
      await s.createRequest(req('race'), [ev('race')]);
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          s.mutate('race', ({ request }) => {
            const next = lifecycle.approve(request, i);
            return {
              mutation: {
                request: next,
                review: review('race', `r${i}`),
                events: [ev('race', 'request.approved')],
              },
              value: i,
            };
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const snap = await s.getRequest('race');
      expect(snap?.reviews).toHaveLength(1);
      expect((await s.eventsForRequest('race')).filter((e) => e.kind === 'request.approved')).toHaveLength(1);
      await s.close();
    });

    it('finds pending requests past their deadline, and the next deadline', async () => {
      const s = await open();
      await s.createRequest(req('d1', { expiresAt: 100 }), []);
      await s.createRequest(req('d2', { expiresAt: 200 }), []);
      await s.createRequest(req('d3', { status: 'approved', expiresAt: null }), []);
      expect(await s.dueRequests(150, 10)).toEqual(['d1']);
      expect(await s.nextDeadline()).toBe(100);
      await s.close();
    });

    it('lists newest first with filters and pagination', async () => {
      const s = await open();
      for (const id of ['a1', 'a2', 'a3']) await s.createRequest(req(id), []);
      await s.createRequest(
        req('a4', {
          status: 'allowed',
          requester: { id: 'other', name: 'o', principal: null, via: 'api_key' },
        }),
        [],
      );
      expect((await s.listRequests({ limit: 10 })).map((r) => r.id)).toEqual(['a4', 'a3', 'a2', 'a1']);
      expect((await s.listRequests({ limit: 10, status: ['pending'] })).map((r) => r.id)).toEqual([
        'a3',
        'a2',
        'a1',
      ]);
      expect((await s.listRequests({ limit: 10, actorId: 'other' })).map((r) => r.id)).toEqual(['a4']);
      expect((await s.listRequests({ limit: 2, before: 'a3' })).map((r) => r.id)).toEqual(['a2', 'a1']);
      await s.close();
    });

    it('stores credentials and revokes them once', async () => {
      const s = await open();
      const c = {
        id: 'csk_x',
        kind: 'agent_key' as const,
        name: 'bot',
        owner: 'dana@example.com',
        secretHash: 'ab'.repeat(32),
        createdAt: 1,
        expiresAt: null,
        revokedAt: null,
        allowedTypes: ['deploy.*'],
        labels: { team: 'infra' },
      };
      await s.createCredential(c, [ev(null, 'actor.created')]);
      expect(await s.findCredential('csk_x')).toEqual(c);
      expect(await s.revokeCredential('csk_x', 9, [ev(null, 'actor.revoked')])).toBe(true);
      expect(await s.revokeCredential('csk_x', 10, [ev(null, 'actor.revoked')])).toBe(false);
      expect((await s.findCredential('csk_x'))?.revokedAt).toBe(9);
      expect((await s.readEvents(0, 10)).map((e) => e.kind)).toEqual(['actor.created', 'actor.revoked']);
      expect((await s.listCredentials('agent_key')).map((x) => x.id)).toEqual(['csk_x']);
      await s.close();
    });

    if (reopen) {
      it('keeps pending requests, votes, deadlines and events across a reopen', async () => {
        const s = await open();
        await s.createRequest(req('p1', { expiresAt: 500 }), [ev('p1')]);
        await s.mutate('p1', ({ request }) => ({
          mutation: {
            request: { ...request, version: request.version + 1 },
            review: review('p1', 'alice'),
            events: [ev('p1', 'review.cast')],
          },
        }));
        const again = await reopen(s);
        const snap = await again.getRequest('p1');
        expect(snap?.request.status).toBe('pending');
        expect(snap?.reviews.map((r) => r.reviewerId)).toEqual(['alice']);
        expect(await again.dueRequests(500, 10)).toEqual(['p1']);
        expect((await again.eventsForRequest('p1')).map((e) => e.index)).toEqual([0, 1]);
        await again.close();
      });
    }
  });
}
