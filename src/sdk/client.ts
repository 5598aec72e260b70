/**
 * The HTTP client agents and the CLI use. It imports nothing from the server, the store or any
 * native module, so `countersign/sdk` stays light (checked by a test).
 */

export type RequestStatus =
  | 'allowed'
  | 'denied'
  | 'pending'
  | 'approved'
  | 'rejected'
  | 'expired'
  | 'cancelled'
  | 'executed'
  | 'failed';

export interface ActionRequestView {
  id: string;
  status: RequestStatus;
  hash: string;
  rule: string | null;
  reason: string;
  policyVersion: string;
  action: { type: string; resource: string; params: Record<string, unknown>; justification: string };
  requester: { actor: string; name: string; principal: string | null };
  quorum: { anyOf: Array<{ groups: string[]; count: number; have: number }>; denyThreshold: number } | null;
  reviews: Array<{
    reviewer: string;
    email: string;
    name: string;
    vote: string;
    comment: string;
    groups: string[];
    via: string;
    at: string;
  }>;
  createdAt: string;
  expiresAt: string | null;
  decidedAt: string | null;
  validUntil: string | null;
  result: { outcome: string; detail: string; at: string } | null;
}

export interface AuditEventView {
  index: number;
  kind: string;
  at: string;
  requestId: string | null;
  subject: { type: string; id: string };
  details: Record<string, unknown>;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  fix: string;
  errors?: Array<{ path: string; message: string }>;
}

export class CountersignApiError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`);
    this.name = 'CountersignApiError';
  }
}

export interface SubmitAction {
  type: string;
  resource: string;
  params?: Record<string, unknown>;
  justification: string;
  callbackUrl?: string;
}

export interface ClientOptions {
  url: string;
  token: string;
  fetch?: typeof fetch;
}

export const finalStatuses: readonly RequestStatus[] = [
  'allowed',
  'denied',
  'approved',
  'rejected',
  'expired',
  'cancelled',
  'executed',
  'failed',
];

export class CountersignClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.fetchImpl(`${this.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.options.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) {
      const p = parsed as Partial<Problem> | undefined;
      throw new CountersignApiError({
        type: p?.type ?? 'about:blank',
        title: p?.title ?? `HTTP ${response.status}`,
        status: response.status,
        code: p?.code ?? 'CS_ERR_HTTP',
        fix: p?.fix ?? '',
        ...(p?.detail ? { detail: p.detail } : {}),
        ...(p?.errors ? { errors: p.errors } : {}),
      });
    }
    return parsed as T;
  }

  submit(action: SubmitAction): Promise<ActionRequestView> {
    return this.call('POST', '/v1/actions', action);
  }

  get(id: string): Promise<ActionRequestView> {
    return this.call('GET', `/v1/actions/${encodeURIComponent(id)}`);
  }

  events(id: string): Promise<{ items: AuditEventView[] }> {
    return this.call('GET', `/v1/actions/${encodeURIComponent(id)}/events`);
  }

  list(
    query: { status?: RequestStatus; limit?: number; before?: string } = {},
  ): Promise<{ items: ActionRequestView[]; next: string | null }> {
    return this.call('GET', `/v1/actions${queryString(query)}`);
  }

  /** One long-poll: returns when the request leaves pending or the server's wait ends. */
  decision(id: string, waitSeconds: number, signal?: AbortSignal): Promise<ActionRequestView> {
    return this.call(
      'GET',
      `/v1/actions/${encodeURIComponent(id)}/decision?wait=${Math.floor(waitSeconds)}`,
      undefined,
      signal,
    );
  }

  /** Long-polls until the request leaves pending or `timeoutSeconds` pass. */
  async waitForDecision(id: string, timeoutSeconds: number): Promise<ActionRequestView> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      const view = await this.decision(id, Math.max(0, Math.min(left, 55)));
      if (view.status !== 'pending' || left <= 0) return view;
    }
  }

  cancel(id: string): Promise<ActionRequestView> {
    return this.call('POST', `/v1/actions/${encodeURIComponent(id)}/cancel`);
  }

  review(id: string, vote: 'approve' | 'deny', comment?: string): Promise<ActionRequestView> {
    return this.call('POST', `/v1/actions/${encodeURIComponent(id)}/reviews`, {
      vote,
      ...(comment ? { comment } : {}),
    });
  }

  result(
    id: string,
    outcome: 'succeeded' | 'failed',
    hash: string,
    detail?: string,
  ): Promise<ActionRequestView> {
    return this.call('POST', `/v1/actions/${encodeURIComponent(id)}/result`, {
      outcome,
      hash,
      ...(detail ? { detail } : {}),
    });
  }

  /**
   * One page of the requests this reviewer may vote on, newest first. A page may hold fewer than
   * `limit` items (even none) while `next` is set: pass `next` as `before` until it is null.
   */
  pendingReviews(
    page: { limit?: number; before?: string } = {},
  ): Promise<{ items: ActionRequestView[]; next: string | null }> {
    return this.call('GET', `/v1/reviews/pending${queryString(page)}`);
  }

  whoami(): Promise<{ kind: string; id: string; name: string; principal: string | null; groups: string[] }> {
    return this.call('GET', '/v1/whoami');
  }
}

/** `?k=v&…` of the defined values, or nothing. */
function queryString(query: Record<string, string | number | undefined>): string {
  const qs = new URLSearchParams(
    Object.entries(query)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]): [string, string] => [k, String(v)]),
  );
  return qs.size ? `?${qs}` : '';
}
