import { describe, expect, it } from 'vitest';
import { type FlushDeps, Flusher } from './flush.js';

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
});
