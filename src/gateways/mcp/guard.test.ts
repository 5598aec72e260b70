import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { agent, reviewer } from '../../../test/support/fixtures.js';
import type { Json } from '../../core/action.js';
import { ManualClock } from '../../core/clock.js';
import type { ActionRequest } from '../../core/request.js';
import { compilePolicy } from '../../policy/load.js';
import { InProcessNotifier } from '../../service/notifier.js';
import { Service } from '../../service/service.js';
import { SqliteStore } from '../../store/sqlite/index.js';
import { Guard, type Outcome, type Params } from './guard.js';
import { Recall } from './recall.js';

const policy = compilePolicy([
  {
    file: 'policy.yaml',
    text: `version: 1
approval:
  approvers: { groups: [sre], count: 1 }
  ttl: 1h
  validity: 15m
default:
  decision: require_approval
rules:
  - name: harmless
    match: { type: mcp.tools.call, resource: up/ok }
    decision: allow
  - name: never
    match: { type: mcp.tools.call, resource: up/bad }
    decision: deny
`,
  },
]);

type Step =
  | { op: 'call'; tool: 'ok' | 'bad' | 'ask'; arg: number; upstreamFails: boolean }
  | { op: 'resume'; pick: number; upstreamFails: boolean }
  | { op: 'vote'; pick: number; approve: boolean }
  | { op: 'advance'; ms: number }
  | { op: 'turn' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('call' as const),
      tool: fc.constantFrom('ok' as const, 'bad' as const, 'ask' as const),
      arg: fc.integer({ min: 0, max: 2 }),
      upstreamFails: fc.boolean(),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({ op: fc.constant('resume' as const), pick: fc.nat(), upstreamFails: fc.boolean() }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ op: fc.constant('vote' as const), pick: fc.nat(), approve: fc.boolean() }),
    weight: 2,
  },
  // Within validity, past it, past the TTL.
  {
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.constantFrom(60_000, 20 * 60_000, 2 * 3_600_000),
    }),
    weight: 1,
  },
  { arbitrary: fc.constant({ op: 'turn' as const }), weight: 3 },
);

interface Run {
  id: string;
  target: string;
  params: Params;
  /** The request as stored when the upstream was reached. */
  stored: ActionRequest;
  now: number;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

function setup(options: { recordBeforeForward?: boolean } = {}) {
  const store = new SqliteStore({ path: ':memory:' });
  const clock = new ManualClock();
  const service = new Service({ store, policy: () => policy, clock, notifier: new InProcessNotifier() });
  const guard = new Guard({
    service,
    recall: new Recall(),
    holdMs: 0,
    denyRepeatWindowMs: 10 * 60_000,
    logger: { warn: () => {} },
    ...options,
  });
  return { store, clock, service, guard };
}

describe('Guard', () => {
  it('records the result of a call that started within the approval validity and outlasted it', async () => {
    const { store, clock, service, guard } = setup();
    const ctx = { actor: agent, allowedTypes: null, signal: new AbortController().signal };
    const call = { type: 'mcp.tools.call' as const, upstream: 'up', target: 'ask', params: { n: 1 } };
    const slow = {
      run: async () => {
        clock.advance(20 * 60_000); // the tool takes 20 minutes; the approval was valid for 15
        return 'done';
      },
      summarize: () => ({ outcome: 'succeeded' as const, detail: 'ok' }),
    };
    const pending = await guard.call(call, ctx, slow);
    const id = pending.request?.id as string;
    await service.review(id, reviewer('rita', ['sre']), 'approve', '', 'api');
    clock.advance(14 * 60_000);
    const startedAt = clock.now();
    const outcome = await guard.resume((await service.get(id)).request, ctx, slow);
    expect(outcome.kind).toBe('ran');
    await guard.recorded;
    const snap = await service.get(id);
    expect(snap.request.status).toBe('executed');
    expect(snap.request.result?.at).toBe(startedAt + 20 * 60_000);
    const events = await store.eventsForRequest(id);
    expect(events.at(-1)).toMatchObject({ kind: 'request.executed', details: { startedAt } });
    await store.close();
  });

  it('reaches the upstream only for an allowed or approved request, once, with the decided params', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 30 }), async (steps) => {
        const { store, clock, service, guard } = setup();
        const runs: Run[] = [];
        const ran: Array<Outcome<{ id: string }>> = [];
        const inFlight: Array<Promise<unknown>> = [];
        const ids: string[] = [];
        const sre = reviewer('rita', ['sre']);
        const ctx = { actor: agent, allowedTypes: null, signal: new AbortController().signal };

        const runner = (upstreamFails: boolean) => ({
          run: async (r: ActionRequest, params: Params) => {
            const stored = (await store.getRequest(r.id))?.request as ActionRequest;
            runs.push({ id: r.id, target: r.action.resource, params, stored, now: clock.now() });
            await turn();
            if (upstreamFails) throw new Error('the upstream failed');
            return { id: r.id };
          },
          summarize: () => ({ outcome: 'succeeded' as const, detail: 'ok' }),
        });
        const settle = (p: Promise<Outcome<{ id: string }>>) =>
          inFlight.push(
            p.then(
              (o) => {
                if (o.request && !ids.includes(o.request.id)) ids.push(o.request.id);
                if (o.kind === 'ran') ran.push(o);
              },
              () => {},
            ),
          );

        for (const s of steps) {
          if (s.op === 'call') {
            const params: Params = { n: s.arg as Json, nested: { list: [s.arg, 'x'] } };
            settle(
              guard.call(
                { type: 'mcp.tools.call', upstream: 'up', target: s.tool, params },
                ctx,
                runner(s.upstreamFails),
              ),
            );
          } else if (s.op === 'resume' && ids.length > 0) {
            const snap = await store.getRequest(ids[s.pick % ids.length] as string);
            if (snap) settle(guard.resume(snap.request, ctx, runner(s.upstreamFails)));
          } else if (s.op === 'vote' && ids.length > 0) {
            const id = ids[s.pick % ids.length] as string;
            inFlight.push(service.review(id, sre, s.approve ? 'approve' : 'deny', '', 'api').catch(() => {}));
          } else if (s.op === 'advance') clock.advance(s.ms);
          else await turn();
        }
        await Promise.all(inFlight);
        await guard.recorded;
        for (let i = 0; i < 5; i++) await turn();

        const seen = new Set<string>();
        for (const run of runs) {
          expect(seen.has(run.id), `request ${run.id} reached the upstream twice`).toBe(false);
          seen.add(run.id);
          expect(run.target).not.toBe('up/bad');
          expect(['allowed', 'approved']).toContain(run.stored.status);
          if (run.stored.validUntil !== null) expect(run.now).toBeLessThanOrEqual(run.stored.validUntil);
          expect(run.params).toEqual(run.stored.action.params);
          // Whatever the upstream did, the result is on record.
          const after = (await store.getRequest(run.id))?.request;
          expect(['executed', 'failed']).toContain(after?.status);
        }
        // Every call told it ran did reach the upstream under that request.
        for (const o of ran) expect(seen.has(o.request?.id as string)).toBe(true);
        await store.close();
      }),
      { numRuns: 300 },
    );
  });
});

