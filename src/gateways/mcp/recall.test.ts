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
});
