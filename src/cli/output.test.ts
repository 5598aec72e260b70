import { InvalidArgumentError } from 'commander';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ErrorCode, errorCodes } from '../core/errors.js';
import { CountersignApiError, type Problem } from '../sdk/client.js';
import { exit, integerIn, report } from './output.js';

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

/** What report() writes to stderr for a problem the gateway answered with. */
function reported(problem: Partial<Problem> & { code: string }): { code: number; err: string } {
  let err = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  const code = report(
    new CountersignApiError({ type: 'about:blank', title: 'T', status: 400, fix: '', ...problem }),
  );
  return { code, err };
}

describe('report', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('says what to do in commands and flags, never in HTTP terms, for every gateway error code', () => {
    const http = /\/v1\/|\/auth\/|\b(GET|POST)\b|Authorization|Content-Type|`errors`|this response/;
    for (const [code, { status, title, fix }] of Object.entries(errorCodes)) {
      const { err } = reported({ code: code as ErrorCode, status, title, fix });
      expect(err, code).toMatch(/\nhint: \S/);
      expect(err, code).not.toMatch(http);
    }
  });

  it('prints a validation problem in one line, each field once and without its HTTP location', () => {
    const repeated = { path: 'querystring/status', message: 'must be equal to constant' };
    const { code, err } = reported({
      code: 'CS_ERR_VALIDATION',
      title: 'Invalid request',
      detail: Array(9).fill('querystring/status must be equal to constant').join('; '),
      errors: [...Array(9).fill(repeated), { path: 'body/hash', message: 'must match pattern' }],
    });
    expect(code).toBe(exit.apiError);
    expect(err.split('\n')[0]).toBe(
      'error: Invalid request: status must be equal to constant; hash must match pattern',
    );
    expect(err.split('\n')).toHaveLength(3);
  });
});
