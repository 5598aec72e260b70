import type { WebhooksSectionT } from '../../config/schema.js';
import { parseDuration } from '../../util/duration.js';
import { checkDestination } from './http.js';
import { type WebhookEvent, webhookEvents } from './payload.js';
import { secretKey } from './sign.js';

export interface WebhookEndpoint {
  id: string;
  url: string;
  secrets: string[];
  events: WebhookEvent[];
}

/** `webhooks:` after validation, with durations in ms and `env:` secrets read. */
export interface WebhooksConfig {
  endpoints: WebhookEndpoint[];
  /** Secrets for per-request callback URLs; empty means callbacks are not sent. */
  callbackSecrets: string[];
  allowPrivateNetworks: string[];
  allowHttp: boolean;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

/** Reads `env:NAME` secrets. The error names the variable, never a value. */
function readSecret(value: string, where: string, env: NodeJS.ProcessEnv): string {
  const secret = value.startsWith('env:') ? env[value.slice(4)] : value;
  if (!secret) throw new Error(`${where}: environment variable ${value.slice(4)} is not set`);
  try {
    secretKey(secret);
  } catch {
    throw new Error(`${where}: not a valid whsec_ secret (base64 of at least 16 bytes after whsec_)`);
  }
  return secret;
}

export function resolveWebhooks(
  section: WebhooksSectionT | null,
  env: NodeJS.ProcessEnv = process.env,
): WebhooksConfig {
  const s = section ?? {};
  const allowHttp = s.allowHttp ?? false;
  const ids = new Set<string>();
  const endpoints = (s.endpoints ?? []).map((e, i) => {
    if (ids.has(e.id)) throw new Error(`webhooks.endpoints[${i}].id: ${e.id} is used twice`);
    ids.add(e.id);
    try {
      checkDestination(new URL(e.url), allowHttp);
    } catch (error) {
      throw new Error(`webhooks.endpoints[${i}].url: ${(error as Error).message}`);
    }
    return {
      id: e.id,
      url: e.url,
      secrets: e.secrets.map((x, j) => readSecret(x, `webhooks.endpoints[${i}].secrets[${j}]`, env)),
      events: (e.events as WebhookEvent[] | undefined) ?? [...webhookEvents],
    };
  });
  return {
    endpoints,
    callbackSecrets: (s.callbacks?.secrets ?? []).map((x, j) =>
      readSecret(x, `webhooks.callbacks.secrets[${j}]`, env),
    ),
    allowPrivateNetworks: s.allowPrivateNetworks ?? [],
    allowHttp,
    timeoutMs: parseDuration(s.timeout ?? '10s') as number,
    maxAttempts: s.maxAttempts ?? 12,
    retryBaseMs: parseDuration(s.retryBase ?? '5s') as number,
    retryMaxMs: parseDuration(s.retryMax ?? '1h') as number,
  };
}
