import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pendingRequest } from '../../test/support/fixtures.js';
import { CountersignError } from '../core/errors.js';
import type { AuditEvent } from '../core/event.js';
import * as lifecycle from '../core/lifecycle.js';
import { type ActionRequest, type Review, requestStatuses } from '../core/request.js';
import type { Decision, RequestSnapshot, Store } from './store.js';

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

    // `known` lets a caller skip the read of a snapshot it holds (MutateOptions). The marker below
    // is not how callers use it (they pass the snapshot as stored); it shows which state decided.
    const marked = (r: ActionRequest): ActionRequest => ({
      ...r,
      action: { ...r.action, justification: 'decided on the known snapshot' },
    });

    it('decides on a known snapshot that is still at the stored version, without reading it', async () => {
      const s = await open();
      const created = req('k1');
      await s.createRequest(created, [ev('k1')]);
      const seen: string[] = [];
      await s.mutate(
        'k1',
        ({ request }) => {
          seen.push(request.action.justification);
          return {
            mutation: { request: lifecycle.approve(request, 5), events: [ev('k1', 'request.approved')] },
          };
        },
        { known: { request: marked(created), reviews: [] } },
      );
      expect(seen).toEqual(['decided on the known snapshot']);
      const snap = await s.getRequest('k1');
      expect(snap?.request).toMatchObject({ status: 'approved', version: 2 });
      expect(snap?.request.action.justification).toBe('decided on the known snapshot');
      await s.close();
    });

    it('decides again on the stored state when the known snapshot is stale', async () => {
      const s = await open();
      const created = req('k2');
      await s.createRequest(created, [ev('k2')]);
      await s.mutate('k2', ({ request }) => ({
        mutation: {
          request: { ...request, version: request.version + 1 },
          review: review('k2', 'alice'),
          events: [ev('k2', 'review.cast')],
        },
      }));
      const seen: Array<[number, number]> = [];
      const out = await s.mutate(
        'k2',
        ({ request, reviews }) => {
          seen.push([request.version, reviews.length]);
          return {
            mutation: { request: lifecycle.approve(request, 5), events: [ev('k2', 'request.approved')] },
            value: reviews.length,
          };
        },
        { known: { request: created, reviews: [] } },
      );
      expect(seen).toEqual([
        [1, 0],
        [2, 1],
      ]);
      expect(out).toBe(1);
      const snap = await s.getRequest('k2');
      expect(snap?.request).toMatchObject({ status: 'approved', version: 3 });
      expect(snap?.reviews.map((r) => r.reviewerId)).toEqual(['alice']);
      expect((await s.eventsForRequest('k2')).map((e) => e.kind)).toEqual([
        'request.submitted',
        'review.cast',
        'request.approved',
      ]);
      await s.close();
    });

    it('never lets a stale known snapshot undo a decision: a rejected request stays rejected', async () => {
      const s = await open();
      const created = req('k3');
      await s.createRequest(created, [ev('k3')]);
      await s.mutate('k3', ({ request }) => ({
        mutation: { request: lifecycle.reject(request, 3), events: [ev('k3', 'request.rejected')] },
      }));
      // Approving is legal on the pending snapshot the caller holds, and illegal on the stored one.
      await expect(
        s.mutate(
          'k3',
          ({ request }) => ({
            mutation: { request: lifecycle.approve(request, 4), events: [ev('k3', 'request.approved')] },
          }),
          { known: { request: created, reviews: [] } },
        ),
      ).rejects.toMatchObject({ code: 'CS_ERR_NOT_PENDING' });
      expect((await s.getRequest('k3'))?.request).toMatchObject({ status: 'rejected', version: 2 });
      expect((await s.eventsForRequest('k3')).map((e) => e.kind)).toEqual([
        'request.submitted',
        'request.rejected',
      ]);
      await s.close();
    });

    it('decides on the stored state when a decision on the known snapshot throws or writes no request', async () => {
      const s = await open();
      const created = req('k4');
      await s.createRequest(created, [ev('k4')]);
      const known = { known: { request: marked(created), reviews: [] } };
      const fromKnown = (r: ActionRequest) => r.action.justification === 'decided on the known snapshot';
      // Throws on the known snapshot only: the stored one decides, and its change is written.
      await s.mutate(
        'k4',
        ({ request }) => {
          if (fromKnown(request)) throw new CountersignError('CS_ERR_NOT_PENDING');
          return {
            mutation: { request: lifecycle.approve(request, 5), events: [ev('k4', 'request.approved')] },
          };
        },
        known,
      );
      expect((await s.getRequest('k4'))?.request.status).toBe('approved');
      // Events alone carry no version to check: the stored state decides, and they are written once.
      const seen: boolean[] = [];
      await s.mutate(
        'k4',
        ({ request }) => {
          seen.push(fromKnown(request));
          return { mutation: { events: [ev('k4', 'review.refused')] } };
        },
        { known: { request: marked((await s.getRequest('k4'))?.request as ActionRequest), reviews: [] } },
      );
      expect(seen).toEqual([true, false]);
      expect((await s.eventsForRequest('k4')).map((e) => e.kind)).toEqual([
        'request.submitted',
        'request.approved',
        'review.refused',
      ]);
      await s.close();
    });

    it('ends in the same state with or without known snapshots, however stale (property)', async () => {
      type Op = { kind: 'bump' | 'events' | 'odd-throws'; known: number | null };
      const op = fc.record({
        kind: fc.constantFrom<Op['kind']>('bump', 'events', 'odd-throws'),
        known: fc.option(fc.nat(20), { nil: null }),
      });
      // Deterministic in the snapshot, as `decide` must be; `n` keeps reviewers and events apart.
      const decide =
        (kind: Op['kind'], n: number) =>
        ({ request }: RequestSnapshot): Decision<number> => {
          if (kind === 'odd-throws' && request.version % 2 === 1)
            throw new CountersignError('CS_ERR_ILLEGAL_TRANSITION', 'odd version');
          if (kind === 'events')
            return { mutation: { events: [ev(request.id, 'review.refused')] }, value: 0 };
          return {
            mutation: {
              request: { ...request, version: request.version + 1, updatedAt: n },
              review: review(request.id, `r${n}`),
              events: [ev(request.id, 'review.cast')],
            },
            value: request.version,
          };
        };
      const play = async (s: Store, id: string, ops: Op[], useKnown: boolean) => {
        const history: RequestSnapshot[] = [];
        const outcomes: unknown[] = [];
        for (const [n, o] of ops.entries()) {
          const snap = (await s.getRequest(id)) as RequestSnapshot;
          history.push(snap);
          const known = useKnown && o.known !== null ? history[o.known % history.length] : undefined;
          outcomes.push(
            await s
              .mutate(id, decide(o.kind, n), known ? { known } : {})
              .catch((e: CountersignError) => e.code),
          );
        }
        return {
          outcomes,
          snap: await s.getRequest(id),
          events: (await s.eventsForRequest(id)).map((e) => e.entry),
        };
      };
      const s = await open();
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
          run++;
          const [a, b] = [`known-${run}`, `plain-${run}`];
          await s.createRequest(req(a), [ev(a)]);
          await s.createRequest(req(b), [ev(b)]);
          const withKnown = await play(s, a, ops, true);
          const without = await play(s, b, ops, false);
          const rename = (x: unknown) => JSON.parse(JSON.stringify(x).replaceAll(a, b));
          expect(rename(withKnown)).toEqual(without);
        }),
        { numRuns: 60 },
      );
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

    it('lists exactly what a filter over every request would, whatever statuses they went through', async () => {
      const status = fc.constantFrom(...requestStatuses);
      const stored = fc.array(
        fc.record({
          first: status,
          later: fc.option(status, { nil: undefined }),
          actor: fc.constantFrom('a', 'b'),
        }),
        { maxLength: 30 },
      );
      const query = fc.record({
        status: fc.option(fc.subarray([...requestStatuses], { minLength: 1 }), { nil: undefined }),
        actorId: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
        before: fc.option(fc.integer({ min: 0, max: 31 }), { nil: undefined }),
        limit: fc.integer({ min: 1, max: 40 }),
      });
      await fc.assert(
        fc.asyncProperty(stored, fc.array(query, { minLength: 1, maxLength: 5 }), async (rows, queries) => {
          const s = await open();
          try {
            const id = (i: number) => `q${String(i).padStart(3, '0')}`;
            const final: ActionRequest[] = [];
            for (const [i, r] of rows.entries()) {
              const requester = { id: r.actor, name: r.actor, principal: null, via: 'api_key' as const };
              const first = req(id(i), { status: r.first, requester });
              await s.createRequest(first, []);
              const later = r.later;
              if (later === undefined) {
                final.push(first);
                continue;
              }
              const next = { ...first, status: later, version: first.version + 1 };
              await s.mutate(id(i), () => ({ mutation: { request: next, events: [] }, value: null }));
              final.push(next);
            }
            for (const q of queries) {
              const before = q.before === undefined ? undefined : id(q.before);
              const expected = final
                .filter((r) => !q.status || q.status.includes(r.status))
                .filter((r) => !q.actorId || r.requester.id === q.actorId)
                .filter((r) => !before || r.id < before)
                .map((r) => r.id)
                .sort()
                .reverse()
                .slice(0, q.limit);
              const listed = await s.listRequests({
                limit: q.limit,
                ...(q.status ? { status: q.status } : {}),
                ...(q.actorId ? { actorId: q.actorId } : {}),
                ...(before ? { before } : {}),
              });
              expect(listed.map((r) => r.id)).toEqual(expected);
            }
          } finally {
            await s.close();
          }
        }),
        { numRuns: 25 },
      );
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
