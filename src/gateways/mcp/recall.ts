/**
 * Remembers, per actor and action hash, the last request that needed a human. A repeated identical
 * call is then joined to that request instead of opening a second review: while it is pending the
 * call waits on it, once approved the call runs under it, and after a rejection the call is refused
 * at once for the deny-repeat window, so a model cannot loop a reviewer.
 *
 * The state of the request is always read back through the service; this map only says which
 * request to read. It lives in process memory: with several replicas each one learns separately,
 * so at worst a repeat on another replica opens one more review (documented in docs/mcp.md).
 */
export class Recall {
  private readonly byKey = new Map<string, string>();

  constructor(private readonly capacity = 10_000) {}

  remember(actorId: string, hash: string, requestId: string): void {
    const key = `${actorId}\u0000${hash}`;
    this.byKey.delete(key);
    this.byKey.set(key, requestId);
    // Map iteration is insertion order: the first key is the least recently remembered.
    if (this.byKey.size > this.capacity) {
      const oldest = this.byKey.keys().next().value;
      if (oldest !== undefined) this.byKey.delete(oldest);
    }
  }

  lookup(actorId: string, hash: string): string | undefined {
    return this.byKey.get(`${actorId}\u0000${hash}`);
  }

  forget(actorId: string, hash: string, requestId: string): void {
    const key = `${actorId}\u0000${hash}`;
    if (this.byKey.get(key) === requestId) this.byKey.delete(key);
  }

  get size(): number {
    return this.byKey.size;
  }
}
