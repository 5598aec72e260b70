import { describe, expect, it } from 'vitest';
import type { ActionRequest } from '../core/request.js';
import type { RequestSnapshot } from '../store/store.js';
import type { Channel } from './channel.js';

/** What a channel implementation gives the contract suite. */
export interface ChannelFixture {
  channel: Channel;
  /** Makes every outgoing call of the channel fail (its receiver is down). */
  breakTransport(): void;
  /** Waits until the channel has nothing in flight. */
  settle(): Promise<void>;
  cleanup(): Promise<void>;
}

const now = Date.UTC(2026, 0, 1);

export function sampleSnapshot(status: ActionRequest['status'] = 'pending'): RequestSnapshot {
  return {
    request: {
      id: 'req_06h06evmm0bhx869ydktkfkgw0',
      status,
      action: { type: 'deploy.service', resource: 'prod/api', params: { v: '1' }, justification: 'release' },
      hash: 'a'.repeat(64),
      requester: { id: 'csk_1', name: 'bot', principal: 'dana@example.com', via: 'api_key' },
      policy: { version: 'v1', rule: 'r', reason: 'matched', decision: 'require_approval' },
      requirement: { anyOf: [{ groups: ['sre'], count: 1 }], denyThreshold: 1 },
      timers: { pendingTtlMs: 3_600_000, approvalValidityMs: 900_000 },
      createdAt: now,
      updatedAt: now,
      expiresAt: status === 'pending' ? now + 3_600_000 : null,
      decidedAt: null,
      validUntil: null,
      result: null,
      callbackUrl: null,
      version: 1,
    },
    reviews: [],
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * The contract every channel keeps (Slack, webhook, and those to come): it informs, it never
 * changes what it is given, and a broken transport surfaces as a rejected promise the service can
 * log and count — never as a synchronous throw that would break the caller.
 */
export function runChannelContract(name: string, make: () => Promise<ChannelFixture>): void {
  describe(`${name}: Channel contract`, () => {
    it('has a stable, non-empty name', async () => {
      const f = await make();
      try {
        expect(f.channel.name).toMatch(/^[a-z][a-z0-9-]*$/);
      } finally {
        await f.cleanup();
      }
    });

    it('never modifies the snapshot it is given', async () => {
      const f = await make();
      try {
        await f.channel.requestPending(deepFreeze(sampleSnapshot()));
        await f.channel.requestUpdated(deepFreeze(sampleSnapshot('approved')));
        await f.settle();
      } finally {
        await f.cleanup();
      }
    });

    it('a broken transport is a rejected promise or a quiet retry, never a synchronous throw', async () => {
      const f = await make();
      try {
        f.breakTransport();
        let pending: Promise<void> | undefined;
        expect(() => {
          pending = f.channel.requestPending(sampleSnapshot());
        }).not.toThrow();
        await pending?.catch(() => undefined);
        await f.settle();
      } finally {
        await f.cleanup();
      }
    });
  });
}
