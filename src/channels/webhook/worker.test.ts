import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from './http.js';
import { webhookEventFor } from './payload.js';
import { backoff } from './worker.js';

describe('webhook retry schedule', () => {
  it('doubles per attempt, with jitter in the upper half, capped', () => {
    expect(backoff(1, 5000, 3_600_000, () => 0)).toBe(2500);
    expect(backoff(1, 5000, 3_600_000, () => 1)).toBe(5000);
    expect(backoff(4, 5000, 3_600_000, () => 1)).toBe(40_000);
    expect(backoff(30, 5000, 3_600_000, () => 1)).toBe(3_600_000);
    expect(backoff(30, 5000, 3_600_000, () => 0)).toBe(1_800_000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('120', 0)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:30 GMT', 10_000)).toBe(20_000);
    expect(parseRetryAfter('soon', 0)).toBeNull();
    expect(parseRetryAfter(undefined, 0)).toBeNull();
  });

  it('maps audit events to webhook events', () => {
    expect(webhookEventFor({ kind: 'request.submitted', details: { status: 'pending' } })).toBe(
      'request.pending',
    );
    expect(webhookEventFor({ kind: 'request.submitted', details: { status: 'allowed' } })).toBeNull();
    expect(webhookEventFor({ kind: 'request.failed', details: {} })).toBe('request.executed');
    expect(webhookEventFor({ kind: 'review.cast', details: {} })).toBeNull();
    expect(webhookEventFor({ kind: 'request.notified', details: {} })).toBeNull();
  });
});
