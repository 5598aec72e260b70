import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WriteQueue } from './write-queue.js';

type Kind = 'durable' | 'deferred' | 'atCommit';

type Step =
  | { op: 'write'; kind: Kind; fails: boolean }
  | { op: 'turn' }
  | { op: 'sync'; fails: boolean }
  | { op: 'timer' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('write' as const),
      kind: fc.constantFrom<Kind>('durable', 'deferred', 'atCommit'),
      fails: fc.boolean(),
    }),
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
  kind: Kind;
  fails: boolean;
  /** When its function last ran: a refused write makes the batch run again. */
  ranAt?: number;
  /** Whether, when it last ran, every flush so far was done and the last one to finish had not failed. */
  diskGood?: boolean;
  outcome?: 'resolved' | 'rejected';
  /** For a write answered at commit: what became of the flush it was handed. */
  handed?: 'handed' | 'resolved' | 'rejected';
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
        let lastDone: 'ok' | 'failed' | undefined;
        const queue = new WriteQueue(db, () => {
          return new Promise<void>((resolve, reject) => {
            const flush: Flush = {
              began: seq++,
              finish: (ok) => {
                flush.done = ok ? 'ok' : 'failed';
                lastDone = flush.done;
                if (ok) resolve();
                else reject(new Error('EIO: fdatasync'));
              },
            };
            flushes.push(flush);
          });
        });
        const stored = (v: number) => db.prepare('SELECT 1 FROM t WHERE v = ?').get(v) !== undefined;
        const writes: Write[] = [];

        const flushedSince = (w: Write, done: 'ok' | 'failed') =>
          flushes.some((f) => f.done === done && f.began > (w.ranAt ?? -1));
        const handed = (w: Write) => (flushed: Promise<void>) => {
          if (w.handed) w.wrong = 'handed a flush twice';
          w.handed = 'handed';
          flushed.then(
            () => {
              w.handed = 'resolved';
              if (!flushedSince(w, 'ok'))
                w.wrong = 'its flush resolved before one that began after its commit';
            },
            (error: Error & { code?: string }) => {
              w.handed = 'rejected';
              if (error.code !== 'CS_ERR_UNAVAILABLE' || !flushedSince(w, 'failed'))
                w.wrong = `its flush failed without a failed flush: ${error.message}`;
            },
          );
        };
        const options = (w: Write) =>
          w.kind === 'deferred'
            ? { deferDurability: true }
            : w.kind === 'atCommit'
              ? { answerAtCommit: handed(w) }
              : undefined;

        const write = (kind: Kind, fails: boolean) => {
          const w: Write = { v: writes.length, kind, fails };
          writes.push(w);
          const fn = () => {
            w.ranAt = seq++;
            w.diskGood = flushes.every((f) => f.done) && lastDone !== 'failed';
            db.prepare('INSERT INTO t (v) VALUES (?)').run(w.v);
            if (fails) throw new Error(`refused ${w.v}`);
            return w.v;
          };
          queue.run(fn, options(w)).then(
            (value) => {
              w.outcome = 'resolved';
              if (fails || value !== w.v) w.wrong = 'resolved a refused write';
              else if (!stored(w.v)) w.wrong = 'resolved before its commit';
              else if (kind === 'durable' && !flushedSince(w, 'ok'))
                w.wrong = 'resolved a durable write before a flush that began after its commit';
              else if (kind === 'atCommit' && !flushedSince(w, 'ok') && !(w.diskGood && w.handed))
                w.wrong = 'answered at commit while the disk was not known good, or without its flush';
            },
            (error: Error & { code?: string }) => {
              w.outcome = 'rejected';
              if (fails) {
                if (error.message !== `refused ${w.v}` || stored(w.v))
                  w.wrong = `a refused write failed otherwise: ${error.message}`;
              } else if (kind === 'deferred') w.wrong = `a deferred write failed: ${error.message}`;
              else if (error.code !== 'CS_ERR_UNAVAILABLE' || !flushedSince(w, 'failed'))
                w.wrong = `a durable write failed without a failed flush: ${error.message}`;
            },
          );
        };

        for (const s of steps) {
          if (s.op === 'write') write(s.kind, s.fails);
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

        expect(writes.filter((w) => w.outcome === undefined || w.handed === 'handed')).toEqual([]);
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

/** A queue whose flushes hang until `recover()`; later ones wait for the test to finish them. */
function hungDisk() {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (v INTEGER)');
  const flushes: Array<() => void> = [];
  let hung = true;
  const q = new WriteQueue(db, () =>
    hung ? new Promise<void>(() => {}) : new Promise<void>((resolve) => flushes.push(resolve)),
  );
  const recover = () => {
    hung = false;
  };
  return { db, q, flushes, recover };
}

describe('WriteQueue: a flush that never completes', () => {
  fakeTimeouts();

  it('holds later writes only for a while, then commits them with their own flush', async () => {
    const { db, q, flushes, recover } = hungDisk();
    const stored = () => db.prepare('SELECT v FROM t ORDER BY v').all();
    void q.run(() => db.prepare('INSERT INTO t (v) VALUES (1)').run());
    await turn();
    recover();
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

/** A write that asks to be answered at commit, and what it hears. */
function answerAtCommit(q: WriteQueue, db: Database.Database, v: number) {
  const w: { answered: boolean; flushed?: Promise<void>; done: Promise<unknown> } = {
    answered: false,
    done: Promise.resolve(),
  };
  w.done = q
    .run(() => db.prepare('INSERT INTO t (v) VALUES (?)').run(v).changes, {
      answerAtCommit: (flushed) => {
        w.flushed = flushed;
      },
    })
    .then((n) => {
      w.answered = true;
      return n;
    });
  return w;
}

describe('WriteQueue: a write answered at commit', () => {
  it('is answered before its flush, told the caller acts meanwhile, only while no flush has failed since the last good one', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER)');
    const flushes: Array<{ overlapped: boolean; settle: (error?: Error) => void }> = [];
    const q = new WriteQueue(
      db,
      (_writes, overlapped) =>
        new Promise<void>((resolve, reject) => {
          flushes.push({ overlapped, settle: (error) => (error ? reject(error) : resolve()) });
        }),
    );
    // The disk is good: answered at once, with its flush still to come, told that the caller acts meanwhile.
    const first = answerAtCommit(q, db, 1);
    await vi.waitFor(() => expect(first.answered).toBe(true));
    expect(flushes.map((f) => f.overlapped)).toEqual([true]);
    flushes[0]?.settle(new Error('EIO: fdatasync'));
    await expect(first.flushed).rejects.toMatchObject({ code: 'CS_ERR_UNAVAILABLE' });
    // That flush failed: the next one waits for its own flush, and fails with it.
    const second = answerAtCommit(q, db, 2);
    await vi.waitFor(() => expect(flushes).toHaveLength(2));
    await turn();
    expect(second.answered).toBe(false);
    expect(second.flushed).toBeUndefined();
    flushes[1]?.settle(new Error('EIO: fdatasync'));
    await expect(second.done).rejects.toMatchObject({ code: 'CS_ERR_UNAVAILABLE' });
    // So does the one after, until a flush succeeds.
    const third = answerAtCommit(q, db, 3);
    await vi.waitFor(() => expect(flushes).toHaveLength(3));
    await turn();
    expect(third.answered).toBe(false);
    flushes[2]?.settle();
    await expect(third.done).resolves.toBe(1);
    // The disk is good again.
    const fourth = answerAtCommit(q, db, 4);
    await vi.waitFor(() => expect(fourth.answered).toBe(true));
    expect(flushes).toHaveLength(4);
    flushes[3]?.settle();
    await expect(fourth.flushed).resolves.toBeUndefined();
    db.close();
  });
});

describe('WriteQueue: a write answered at commit behind a flush that never completes', () => {
  fakeTimeouts();

  it('waits for its own flush instead', async () => {
    const { db, q, flushes, recover } = hungDisk();
    void q.run(() => db.prepare('INSERT INTO t (v) VALUES (1)').run());
    await turn();
    recover();
    const w = answerAtCommit(q, db, 2);
    await turn();
    // Given up on the hung flush, the queue commits the write with a flush of its own, but an
    // earlier flush is still out: the disk is not known good, so the write waits for its flush.
    vi.advanceTimersByTime(100);
    expect(db.prepare('SELECT v FROM t ORDER BY v').all()).toEqual([{ v: 1 }, { v: 2 }]);
    await turn();
    expect(w.answered).toBe(false);
    expect(flushes).toHaveLength(1);
    flushes[0]?.();
    await expect(w.done).resolves.toBe(1);
    expect(w.flushed).toBeUndefined();
    db.close();
  });
});
