import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { requestIdPattern } from '../core/request.js';
import { newId } from './ids.js';

describe('newId', () => {
  it('mints request ids of the documented form at any time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (now) => {
        expect(newId('req', now)).toMatch(requestIdPattern);
      }),
    );
  });

  it('sorts ids by creation time, which paging with before relies on', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 2 }), fc.integer({ min: 1, max: 10_000 }), (t, dt) => {
        const later = Math.min(t + dt, 2 ** 48 - 1);
        expect(newId('req', t) < newId('req', later)).toBe(true);
      }),
    );
  });

  it('does not take other prefixes or altered ids for request ids', () => {
    const id = newId('req');
    for (const bad of [newId('css'), id.toUpperCase(), `${id}x`, id.slice(0, -1), id.replace(/.$/, 'u'), ''])
      expect(bad).not.toMatch(requestIdPattern);
  });
});
