import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KEY_ROTATED, RotationScanner } from './rotation.js';

type Line = 'plain' | 'rotation' | 'decoy' | 'incomplete';

/** One canonical log line of each sort; only 'rotation' is a key rotation. */
function line(sort: Line, i: number): string {
  const subject = { type: 'operator', id: 'ops' };
  if (sort === 'rotation')
    return JSON.stringify({
      at: i,
      details: { newKey: `new-${i}`, origin: 'o', previousKey: `old-${i}` },
      kind: KEY_ROTATED,
      subject,
    });
  if (sort === 'incomplete')
    return JSON.stringify({ at: i, details: { previousKey: `old-${i}` }, kind: KEY_ROTATED, subject });
  // A value that quotes the marker: the byte search matches, the parse must not.
  if (sort === 'decoy')
    return JSON.stringify({
      at: i,
      details: { note: `"kind":"${KEY_ROTATED}"` },
      kind: 'actor.created',
      subject,
    });
  return JSON.stringify({ at: i, details: { i }, kind: 'actor.created', subject });
}

describe('RotationScanner', () => {
  it('finds exactly the rotation entries, with their indexes, however the lines are chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<Line>('plain', 'plain', 'rotation', 'decoy', 'incomplete'), {
          maxLength: 60,
        }),
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 60 }),
        (sorts, sizes) => {
          const lines = sorts.map((s, i) => `${line(s, i)}\n`);
          const scanner = new RotationScanner();
          // Whole-line chunks of varying sizes, as the verifier reads them.
          for (let at = 0, k = 0; at < lines.length; k++) {
            const n = sizes[k % sizes.length] as number;
            scanner.scan(Buffer.from(lines.slice(at, at + n).join('')));
            at += n;
          }
          const expected = sorts.flatMap((s, i) =>
            s === 'rotation' ? [{ index: i, previousKey: `old-${i}`, newKey: `new-${i}` }] : [],
          );
          expect(scanner.found).toEqual(expected);
        },
      ),
    );
  });
});
