import { hash, timingSafeEqual } from 'node:crypto';
import type { Credential, CredentialKind } from '../store/store.js';
import { newId, newSecret } from '../util/ids.js';

/**
 * Tokens look like `csk_<id>.<secret>` (agent keys) and `csr_<id>.<secret>` (reviewer tokens).
 * The prefix makes a leaked token recognisable to secret scanners; the id finds the stored
 * credential without a scan; only SHA-256 of the 256-bit secret is stored.
 */
const prefixes: Record<CredentialKind, string> = { agent_key: 'csk', reviewer_token: 'csr' };
const shape = /^(cs[kr])_([0-9a-z]{26})\.([0-9a-z]{52})$/;

export interface ParsedToken {
  kind: CredentialKind;
  id: string;
  secret: string;
}

export function parseToken(token: string): ParsedToken | undefined {
  const m = shape.exec(token);
  if (!m) return undefined;
  const kind = m[1] === 'csk' ? 'agent_key' : 'reviewer_token';
  return { kind, id: `${m[1]}_${m[2]}`, secret: m[3] as string };
}

export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Checked on every request: the one-shot hash, compared as bytes, in constant time. */
export function secretMatches(credential: Credential, secret: string): boolean {
  const a = Buffer.from(credential.secretHash, 'hex');
  const b = hash('sha256', secret, 'buffer');
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface NewCredential {
  kind: CredentialKind;
  name: string;
  owner: string;
  now: number;
  expiresAt?: number | null;
  allowedTypes?: string[] | null;
  labels?: Record<string, string>;
}

/** Creates a credential and the token to show once. The token is never stored. */
export function issueCredential(input: NewCredential): { credential: Credential; token: string } {
  const id = newId(prefixes[input.kind], input.now);
  const secret = newSecret(32);
  const credential: Credential = {
    id,
    kind: input.kind,
    name: input.name,
    owner: input.owner,
    secretHash: hashSecret(secret),
    createdAt: input.now,
    expiresAt: input.expiresAt ?? null,
    revokedAt: null,
    allowedTypes: input.allowedTypes ?? null,
    labels: input.labels ?? {},
  };
  return { credential, token: `${id}.${secret}` };
}
