import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64 } from './base64.js';

describe('decodeBase64', () => {
  it('round-trips every byte string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(decodeBase64(Buffer.from(bytes).toString('base64'))).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('refuses an encoding whose unused trailing bits are set', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 100 }),
        fc.integer({ min: 1, max: 15 }),
        (bytes, flip) => {
          const text = Buffer.from(bytes).toString('base64');
          const pad = text.endsWith('==') ? 4 : text.endsWith('=') ? 2 : 0;
          fc.pre(pad > 0);
          const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
          const last = text.length - 1 - pad / 2;
          const value = alphabet.indexOf(text[last] as string) ^ (flip & ((1 << pad) - 1));
          fc.pre(value !== alphabet.indexOf(text[last] as string));
          const altered = text.slice(0, last) + alphabet[value] + text.slice(last + 1);
          expect(Buffer.from(altered, 'base64')).toEqual(Buffer.from(bytes)); // what Node alone would accept
          expect(decodeBase64(altered)).toBeUndefined();
        },
      ),
    );
  });
});
