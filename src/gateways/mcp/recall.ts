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
  private readonly byKey = new Map<string, { actorId: string; requestId: string }>();
  /** Entries per actor, so a call by an actor with none skips hashing its action. */
  private readonly perActor = new Map<string, number>();

  constructor(private readonly capacity = 10_000) {}

  remember(actorId: string, hash: string, requestId: string): void {
    const key = `${actorId}\u0000${hash}`;
    this.delete(key);
    this.byKey.set(key, { actorId, requestId });
    this.perActor.set(actorId, (this.perActor.get(actorId) ?? 0) + 1);
    // Map iteration is insertion order: the first key is the least recently remembered.
    if (this.byKey.size > this.capacity) {
      const oldest = this.byKey.keys().next().value;
      if (oldest !== undefined) this.delete(oldest);
    }
  }

  /** Whether any request of this actor is remembered; false means `lookup` finds nothing. */
  holds(actorId: string): boolean {
    return this.perActor.has(actorId);
  }

  lookup(actorId: string, hash: string): string | undefined {
    return this.byKey.get(`${actorId}\u0000${hash}`)?.requestId;
  }

  forget(actorId: string, hash: string, requestId: string): void {
    const key = `${actorId}\u0000${hash}`;
    if (this.byKey.get(key)?.requestId === requestId) this.delete(key);
  }

  private delete(key: string): void {
    const entry = this.byKey.get(key);
    if (!entry) return;
    this.byKey.delete(key);
    const { actorId } = entry;
    const left = (this.perActor.get(actorId) ?? 1) - 1;
    if (left > 0) this.perActor.set(actorId, left);
    else this.perActor.delete(actorId);
  }

  get size(): number {
    return this.byKey.size;
  }
}
