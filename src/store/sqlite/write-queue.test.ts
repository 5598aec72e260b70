import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WriteQueue } from './write-queue.js';

type Step =
  | { op: 'write'; deferred: boolean; fails: boolean }
  | { op: 'turn' }
  | { op: 'sync'; fails: boolean }
  | { op: 'timer' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({ op: fc.constant('write' as const), deferred: fc.boolean(), fails: fc.boolean() }),
    weight: 4,
  },
  { arbitrary: fc.constant({ op: 'turn' as const }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('sync' as const), fails: fc.boolean() }), weight: 3 },
  { arbitrary: fc.constant({ op: 'timer' as const }), weight: 1 },
);

interface Flush {
  began: number;
  done?: 'ok' | 'failed';
  finish(ok: boolean): void;
}

interface Write {
  v: number;
  deferred: boolean;
  fails: boolean;
  /** When its function last ran: a refused write makes the batch run again. */
  ranAt?: number;
  outcome?: 'resolved' | 'rejected';
  wrong?: string;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Fakes only the queue's timers (the deferred flush, the hold's time limit), so a test decides when
 * they run; batches still run on real setImmediate turns.
 */
function fakeTimeouts() {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

describe('WriteQueue', () => {
  fakeTimeouts();

  it('settles every write as its kind promises, whatever the order of writes, flushes and failures', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40, size: 'max' }), async (steps) => {
        const db = new Database(':memory:');
        db.exec('CREATE TABLE t (v INTEGER)');
        let seq = 0;
        const flushes: Flush[] = [];
        const queue = new WriteQueue(db, () => {
          return new Promise<void>((resolve, reject) => {
            const flush: Flush = {
              began: seq++,
              finish: (ok) => {
                flush.done = ok ? 'ok' : 'failed';
                if (ok) resolve();
                else reject(new Error('EIO: fdatasync'));
              },
            };
            flushes.push(flush);
          });
        });
        const stored = (v: number) => db.prepare('SELECT 1 FROM t WHERE v = ?').get(v) !== undefined;
        const writes: Write[] = [];

        const write = (deferred: boolean, fails: boolean) => {
          const w: Write = { v: writes.length, deferred, fails };
          writes.push(w);
          const fn = () => {
            w.ranAt = seq++;
            db.prepare('INSERT INTO t (v) VALUES (?)').run(w.v);
            if (fails) throw new Error(`refused ${w.v}`);
            return w.v;
          };
          queue.run(fn, deferred ? { deferDurability: true } : undefined).then(
            (value) => {
              w.outcome = 'resolved';
              if (fails || value !== w.v) w.wrong = 'resolved a refused write';
              else if (!stored(w.v)) w.wrong = 'resolved before its commit';
              else if (!deferred && !flushes.some((f) => f.done === 'ok' && f.began > (w.ranAt ?? -1)))
                w.wrong = 'resolved a durable write before a flush that began after its commit';
            },
            (error: Error & { code?: string }) => {
              w.outcome = 'rejected';
              if (fails) {
                if (error.message !== `refused ${w.v}` || stored(w.v))
                  w.wrong = `a refused write failed otherwise: ${error.message}`;
              } else if (deferred) w.wrong = `a deferred write failed: ${error.message}`;
              else if (error.code !== 'CS_ERR_UNAVAILABLE' || !flushes.some((f) => f.done === 'failed'))
                w.wrong = `a durable write failed without a failed flush: ${error.message}`;
            },
          );
        };

        for (const s of steps) {
          if (s.op === 'write') write(s.deferred, s.fails);
          else if (s.op === 'turn') await turn();
          else if (s.op === 'sync') flushes.find((f) => !f.done)?.finish(!s.fails);
          else vi.advanceTimersByTime(100);
          await Promise.resolve();
        }
        // Let everything finish: every flush succeeds from here, timers fire, batches run.
        for (let i = 0; i < 50; i++) {
          for (const f of flushes) if (!f.done) f.finish(true);
          vi.advanceTimersByTime(100);
          await turn();
        }

        expect(writes.filter((w) => w.outcome === undefined)).toEqual([]);
        expect(writes.filter((w) => w.wrong)).toEqual([]);
        // Refused writes leave nothing behind; every other write is committed, even one whose
        // flush failed (its caller was told it failed, and acts on that).
        for (const w of writes) expect(stored(w.v)).toBe(!w.fails);
        db.close();
      }),
      { numRuns: 200 },
    );
  });
});

