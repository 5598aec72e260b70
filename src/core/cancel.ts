/**
 * What waiting on a cancellable call needs of its signal: an AbortSignal is one, and so is a
 * CallCancel's.
 */
export interface Cancellation {
  readonly aborted: boolean;
  readonly reason: unknown;
  throwIfAborted(): void;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A one-shot cancellation for one call, with the part of AbortController's contract the gateway
 * uses. An AbortSignal is an EventTarget, and adding and removing one listener on it costs about
 * as much as the rest of forwarding a call past the SDK (decision 0009); every forwarded call
 * pays that while almost none is ever cancelled.
 */
export class CallCancel implements Cancellation {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Set<() => void> | undefined;

  /** Aborts once; later calls do nothing. Without a reason, as AbortController: an AbortError. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const listener of listeners) listener();
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** Every listener runs at most once, on abort, so `once` changes nothing. */
  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    this.listeners ??= new Set();
    this.listeners.add(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners?.delete(listener);
  }
}

/** The same cancellation as an AbortSignal, for APIs that take only that. */
export function asAbortSignal(c: Cancellation): AbortSignal {
  if (c instanceof AbortSignal) return c;
  const controller = new AbortController();
  if (c.aborted) controller.abort(c.reason);
  else c.addEventListener('abort', () => controller.abort(c.reason), { once: true });
  return controller.signal;
}
