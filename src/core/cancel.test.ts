import { describe, expect, it } from 'vitest';
import { asAbortSignal, CallCancel } from './cancel.js';

describe('CallCancel', () => {
  it('runs each listener once on the first abort, and none that was removed', () => {
    const c = new CallCancel();
    const heard: string[] = [];
    const kept = () => heard.push('kept');
    const removed = () => heard.push('removed');
    c.addEventListener('abort', kept);
    c.addEventListener('abort', removed);
    c.removeEventListener('abort', removed);
    expect(c.aborted).toBe(false);
    expect(() => c.throwIfAborted()).not.toThrow();
    c.abort();
    c.abort(new Error('again'));
    expect(heard).toEqual(['kept']);
    expect(c.aborted).toBe(true);
    // As AbortController: no reason given means an AbortError, and the first reason stays.
    expect(c.reason).toBeInstanceOf(DOMException);
    expect((c.reason as DOMException).name).toBe('AbortError');
    expect(() => c.throwIfAborted()).toThrow(c.reason as DOMException);
  });

  it('does not call a listener added after the abort', () => {
    const c = new CallCancel();
    c.abort('gone');
    let called = false;
    c.addEventListener('abort', () => {
      called = true;
    });
    expect(called).toBe(false);
    expect(c.reason).toBe('gone');
  });

  it('becomes an AbortSignal that aborts with it, with the same reason', () => {
    const c = new CallCancel();
    const signal = asAbortSignal(c);
    expect(signal.aborted).toBe(false);
    c.abort('cancelled by the client');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('cancelled by the client');
    const late = new CallCancel();
    late.abort('before');
    expect(asAbortSignal(late).reason).toBe('before');
    const native = new AbortController().signal;
    expect(asAbortSignal(native)).toBe(native);
  });
});
