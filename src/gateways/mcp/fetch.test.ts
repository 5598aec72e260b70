import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { isolatingFetch } from './fetch.js';

describe('isolatingFetch', () => {
  it('leaves no listener on the shared signal after POST requests settle', async () => {
    const shared = new AbortController();
    const seen: AbortSignal[] = [];
    const f = isolatingFetch(async (_url, init) => {
      seen.push(init?.signal as AbortSignal);
      return new Response('{}');
    });
    for (let i = 0; i < 50; i++) await f('http://127.0.0.1/x', { method: 'POST', signal: shared.signal });
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
    expect(seen.every((s) => s !== shared.signal)).toBe(true);
  });

  it('aborts an in-flight request when the shared signal aborts', async () => {
    const shared = new AbortController();
    const f = isolatingFetch(
      (_url, init) =>
        new Promise((_, reject) =>
          init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
        ),
    );
    const pending = f('http://127.0.0.1/x', { method: 'POST', signal: shared.signal });
    shared.abort();
    await expect(pending).rejects.toThrow('aborted');
  });

  it('passes GET requests (the long-lived stream) through with the shared signal', async () => {
    const shared = new AbortController();
    let got: AbortSignal | undefined;
    const f = isolatingFetch(async (_url, init) => {
      got = init?.signal ?? undefined;
      return new Response('');
    });
    await f('http://127.0.0.1/x', { method: 'GET', signal: shared.signal });
    expect(got).toBe(shared.signal);
  });
});
