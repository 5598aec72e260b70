import { InvalidArgumentError } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { integerIn } from './output.js';

describe('integerIn', () => {
  it('takes exactly the whole numbers in range, whatever the text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.integer({ min: -100_000, max: 100_000 }).map(String),
          fc.double().map(String),
        ),
        (text) => {
          const parse = integerIn(0, 65_535);
          const n = Number(text);
          const valid = /^\s*-?\d+\s*$/.test(text) && Number.isSafeInteger(n) && n >= 0 && n <= 65_535;
          if (valid) expect(parse(text)).toBe(n);
          else expect(() => parse(text)).toThrow(InvalidArgumentError);
        },
      ),
    );
  });

  it('refuses what Number.parseInt would have let through', () => {
    const port = integerIn(0, 65_535);
    for (const bad of ['abc', '', '8080abc', '1.5', '-1', '99999', '0x50', '1e3'])
      expect(() => port(bad), bad).toThrow('expected a whole number from 0 to 65535');
    expect(port('8080')).toBe(8080);
  });
});