describe('Guard: an allowed call and the flush of its record', () => {
  // The store's timer for flushing deferred writes would add flushes of its own at any moment.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const until = async (done: () => boolean) => {
    for (let i = 0; i < 100 && !done(); i++) await turn();
    expect(done()).toBe(true);
  };

  /** A guard on a store whose disk the test holds: each flush waits until the test settles it. */
  function heldDisk(options: { recordBeforeForward?: boolean } = {}) {
    const { store, guard } = setup(options);
    const flushes: Array<(error?: Error) => void> = [];
    let held = true;
    (store as unknown as { wal: { sync: () => Promise<void> } }).wal.sync = () =>
      held
        ? new Promise<void>((resolve, reject) => {
            flushes.push((error) => (error ? reject(error) : resolve()));
          })
        : Promise.resolve();
    const settleFlushes = (error?: Error) => {
      for (const settle of flushes.splice(0)) settle(error);
    };
    const close = () => {
      held = false;
      return store.close();
    };
    const ctx = { actor: agent, allowedTypes: null, signal: new AbortController().signal };
    const ran: number[] = [];
    const runner = {
      run: async (_r: ActionRequest, params: Params) => {
        ran.push(params.n as number);
        return 'done';
      },
      summarize: () => ({ outcome: 'succeeded' as const, detail: 'ok' }),
    };
    const call = (n: number) => {
      const c = {
        answered: false,
        outcome: guard.call(
          { type: 'mcp.tools.call', upstream: 'up', target: 'ok', params: { n } },
          ctx,
          runner,
        ),
      };
      c.outcome.then(
        () => {
          c.answered = true;
        },
        () => {
          c.answered = true;
        },
      );
      return c;
    };
    return { flushes, settleFlushes, ran, call, close };
  }

  it('forwards while the record is flushed, answers once it is on disk, withholds the result when the flush fails, then forwards nothing until a flush succeeds', async () => {
    const { flushes, settleFlushes, ran, call, close } = heldDisk();

    // The disk is good: the call reaches the tool while its record is being flushed, and the
    // agent hears nothing until that flush is done.
    const first = call(1);
    await until(() => ran.length === 1);
    expect(flushes).toHaveLength(1);
    await turn();
    expect(first.answered).toBe(false);
    settleFlushes();
    await expect(first.outcome).resolves.toMatchObject({ kind: 'ran', value: 'done' });

    // The flush fails after the call was forwarded: the result is withheld, and the agent is told.
    const second = call(2);
    await until(() => ran.length === 2);
    settleFlushes(new Error('EIO: fdatasync'));
    await expect(second.outcome).rejects.toThrow(
      /could not store its record .* may already have taken effect/,
    );

    // From now on a call waits for its record to be on disk before it is forwarded.
    const third = call(3);
    await until(() => flushes.length === 1);
    await turn();
    expect(ran).toEqual([1, 2]);
    settleFlushes(new Error('EIO: fdatasync'));
    await expect(third.outcome).rejects.toThrow('nothing was run');
    const fourth = call(4);
    await until(() => flushes.length === 1);
    await turn();
    expect(ran).toEqual([1, 2]);
    expect(fourth.answered).toBe(false);
    settleFlushes();
    await expect(fourth.outcome).resolves.toMatchObject({ kind: 'ran', value: 'done' });
    expect(ran).toEqual([1, 2, 4]);

    // A flush has succeeded: the disk is good again.
    const fifth = call(5);
    await until(() => ran.length === 4);
    expect(fifth.answered).toBe(false);
    settleFlushes();
    await expect(fifth.outcome).resolves.toMatchObject({ kind: 'ran' });
    await close();
  });

  it('with recordBeforeForward, forwards an allowed call only once its record is on disk', async () => {
    const { flushes, settleFlushes, ran, call, close } = heldDisk({ recordBeforeForward: true });
    const first = call(1);
    await until(() => flushes.length === 1);
    await turn();
    expect(ran).toEqual([]);
    settleFlushes();
    await expect(first.outcome).resolves.toMatchObject({ kind: 'ran', value: 'done' });
    expect(ran).toEqual([1]);
    await close();
  });
});
