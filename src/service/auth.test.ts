import { describe, expect, it } from 'vitest';
import { bearerToken } from './auth.js';

describe('bearerToken', () => {
  it('reads the token of a Bearer header, whatever the scheme case, and nothing else', () => {
    expect(bearerToken('Bearer csk_abc.def')).toBe('csk_abc.def');
    expect(bearerToken('bearer csk_abc.def ')).toBe('csk_abc.def');
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(bearerToken('csk_abc.def')).toBeUndefined();
    expect(bearerToken('')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
