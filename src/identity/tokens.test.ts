import { describe, expect, it } from 'vitest';
import type { Credential } from '../store/store.js';
import { hashSecret, secretMatches } from './tokens.js';

const stored = (secretHash: string) => ({ secretHash }) as Credential;

describe('secret hashes', () => {
  it('stores lower-case hex SHA-256, the form every existing database holds', () => {
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('matches only the secret that was hashed, and never a malformed stored hash', () => {
    const secret = 'k'.repeat(52);
    expect(secretMatches(stored(hashSecret(secret)), secret)).toBe(true);
    expect(secretMatches(stored(hashSecret(secret)), `${secret.slice(0, -1)}j`)).toBe(false);
    expect(secretMatches(stored(hashSecret(secret).slice(0, 62)), secret)).toBe(false);
    expect(secretMatches(stored(''), secret)).toBe(false);
  });
});
