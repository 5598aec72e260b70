import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pendingRequest } from '../../test/support/fixtures.js';
import { CountersignError } from './errors.js';
import * as lifecycle from './lifecycle.js';
import { type ActionRequest, requestStatuses } from './request.js';

const req = (over: Partial<ActionRequest> = {}) =>
  pendingRequest({ anyOf: [{ groups: ['sre'], count: 1 }], denyThreshold: 1 }, over);

describe('lifecycle', () => {
  it('follows the diagram: only the listed transitions exist', () => {
    const legal = new Set(
      Object.entries(lifecycle.transitions).flatMap(([from, tos]) => tos.map((to) => `${from}>${to}`)),
    );
    expect([...legal].sort()).toEqual(
      [
        'allowed>executed',
        'allowed>failed',
        'approved>executed',
        'approved>failed',
        'pending>approved',
        'pending>cancelled',
        'pending>expired',
        'pending>rejected',
      ].sort(),
    );
  });

  it('refuses every transition out of a state that does not allow it', () => {
    const moves = { approve: lifecycle.approve, reject: lifecycle.reject, cancel: lifecycle.cancel };
    fc.assert(
      fc.property(
        fc.constantFrom(...requestStatuses),
        fc.constantFrom(...(Object.keys(moves) as Array<keyof typeof moves>)),
        (status, move) => {
          const r = req({ status });
          if (status === 'pending') {
            expect(moves[move](r, 5).version).toBe(r.version + 1);
          } else {
            expect(() => moves[move](r, 5)).toThrow(CountersignError);
          }
        },
      ),
    );
  });

  it('expires only once the TTL has passed', () => {
    const r = req({ expiresAt: 100 });
    expect(() => lifecycle.expire(r, 99)).toThrow(CountersignError);
    expect(lifecycle.expire(r, 100).status).toBe('expired');
  });

  it('starts the approval validity window at approval', () => {
    const approved = lifecycle.approve(req(), 1000);
    expect(approved.validUntil).toBe(1000 + 60_000);
    expect(approved.expiresAt).toBeNull();
  });

  describe('recording a result', () => {
    const approved = lifecycle.approve(req(), 1000);
    const ok = { outcome: 'succeeded' as const, detail: '' };

    it('binds to the exact action hash', () => {
      expect(() => lifecycle.recordResult(approved, 'b'.repeat(64), ok, 2000)).toThrow(/hash/);
      expect(lifecycle.recordResult(approved, approved.hash, ok, 2000).status).toBe('executed');
    });

    it('refuses after the approval validity', () => {
      const e = (() => {
        try {
          lifecycle.recordResult(approved, approved.hash, ok, 1000 + 60_001);
        } catch (err) {
          return err as CountersignError;
        }
      })();
      expect(e?.code).toBe('CS_ERR_APPROVAL_EXPIRED');
    });

    it('is kept for an action that started within the validity and outlasted it', () => {
      const late = 1000 + 60_000 + 3_600_000;
      const done = lifecycle.recordResult(approved, approved.hash, ok, late, 1000 + 60_000);
      expect(done.status).toBe('executed');
      expect(done.result?.at).toBe(late);
      // Started after the window: refused, however the start is reported.
      expect(() => lifecycle.recordResult(approved, approved.hash, ok, late, 1000 + 60_001)).toThrow(
        /valid until/,
      );
      // A start later than now counts as now.
      expect(() => lifecycle.recordResult(approved, approved.hash, ok, 1000 + 60_001, late)).toThrow(
        /valid until/,
      );
    });

    it('happens at most once', () => {
      const done = lifecycle.recordResult(approved, approved.hash, ok, 2000);
      expect(() => lifecycle.recordResult(done, approved.hash, ok, 2001)).toThrow(/already has a result/);
    });

    it('is refused for anything not allowed or approved', () => {
      for (const status of ['pending', 'denied', 'rejected', 'expired', 'cancelled'] as const) {
        expect(() => lifecycle.recordResult(req({ status }), req().hash, ok, 1)).toThrow(CountersignError);
      }
    });

    it('mayExecute agrees with recordResult', () => {
      expect(lifecycle.mayExecute(approved, approved.hash, 2000)).toBe(true);
      expect(lifecycle.mayExecute(approved, 'c'.repeat(64), 2000)).toBe(false);
      expect(lifecycle.mayExecute(approved, approved.hash, 1000 + 60_001)).toBe(false);
      expect(lifecycle.mayExecute(req(), req().hash, 1)).toBe(false);
    });
  });
});
