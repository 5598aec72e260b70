/** Slack answers with `ok: false` and an error code; these will not get better by retrying. */
const permanent = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'msg_too_long',
  'invalid_blocks',
  'invalid_blocks_format',
  'invalid_arguments',
  'message_not_found',
  'cant_update_message',
  'user_not_found',
  'expired_trigger_id',
  'invalid_trigger_id',
  'view_too_large',
  'invalid_arg_name',
]);

/** A Web API call that failed; the message names the method and Slack's error code, never a token. */
export class SlackApiError extends Error {
  constructor(
    readonly method: string,
    readonly error: string,
    readonly retryable: boolean,
    readonly retryAfterMs: number | null = null,
  ) {
    super(`Slack ${method} failed: ${error}`);
    this.name = 'SlackApiError';
  }
}

export interface WebApiOptions {
  baseUrl: string;
  token: string;
  attempts: number;
  retryBaseMs: number;
  timeoutMs?: number;
  /** Injected in tests so retries take no wall time. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export type SlackResponse = { ok: boolean; error?: string } & Record<string, unknown>;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * The few Slack Web API methods we call, as plain JSON POSTs (no SDK: the surface is five
 * methods, and the SDK would bring its own HTTP stack and retry policy). Retries transport errors,
 * 5xx and rate limits with exponential backoff and jitter, honouring Retry-After.
 */
export class SlackWebApi {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: WebApiOptions) {
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
  }

  async call(
    method: string,
    body: Record<string, unknown>,
    token = this.options.token,
  ): Promise<SlackResponse> {
    let last: SlackApiError | undefined;
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      try {
        return await this.once(method, body, token);
      } catch (error) {
        last = error instanceof SlackApiError ? error : new SlackApiError(method, describe(error), true);
        if (!last.retryable || attempt === this.options.attempts) break;
        const step = this.options.retryBaseMs * 2 ** (attempt - 1);
        await this.sleep(Math.max(last.retryAfterMs ?? 0, Math.round(step / 2 + (step / 2) * this.random())));
      }
    }
    throw last ?? new SlackApiError(method, 'no attempt was made', false);
  }

  /**
   * One attempt with a short timeout, for calls that are useless late: a `trigger_id` (views.open)
   * is valid for three seconds.
   */
  callOnce(method: string, body: Record<string, unknown>, timeoutMs = 2500): Promise<SlackResponse> {
    return this.once(method, body, this.options.token, timeoutMs).catch((error: unknown) => {
      throw error instanceof SlackApiError ? error : new SlackApiError(method, describe(error), false);
    });
  }

  private async once(
    method: string,
    body: Record<string, unknown>,
    token: string,
    timeoutMs = this.options.timeoutMs ?? 10_000,
  ): Promise<SlackResponse> {
    const res = await fetch(`${this.options.baseUrl}/${method}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    if (res.status === 429 || res.status >= 500) {
      const after = Number(res.headers.get('retry-after'));
      await res.body?.cancel();
      return Promise.reject(
        new SlackApiError(
          method,
          `HTTP ${res.status}`,
          true,
          Number.isFinite(after) && after > 0 ? after * 1000 : null,
        ),
      );
    }
    const json = (await res
      .json()
      .catch(() => ({ ok: false, error: `HTTP ${res.status}, not JSON` }))) as SlackResponse;
    if (!json.ok) {
      const code = typeof json.error === 'string' ? json.error : 'unknown_error';
      throw new SlackApiError(method, code, !permanent.has(code));
    }
    return json;
  }
}

function describe(error: unknown): string {
  const e = error as { name?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.name ?? 'network error';
}