describe('WriteQueue: a batch whose flush fails', () => {
  it('fails its good durable writes closed, answers a refused one with its own error and a deferred one at commit', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER)');
    let fail!: (error: Error) => void;
    const q = new WriteQueue(
      db,
      () =>
        new Promise<void>((_, reject) => {
          fail = reject;
        }),
    );
    const insert = (v: number) => () => db.prepare('INSERT INTO t (v) VALUES (?)').run(v).changes;
    let deferredAnswered = false;
    // Queued in one turn of the event loop: one batch.
    const good = q.run(insert(1));
    const refused = q.run(() => {
      insert(2)();
      throw new Error('you cannot approve your own request');
    });
    const deferred = q.run(insert(3), { deferDurability: true }).then((n) => {
      deferredAnswered = true;
      return n;
    });
    await vi.waitFor(() => expect(deferredAnswered).toBe(true));
    fail(new Error('EIO: fdatasync'));
    await expect(good).rejects.toMatchObject({ code: 'CS_ERR_UNAVAILABLE' });
    await expect(refused).rejects.toThrow('you cannot approve your own request');
    await expect(deferred).resolves.toBe(1);
    expect(db.prepare('SELECT v FROM t ORDER BY v').all()).toEqual([{ v: 1 }, { v: 3 }]);
  });
});

describe('WriteQueue: writes that arrive while a flush is in flight', () => {
  fakeTimeouts();

  it('are held, then committed as one batch once that flush is done, and answered after their own flush', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER)');
    const flushes: Array<{ writes: number; done: () => void }> = [];
    const q = new WriteQueue(
      db,
      (writes) =>
        new Promise<void>((resolve) => {
          flushes.push({ writes, done: resolve });
        }),
    );
    const ran: number[] = [];
    const insert = (v: number) => () => {
      ran.push(v);
      return db.prepare('INSERT INTO t (v) VALUES (?)').run(v).changes;
    };
    const answered: number[] = [];
    const run = (v: number) => q.run(insert(v)).then(() => answered.push(v));
    void run(1);
    await turn();
    expect(flushes.map((f) => f.writes)).toEqual([1]);
    void run(2);
    await turn();
    void run(3);
    await turn();
    // A commit now could not be covered by the flush in flight: nothing runs until it is done.
    expect(ran).toEqual([1]);
    expect(flushes).toHaveLength(1);
    flushes[0]?.done();
    await turn();
    await turn();
    expect(answered).toEqual([1]);
    expect(ran).toEqual([1, 2, 3]);
    expect(flushes.map((f) => f.writes)).toEqual([1, 2]);
    expect(answered).toEqual([1]);
    flushes[1]?.done();
    await vi.waitFor(() => expect(answered).toEqual([1, 2, 3]));
    db.close();
  });
});

describe('WriteQueue: a flush that never completes', () => {
  fakeTimeouts();

  it('holds later writes only for a while, then commits them with their own flush', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER)');
    const flushes: Array<() => void> = [];
    let hung = true;
    const q = new WriteQueue(db, () =>
      hung ? new Promise<void>(() => {}) : new Promise<void>((resolve) => flushes.push(resolve)),
    );
    const stored = () => db.prepare('SELECT v FROM t ORDER BY v').all();
    void q.run(() => db.prepare('INSERT INTO t (v) VALUES (1)').run());
    await turn();
    hung = false;
    let answered = false;
    void q
      .run(() => db.prepare('INSERT INTO t (v) VALUES (2)').run())
      .then(() => {
        answered = true;
      });
    await turn();
    expect(stored()).toEqual([{ v: 1 }]);
    // The hung flush is given up on: the held write commits and gets a flush of its own.
    vi.advanceTimersByTime(100);
    expect(stored()).toEqual([{ v: 1 }, { v: 2 }]);
    expect(flushes).toHaveLength(1);
    flushes[0]?.();
    await vi.waitFor(() => expect(answered).toBe(true));
    // Nothing is held behind the hung flush any more.
    void q.run(() => db.prepare('INSERT INTO t (v) VALUES (3)').run());
    await turn();
    expect(stored()).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }]);
    db.close();
  });
});
