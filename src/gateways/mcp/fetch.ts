import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

/**
 * A fetch for long-lived upstream connections. The SDK's Streamable HTTP client passes one
 * connection-wide AbortSignal to every request, and Node's fetch adds a listener to it per request
 * that is only removed on abort or garbage collection: under steady traffic the listeners pile up
 * (MaxListenersExceededWarning, growing memory). Each POST/DELETE here gets its own signal, linked to
 * the connection's until the request settles; a POST's event stream is the answer to one request
 * and ends with it. The long-lived GET stream keeps the link, so closing the connection still
 * cancels it.
 */
export function isolatingFetch(base: FetchLike = fetch): FetchLike {
  return async (url, init) => {
    const parent = init?.signal;
    if (!parent || (init?.method ?? 'GET').toUpperCase() === 'GET') return base(url, init);
    parent.throwIfAborted();
    const own = new AbortController();
    const forward = () => own.abort(parent.reason);
    parent.addEventListener('abort', forward, { once: true });
    try {
      return await base(url, { ...init, signal: own.signal });
    } finally {
      parent.removeEventListener('abort', forward);
    }
  };
}
