import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closest, editDistance } from './similar.js';

const word = fc.string({ unit: fc.constantFrom(...'abcdeXY_'), maxLength: 8 });

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and swaps of neighbours as one edit each', () => {
    expect(editDistance('port', 'port')).toBe(0);
    expect(editDistance('prot', 'port')).toBe(1);
    expect(editDistance('por', 'port')).toBe(1);
    expect(editDistance('porrt', 'port')).toBe(1);
    expect(editDistance('port', 'host')).toBe(2);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('is zero only for equal words, symmetric, and at most the longer length', () => {
    fc.assert(
      fc.property(word, word, (a, b) => {
        const d = editDistance(a, b);
        expect(d === 0).toBe(a === b);
        expect(editDistance(b, a)).toBe(d);
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
        expect(d).toBeGreaterThanOrEqual(Math.abs(a.length - b.length));
      }),
    );
  });
});

describe('closest', () => {
  const keys = ['host', 'port', 'bodyLimit', 'maxWait', 'publicUrl', 'logLevel'];

  it('names the one key a typo most likely meant', () => {
    expect(closest('prot', keys)).toBe('port');
    expect(closest('bodyLimt', keys)).toBe('bodyLimit');
    expect(closest('pubicUlr', keys)).toBe('publicUrl');
    expect(closest('log_level', keys)).toBe('logLevel');
    expect(closest('LOGLEVEL', keys)).toBe('logLevel');
  });

  it('says nothing when no key is close, or two are equally close', () => {
    expect(closest('timeout', keys)).toBeUndefined();
    expect(closest('pst', keys)).toBeUndefined();
    // One edit from both port and host.
    expect(closest('post', keys)).toBeUndefined();
    expect(closest('port', keys)).toBeUndefined();
    expect(closest('anything', [])).toBeUndefined();
  });
});
