import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Recall } from './recall.js';

describe('Recall', () => {
  it('remembers per actor and hash, and forgets only the request it was given', () => {
    const r = new Recall();
    r.remember('a', 'h', 'req_1');
    expect(r.lookup('a', 'h')).toBe('req_1');
    expect(r.lookup('b', 'h')).toBeUndefined();
    r.forget('a', 'h', 'req_other');
    expect(r.lookup('a', 'h')).toBe('req_1');
    r.forget('a', 'h', 'req_1');
    expect(r.lookup('a', 'h')).toBeUndefined();
  });

  it('is bounded: the least recently remembered entry goes first', () => {
    const r = new Recall(2);
    r.remember('a', '1', 'req_1');
    r.remember('a', '2', 'req_2');
    r.remember('a', '1', 'req_1b'); // refreshed
    r.remember('a', '3', 'req_3');
    expect(r.size).toBe(2);
    expect(r.lookup('a', '2')).toBeUndefined();
    expect(r.lookup('a', '1')).toBe('req_1b');
  });

  // The guard skips hashing a call when holds() is false, so holds() must never be false while
  // lookup() would find something: that would let a repeat after a rejection through.
  it('holds an actor exactly while some request of that actor is remembered', () => {
    const actors = ['a', 'b', 'c'];
    const op = fc.record({
      kind: fc.constantFrom('remember', 'forget'),
      actor: fc.constantFrom(...actors),
      hash: fc.constantFrom('h1', 'h2', 'h3'),
      request: fc.constantFrom('req_1', 'req_2'),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        const r = new Recall(capacity);
        for (const o of ops) {
          if (o.kind === 'remember') r.remember(o.actor, o.hash, o.request);
          else r.forget(o.actor, o.hash, o.request);
          for (const a of actors) {
            const any = ['h1', 'h2', 'h3'].some((h) => r.lookup(a, h) !== undefined);
            expect(r.holds(a)).toBe(any);
          }
        }
      }),
    );
  });
});
