import { afterEach, describe, expect, it, vi } from 'vitest';
import { within } from './deadline.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('within', () => {
  it('passes on a value or an error that comes in time', async () => {
    await expect(within(Promise.resolve(7), 1000, 'late')).resolves.toBe(7);
    await expect(within(Promise.reject(new Error('EIO')), 1000, 'late')).rejects.toThrow('EIO');
  });

  it('rejects with its message once the time is up, and not before', async () => {
    vi.useFakeTimers();
    let state = 'pending';
    within(new Promise(() => {}), 5000, 'a store write did not complete').then(
      () => (state = 'resolved'),
      (e: Error) => (state = e.message),
    );
    await vi.advanceTimersByTimeAsync(4999);
    expect(state).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(state).toBe('a store write did not complete');
  });

  it('leaves no timer behind once settled', async () => {
    vi.useFakeTimers();
    await within(Promise.resolve(1), 5000, 'late');
    expect(vi.getTimerCount()).toBe(0);
  });
});
