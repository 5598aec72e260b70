import type { RequestSnapshot } from '../store/store.js';

/**
 * Where reviewers are asked. A channel only informs and carries verified clicks back to the
 * service; it never decides eligibility. Failures are the channel's own: a channel that is down
 * must never change a request's state.
 */
export interface Channel {
  readonly name: string;
  /** A request became pending and needs reviews. */
  requestPending(snapshot: RequestSnapshot): Promise<void>;
  /** A vote arrived, or the request left `pending` (decided, expired, cancelled, executed). */
  requestUpdated(snapshot: RequestSnapshot): Promise<void>;
}
