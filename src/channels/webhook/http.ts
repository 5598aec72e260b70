import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { type AddressPolicy, SsrfError } from './ssrf.js';

export interface PostResult {
  status: number;
  /** The Retry-After header in ms, when the receiver sent one. */
  retryAfterMs: number | null;
}

export interface PostOptions {
  addresses: AddressPolicy;
  allowHttp: boolean;
  timeoutMs: number;
  /** For HTTP-date Retry-After values. */
  now: number;
}

/** A URL the delivery may not even try, with the reason; permanent, so never retried. */
export class DestinationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationError';
  }
}

/** Only the origin of a URL goes into logs: paths and queries of webhook URLs often carry secrets. */
export function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The URL's host when it is an IP address (without an IPv6 literal's brackets), else null. */
export function ipLiteral(url: URL): string | null {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) === 0 ? null : host;
}

export function checkDestination(url: URL, allowHttp: boolean): void {
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    throw new DestinationError(`${url.protocol} URLs are not delivered to; use https://`);
  }
  if (url.username || url.password) throw new DestinationError('URLs with credentials are not delivered to');
}

/**
 * POSTs a JSON body. No redirects are followed (a 3xx is a failed attempt), the connection only
 * reaches addresses the AddressPolicy permits, and the response body is discarded unread.
 */
export async function postJson(
  target: string,
  headers: Record<string, string>,
  body: string,
  options: PostOptions,
): Promise<PostResult> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new DestinationError('the URL is not valid');
  }
  checkDestination(url, options.allowHttp);
  // Node connects to an IP literal without calling `lookup`, so literals are checked here.
  const literal = ipLiteral(url);
  if (literal && !options.addresses.permits(literal)) throw new SsrfError(literal, literal);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<PostResult>((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'Countersign-Webhooks/1',
        },
        lookup: options.addresses.lookup(),
        timeout: options.timeoutMs,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfterMs: parseRetryAfter(res.headers['retry-after'], options.now),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no response within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
