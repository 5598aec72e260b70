import { describe, expect, it } from 'vitest';
import { sampleSnapshot } from '../channel.case.js';
import { resolveWebhooks } from './config.js';
import { parseRetryAfter } from './http.js';
import { deriveMessages } from './index.js';
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

describe('which messages an event produces', () => {
  const secret = `whsec_${Buffer.alloc(24, 3).toString('base64')}`;
  const config = resolveWebhooks({
    endpoints: [
      { id: 'siem', url: 'https://siem.example/h', secrets: [secret] },
      { id: 'chatops', url: 'https://ops.example/h', secrets: [secret], events: ['request.approved'] },
    ],
    callbacks: { secrets: [secret] },
  });
  const derive = deriveMessages(config);
  const pendingEvent = {
    kind: 'request.submitted' as const,
    at: 0,
    requestId: 'r',
    subject: { type: 'system' as const, id: 's' },
    details: { status: 'pending' },
  };
  const targets = (
    channels: string[] | undefined,
    callbackUrl: string | null = 'https://agent.example/cb',
  ) => {
    const snap = sampleSnapshot();
    snap.request.callbackUrl = callbackUrl;
    if (channels) snap.request.policy.channels = channels;
    return derive(pendingEvent, () => snap).map((m) => m.target);
  };

  it('follows the rule channels and the endpoint event filter; always calls the callback', () => {
    expect(targets(undefined)).toEqual(['siem', 'callback']);
    expect(targets(['slack', 'webhook'])).toEqual(['siem', 'callback']);
    expect(targets(['slack'])).toEqual(['callback']);
    expect(targets(['webhook:chatops'])).toEqual(['callback']); // chatops takes only approvals
    expect(targets(['slack'], null)).toEqual([]);
  });

  it('gives every message its own stable id', () => {
    const snap = sampleSnapshot();
    const ids = derive(pendingEvent, () => snap).map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^msg_[0-9a-z]{26}$/);
  });
});
