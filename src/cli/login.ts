import { spawn } from 'node:child_process';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CountersignError } from '../core/errors.js';
import type { Problem } from '../sdk/client.js';
import { GatewayUnreachable, networkCause } from './output.js';

export interface CliLoginOptions {
  /** Gateway base URL. */
  url: string;
  /** Step-up: ask the IdP for a login within this many seconds. */
  maxAgeSec?: number;
  /** Opens the sign-in URL in a browser (tests drive it with an HTTP client instead). */
  open: (url: string) => void | Promise<void>;
  /** How long to wait for the browser to come back. */
  timeoutMs?: number;
}

export interface CliCredential {
  url: string;
  token: string;
  expiresAt: string;
  reviewer: string;
}

const b64url = (b: Buffer) => b.toString('base64url');

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const donePage =
  '<!doctype html><meta charset="utf-8"><title>Countersign</title><p>Signed in. You can close this tab and return to the terminal.</p>';

/**
 * Waits on 127.0.0.1 (random port) for the browser to bring back a one-time code. Only a
 * request carrying this login's own random state is accepted.
 */
async function loopbackReceiver(state: string, timeoutMs: number) {
  let settle: { resolve: (code: string) => void; reject: (e: Error) => void } | undefined;
  const code = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const got = u.searchParams.get('code');
    if (u.pathname !== '/callback' || !got || !same(u.searchParams.get('state') ?? '', state)) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('This is not the sign-in you started.');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(donePage);
    settle?.resolve(got);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const timer = setTimeout(
    () =>
      settle?.reject(
        new CountersignError(
          'CS_ERR_LOGIN_FAILED',
          'no sign-in arrived in time; run `countersign login` again',
        ),
      ),
    timeoutMs,
  );
  const port = (server.address() as AddressInfo).port;
  const close = () => {
    clearTimeout(timer);
    server.closeAllConnections();
    server.close();
  };
  return { redirect: `http://127.0.0.1:${port}/callback?state=${state}`, code, close };
}

/** Where an operator learns to connect an identity provider. */
const oidcHowTo = 'docs/identity.md#reviewers-through-oidc';

/** Longest the check before sign-in waits for the gateway (which may itself be asking the IdP). */
const CHECK_TIMEOUT_MS = 30_000;

/**
 * Before anyone is sent to a browser: one request for the very sign-in URL the browser will open.
 * A gateway with OIDC sign-in answers it with a redirect to the IdP; one without answers
 * `404 CS_ERR_NOT_FOUND`, one whose IdP is down `503 CS_ERR_IDP_UNAVAILABLE`. Without this check
 * the CLI would wait out its whole deadline for a browser that can never come back. (The
 * gateway records an unused login state for it, which expires with every other one.)
 */
async function checkSignIn(base: string, start: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(start, { redirect: 'manual', signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
  } catch (e) {
    const why =
      (e as Error).name === 'TimeoutError'
        ? `no answer within ${CHECK_TIMEOUT_MS / 1000} s`
        : (networkCause(e) ?? (e as Error).message);
    throw new GatewayUnreachable(
      `cannot reach the gateway at ${base} (${why}); start it with \`countersign serve\`, or point to it with --url or COUNTERSIGN_URL`,
    );
  }
  if (res.status >= 300 && res.status < 400 && res.headers.has('location')) return;
  const text = await res.text().catch(() => '');
  let problem: Partial<Problem> | undefined;
  try {
    problem = JSON.parse(text) as Partial<Problem>;
  } catch {
    problem = undefined;
  }
  if (!problem?.code)
    throw new GatewayUnreachable(
      `${base} answered ${res.status} to /auth/login, not a Countersign sign-in; check --url or COUNTERSIGN_URL`,
    );
  if (problem.code === 'CS_ERR_NOT_FOUND')
    throw new CountersignError(
      'CS_ERR_NOT_FOUND',
      `the gateway at ${base} has no identity provider configured, so reviewers cannot sign in there; an operator sets identity.oidc (see ${oidcHowTo})`,
    );
  if (problem.code === 'CS_ERR_IDP_UNAVAILABLE')
    throw new CountersignError(
      'CS_ERR_IDP_UNAVAILABLE',
      `the gateway at ${base} cannot reach its identity provider; try again later, or ask an operator to check identity.oidc.issuer`,
    );
  throw new CountersignError(
    res.status >= 500 ? 'CS_ERR_INTERNAL' : 'CS_ERR_LOGIN_FAILED',
    `the gateway at ${base} refused to start a sign-in (${res.status} ${problem.code}${problem.detail ? `: ${problem.detail}` : ''})`,
  );
}

/**
 * `countersign login`: OAuth-style loopback flow (RFC 8252) against the gateway, which runs the
 * real OIDC login. The gateway hands back a one-time code bound to our PKCE challenge, so a code
 * seen by another local process is useless without the verifier that never leaves this process.
 */
export async function cliLogin(opts: CliLoginOptions): Promise<CliCredential> {
  const base = opts.url.replace(/\/+$/, '');
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const receiver = await loopbackReceiver(b64url(randomBytes(16)), opts.timeoutMs ?? 5 * 60_000);
  try {
    const start = new URL(`${base}/auth/login`);
    start.searchParams.set('cli_redirect', receiver.redirect);
    start.searchParams.set('cli_challenge', challenge);
    if (opts.maxAgeSec !== undefined) start.searchParams.set('max_age', String(opts.maxAgeSec));
    await checkSignIn(base, start.href);
    await opts.open(start.href);
    const code = await receiver.code;
    const res = await fetch(`${base}/auth/cli/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code, verifier }),
    });
    const body = (await res.json()) as {
      token?: string;
      expiresAt?: string;
      reviewer?: string;
      detail?: string;
    };
    if (!res.ok || !body.token)
      throw new CountersignError('CS_ERR_LOGIN_FAILED', body.detail ?? `the gateway answered ${res.status}`);
    return {
      url: base,
      token: body.token,
      expiresAt: body.expiresAt as string,
      reviewer: body.reviewer as string,
    };
  } finally {
    receiver.close();
  }
}

/** Where `countersign login` keeps the reviewer token: 0600, in the user's config directory. */
export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.COUNTERSIGN_CREDENTIALS) return env.COUNTERSIGN_CREDENTIALS;
  const config = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(config, 'countersign', 'credentials.json');
}

export function saveCredential(c: CliCredential, file = credentialsFile()): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(c, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The saved token for this gateway, if it has not expired. */
export function savedToken(url: string, now = Date.now(), file = credentialsFile()): string | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as CliCredential;
    if (c.url !== url.replace(/\/+$/, '') || Date.parse(c.expiresAt) <= now) return undefined;
    return c.token;
  } catch {
    return undefined;
  }
}

/** Best effort: the URL is printed as well, for machines without a browser. */
export function openInBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    spawn(cmd, [url], { stdio: 'ignore', detached: true })
      .on('error', () => {})
      .unref();
  } catch {
    // No browser opener: the printed URL is enough.
  }
}
