import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FlushDeps, Flusher, type FlushObservation } from './flush.js';

/** A disk whose flushes take `cost` ms of a fake clock; off-thread flushes wait to be finished. */
function fakeDisk(cost = 0.1) {
  const disk = {
    clock: 0,
    cost,
    here: 0,
    failHere: null as Error | null,
    offThread: [] as Array<(error: Error | null) => void>,
  };
  const deps: FlushDeps = {
    syncHere: () => {
      disk.here++;
      disk.clock += disk.cost;
      if (disk.failHere) throw disk.failHere;
    },
    syncOffThread: (done) => disk.offThread.push(done),
    now: () => disk.clock,
  };
  return { disk, deps };
}

const settled = async (p: Promise<void>) => {
  let state = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((r) => setImmediate(r));
  return state;
};

describe('Flusher', () => {
  it('flushes on the calling thread, once per call, while the disk is fast', async () => {
    const { disk, deps } = fakeDisk(0.2);
    const f = new Flusher(deps);
    for (let i = 0; i < 50; i++) await f.flush();
    expect(disk.here).toBe(50);
    expect(disk.offThread).toHaveLength(0);
    expect(f.inline).toBe(true);
  });

  it('moves flushes off the thread while writers are concurrent, and back once one writer is left', async () => {
    const { disk, deps } = fakeDisk(0.2);
    const f = new Flusher(deps, { concurrentMs: 1000 });
    await f.flush(1);
    expect(disk.here).toBe(1);
    // A batch of three writes: callers are arriving together, so the event loop must stay free.
    const several = f.flush(3);
    expect(disk.here).toBe(1);
    expect(disk.offThread).toHaveLength(1);
    expect(await settled(several)).toBe('pending');
    disk.offThread.shift()?.(null);
    expect(await settled(several)).toBe('resolved');
    // Within the window a lone write is flushed off the thread too: more callers are likely on the way.
    disk.clock += 999;
    expect(f.inline).toBe(false);
    const lone = f.flush(1);
    expect(disk.offThread).toHaveLength(1);
    disk.offThread.shift()?.(null);
    expect(await settled(lone)).toBe('resolved');
    // Once the window has passed, a single writer is flushed on its own thread again.
    disk.clock += 1;
    expect(f.inline).toBe(true);
    await f.flush(1);
    expect(disk.here).toBe(2);
    expect(disk.offThread).toHaveLength(0);
  });

  it('lets a caller that acts during its flush send first: an inline flush starts two turns of the event loop later', async () => {
    const { disk, deps } = fakeDisk(0.2);
    const f = new Flusher(deps);
    const flushed = f.flush(1, true);
    expect(disk.here).toBe(0);
    // What the caller sends one turn after asking (undici's write on a reused connection).
    let flushesBeforeSend = -1;
    setImmediate(() => {
      flushesBeforeSend = disk.here;
    });
    await flushed;
    expect(flushesBeforeSend).toBe(0);
    expect(disk.here).toBe(1);
    expect(disk.offThread).toHaveLength(0);
    // A caller that arrives while such a flush waits to start gets the next one.
    const both = [f.flush(1, true), f.flush(1)];
    await Promise.all(both);
    expect(disk.here).toBe(3);
  });

  it('starts an off-thread flush for a caller that acts during it at once', async () => {
    const { disk, deps } = fakeDisk(0.2);
    const f = new Flusher(deps, { concurrentMs: 1000 });
    const several = f.flush(3);
    disk.offThread.shift()?.(null);
    await several;
    const flushed = f.flush(1, true);
    expect(disk.offThread).toHaveLength(1);
    disk.offThread.shift()?.(null);
    expect(await settled(flushed)).toBe('resolved');
  });

  it('treats callers queued behind an off-thread flush as concurrent, whatever their own batch size', async () => {
    const { disk, deps } = fakeDisk(0.2);
    const f = new Flusher(deps, { concurrentMs: 1000 });
    const first = f.flush(2);
    const queued = [f.flush(1), f.flush(1)];
    disk.clock += 2000;
    disk.offThread.shift()?.(null);
    expect(await settled(first)).toBe('resolved');
    // Two callers shared the next flush: concurrent again, so it too runs off the thread.
    expect(disk.offThread).toHaveLength(1);
    expect(disk.here).toBe(0);
    disk.offThread.shift()?.(null);
    for (const p of queued) expect(await settled(p)).toBe('resolved');
  });

  it('tells the observer of every flush: how long its callers waited, on which thread, whether it failed', async () => {
    const { disk, deps } = fakeDisk(0.25);
    const seen: FlushObservation[] = [];
    const f = new Flusher({ ...deps, observe: (o) => seen.push(o) }, { concurrentMs: 1000 });
    await f.flush(1);
    expect(seen).toEqual([{ ms: 0.25, thread: 'event-loop', failed: false }]);
    // Off the thread the wait runs from the hand-off to the completion, not the disk's own share.
    const several = f.flush(3);
    expect(seen).toHaveLength(1);
    disk.clock += 0.75;
    disk.offThread.shift()?.(null);
    await several;
    const failing = f.flush(2);
    disk.clock += 2;
    disk.offThread.shift()?.(new Error('EIO'));
    await expect(failing).rejects.toThrow('EIO');
    disk.clock += 1000;
    disk.failHere = new Error('ENOSPC');
    await expect(f.flush(1)).rejects.toThrow('ENOSPC');
    expect(seen.slice(1)).toEqual([
      { ms: 0.75, thread: 'pool', failed: false },
      { ms: 2, thread: 'pool', failed: true },
      { ms: 0.25, thread: 'event-loop', failed: true },
    ]);
  });

  it('settles every caller even when the observer throws', async () => {
    const { disk, deps } = fakeDisk(0.25);
    const f = new Flusher(
      {
        ...deps,
        observe: () => {
          throw new Error('metrics broke');
        },
      },
      { concurrentMs: 1000 },
    );
    await f.flush(1);
    const several = f.flush(3);
    disk.offThread.shift()?.(null);
    expect(await settled(several)).toBe('resolved');
    const after = f.flush(1);
    disk.offThread.shift()?.(null);
    expect(await settled(after)).toBe('resolved');
  });

  it('fails the caller closed when an inline flush fails', async () => {
    const { disk, deps } = fakeDisk();
    const f = new Flusher(deps);
    disk.failHere = new Error('EIO: i/o error, fdatasync');
    await expect(f.flush()).rejects.toThrow('EIO');
    disk.failHere = null;
    await expect(f.flush()).resolves.toBeUndefined();
  });

  it('moves flushes to the thread pool when the disk turns slow, and tries inline again later', async () => {
    const { disk, deps } = fakeDisk(0.2);
    const f = new Flusher(deps, { inlineMaxMs: 1, offloadMs: 1000 });
    await f.flush();
    // Flushes of 5 ms: the running average passes 1 ms after a few of them, not after one.
    disk.cost = 5;
    await f.flush();
    expect(f.inline).toBe(true);
    while (f.inline) await f.flush();
    const inlineCount = disk.here;
    expect(inlineCount).toBeGreaterThan(2);

    const off = f.flush();
    expect(disk.here).toBe(inlineCount);
    expect(disk.offThread).toHaveLength(1);
    expect(await settled(off)).toBe('pending');
    disk.offThread.shift()?.(null);
    expect(await settled(off)).toBe('resolved');

    disk.cost = 0.2;
    disk.clock += 1000;
    expect(f.inline).toBe(true);
    await f.flush();
    expect(disk.here).toBe(inlineCount + 1);
    expect(disk.offThread).toHaveLength(0);
  });

  it('off the thread, callers that arrive during a flush share the next one, which begins after them', async () => {
    const { disk, deps } = fakeDisk(100);
    const f = new Flusher(deps, { inlineMaxMs: 1, offloadMs: 60_000 });
    await f.flush();
    expect(f.inline).toBe(false);

    const first = f.flush();
    const later = [f.flush(), f.flush(), f.flush()];
    expect(disk.offThread).toHaveLength(1);
    disk.offThread.shift()?.(null);
    expect(await settled(first)).toBe('resolved');
    // The first flush may have begun before the later calls: it does not cover them.
    for (const p of later) expect(await settled(p)).toBe('pending');
    expect(disk.offThread).toHaveLength(1);
    disk.offThread.shift()?.(null);
    for (const p of later) expect(await settled(p)).toBe('resolved');
    expect(disk.offThread).toHaveLength(0);
  });

  it('rejects exactly the callers a failed off-thread flush covered', async () => {
    const { disk, deps } = fakeDisk(100);
    const f = new Flusher(deps, { inlineMaxMs: 1, offloadMs: 60_000 });
    await f.flush();

    const covered = f.flush();
    const next = f.flush();
    disk.offThread.shift()?.(new Error('EIO: i/o error, fdatasync'));
    await expect(covered).rejects.toThrow('EIO');
    expect(await settled(next)).toBe('pending');
    disk.offThread.shift()?.(null);
    await expect(next).resolves.toBeUndefined();
  });

  it('keeps flushing when the disk turns fast again while an off-thread flush is in flight', async () => {
    const { disk, deps } = fakeDisk(100);
    const f = new Flusher(deps, { inlineMaxMs: 1, offloadMs: 1000 });
    await f.flush();
    expect(f.inline).toBe(false);

    const first = f.flush();
    const queued = f.flush();
    // The offload period ends while the first flush is still on the thread pool: the queued caller
    // is flushed inline when it completes, and the Flusher must not believe a flush is still running.
    disk.cost = 0.2;
    disk.clock += 1000;
    disk.offThread.shift()?.(null);
    expect(await settled(first)).toBe('resolved');
    expect(await settled(queued)).toBe('resolved');
    expect(await settled(f.flush())).toBe('resolved');
    expect(disk.offThread).toHaveLength(0);
  });

  it('settles every caller, each only after a flush that began after its call (any interleaving)', async () => {
    type Step =
      | { op: 'flush'; writes: number; overlapped: boolean }
      | { op: 'finish'; fail: boolean }
      | { op: 'tick'; ms: number }
      | { op: 'cost'; ms: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        arbitrary: fc.record({
          op: fc.constant('flush' as const),
          writes: fc.constantFrom(0, 1, 1, 3),
          overlapped: fc.boolean(),
        }),
        weight: 4,
      },
      { arbitrary: fc.record({ op: fc.constant('finish' as const), fail: fc.boolean() }), weight: 3 },
      {
        arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.constantFrom(0, 50, 400) }),
        weight: 2,
      },
      { arbitrary: fc.record({ op: fc.constant('cost' as const), ms: fc.constantFrom(0.1, 50) }), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60, size: 'max' }), async (steps) => {
        // One counter orders calls and flush starts; a flush is 'done' once it completed.
        let seq = 0;
        const flushes: Array<{ began: number; done: boolean }> = [];
        const clock = { now: 0, cost: 0.1 };
        const pool: Array<() => void> = [];
        let failNext = false;
        const deps: FlushDeps = {
          syncHere: () => {
            flushes.push({ began: seq++, done: true });
            clock.now += clock.cost;
          },
          syncOffThread: (done) => {
            const flush = { began: seq++, done: false };
            flushes.push(flush);
            pool.push(() => {
              flush.done = true;
              const fail = failNext;
              failNext = false;
              done(fail ? new Error('EIO') : null);
            });
          },
          now: () => clock.now,
        };
        const f = new Flusher(deps, { inlineMaxMs: 1, offloadMs: 300, concurrentMs: 100 });
        const calls: Array<{ at: number; state: 'pending' | 'settled'; early: boolean }> = [];
        const call = (writes: number, overlapped: boolean) => {
          const c = { at: seq++, state: 'pending' as 'pending' | 'settled', early: false };
          calls.push(c);
          const check = () => {
            c.state = 'settled';
            c.early = !flushes.some((x) => x.done && x.began > c.at);
          };
          f.flush(writes, overlapped).then(check, check);
        };
        const drainMicrotasks = () => new Promise((r) => setImmediate(r));
        for (const s of steps) {
          if (s.op === 'flush') call(s.writes, s.overlapped);
          else if (s.op === 'finish') {
            failNext = s.fail;
            pool.shift()?.();
          } else if (s.op === 'tick') clock.now += s.ms;
          else clock.cost = s.ms;
          await drainMicrotasks();
        }
        // Finish whatever is left on the thread pool or waits to start inline; then nobody may
        // still be waiting.
        for (let i = 0; i < 1000 && (pool.length > 0 || calls.some((c) => c.state === 'pending')); i++) {
          pool.shift()?.();
          await drainMicrotasks();
        }
        expect(calls.filter((c) => c.state === 'pending')).toEqual([]);
        expect(calls.filter((c) => c.early)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});
