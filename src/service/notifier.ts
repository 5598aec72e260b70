import { EventEmitter } from 'node:events';

/**
 * Wakes whoever waits on a request when its state changes. In one process this is an event
 * emitter; across replicas the PostgreSQL store provides one built on LISTEN/NOTIFY.
 */
export interface Notifier {
  publish(requestId: string): void;
  /** Returns a function that unsubscribes. */
  subscribe(requestId: string, onChange: () => void): () => void;
}

export class InProcessNotifier implements Notifier {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Any number of agents may long-poll one request.
    this.emitter.setMaxListeners(0);
  }

  publish(requestId: string): void {
    this.emitter.emit(requestId);
  }

  subscribe(requestId: string, onChange: () => void): () => void {
    this.emitter.on(requestId, onChange);
    return () => this.emitter.off(requestId, onChange);
  }
}
