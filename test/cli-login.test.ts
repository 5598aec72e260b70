import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliLogin, saveCredential, savedToken } from '../src/cli/login.js';
import { testGateway } from './support/identity-gateway.js';
import { Browser, CLIENT_ID, CLIENT_SECRET, freePort, refusedPort, startIdp } from './support/oidc.js';
import { runCli } from './support/process.js';

type Gw = Awaited<ReturnType<typeof testGateway>>;
let idp: Awaited<ReturnType<typeof startIdp>>;
let gw: Gw;
let base: string;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  idp = await startIdp(
    { carol: { email: 'carol@acme.test', email_verified: true, name: 'Carol', groups: ['sre'] } },
    [`${base}/auth/callback`],
  );
  gw = await testGateway({
    server: { logLevel: 'silent', publicUrl: base },
    identity: {
      oidc: {
        issuer: idp.issuer,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        scopes: ['openid', 'email', 'profile', 'groups'],
        groupsClaim: 'groups',
      },
    },
  });
  await gw.app.listen({ port, host: '127.0.0.1' });
});

afterAll(async () => {
  await gw?.cleanup();
  await idp?.close();
});

/** Plays the browser: follows the sign-in URL through the IdP back to the CLI's loopback port. */
const browse = (seen: string[]) => async (url: string) => {
  seen.push(url);
  const { last } = await new Browser().follow(url, 'carol');
  if (last.status !== 200) throw new Error(`browser ended at ${last.status}`);
};

const bearer = (token: string, path: string) =>
  fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });

describe('countersign login', () => {
  it('gets a reviewer token through the browser with a loopback redirect', async () => {
    const seen: string[] = [];
    const cred = await cliLogin({ url: base, open: browse(seen) });
    expect(cred.reviewer).toBe(`${idp.issuer}#carol`);
    expect(cred.token).toMatch(/^css_[0-9a-z]{26}\.[0-9a-z]{52}$/);
    const start = new URL(seen[0] as string);
    expect(new URL(start.searchParams.get('cli_redirect') as string).hostname).toBe('127.0.0.1');
    const who = (await (await bearer(cred.token, '/v1/whoami')).json()) as {
      kind: string;
      id: string;
      groups: string[];
    };
    expect(who).toMatchObject({ kind: 'reviewer', id: `${idp.issuer}#carol`, groups: ['sre'] });
    expect((await bearer(cred.token, '/v1/reviews/pending')).status).toBe(200);
    // A CLI token is a bearer token, never a cookie session.
    const asCookie = await fetch(`${base}/v1/reviews/pending`, {
      headers: { cookie: `cs_session=${cred.token}` },
    });
    expect(asCookie.status).toBe(401);
  });

  it('passes max_age through for step-up', async () => {
    const seen: string[] = [];
    await cliLogin({ url: base, maxAgeSec: 60, open: browse(seen) });
    expect(new URL(seen[0] as string).searchParams.get('max_age')).toBe('60');
  });

  it('refuses a code without the verifier, and a code used twice', async () => {
    let code = '';
    const cred = await cliLogin({
      url: base,
      open: async (url) => {
        // Watch the code go by on its way to the CLI's loopback receiver.
        const { stoppedAt } = await new Browser().follow(
          url,
          'carol',
          (u) => u.searchParams.has('code') && u.port !== new URL(base).port,
        );
        code = (stoppedAt as URL).searchParams.get('code') as string;
        const stolen = await fetch(`${base}/auth/cli/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ code, verifier: 'A'.repeat(43) }),
        });
        expect(stolen.status).toBe(401);
        // The failed attempt burned the code; the rightful CLI must start again.
        await new Browser().request((stoppedAt as URL).href);
      },
      timeoutMs: 10_000,
    }).catch((e: Error) => e);
    expect(cred).toBeInstanceOf(Error);
    expect((cred as Error).message).toMatch(/unknown, used, expired or not yours/);
  });

  it('refuses a redirect that is not loopback', async () => {
    for (const redirect of [
      'https://evil.example/cb',
      'http://evil.example:8080/cb',
      'http://127.0.0.1/cb',
    ]) {
      const res = await fetch(
        `${base}/auth/login?cli_redirect=${encodeURIComponent(redirect)}&cli_challenge=${'a'.repeat(43)}`,
        { redirect: 'manual' },
      );
      expect(res.status).toBe(400);
    }
  });

  it('saves the token 0600 and uses it only for the same gateway until it expires', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-cred-'));
    try {
      const file = join(dir, 'sub', 'credentials.json');
      const cred = {
        url: base,
        token: 'css_x',
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
        reviewer: 'r',
      };
      saveCredential(cred, file);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(savedToken(`${base}/`, Date.now(), file)).toBe('css_x');
      expect(savedToken('http://127.0.0.1:1', Date.now(), file)).toBeUndefined();
      expect(savedToken(base, Date.now() + 120_000, file)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Before printing a sign-in URL, `countersign login` asks the gateway once whether a sign-in can
 * work at all. Without that check it waited out its whole deadline (minutes) for a browser that
 * could never come back; these would then run into the test timeout.
 */
describe('countersign login, when sign-in cannot work', () => {
  const login = (url: string, credentials: string) =>
    runCli(['login', '--url', url, '--no-browser'], { COUNTERSIGN_CREDENTIALS: credentials });

  it('exits 1 naming the URL and what to do when nothing listens there', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-cred-'));
    try {
      const closed = `http://127.0.0.1:${await refusedPort()}`;
      const r = await login(closed, join(dir, 'credentials.json'));
      expect(r.code).toBe(1);
      const lines = r.err.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`cannot reach the gateway at ${closed}`);
      for (const hint of ['countersign serve', '--url', 'COUNTERSIGN_URL']) expect(lines[0]).toContain(hint);
      expect(r.err).not.toContain('Sign in at');
      expect(r.out).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 5 when the gateway has no identity provider, pointing to the OIDC how-to', {
    timeout: 60_000,
  }, async () => {
    // A development-mode gateway: /auth/dev signs browsers in, but there is no IdP for the CLI.
    const plain = await testGateway({ server: { logLevel: 'silent' } });
    try {
      const url = await plain.app.listen({ port: 0, host: '127.0.0.1' });
      const r = await login(url, join(plain.dir, 'credentials.json'));
      expect(r.code).toBe(5);
      const lines = r.err.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`the gateway at ${url} has no identity provider configured`);
      expect(lines[0]).toContain('docs/identity.md#reviewers-through-oidc');
      expect(r.err).not.toContain('Sign in at');
    } finally {
      await plain.cleanup();
    }
  });

  it('refuses at once when the gateway cannot reach its identity provider', { timeout: 60_000 }, async () => {
    const dead = await refusedPort();
    const down = await testGateway({
      server: { logLevel: 'silent' },
      identity: { oidc: { issuer: `http://127.0.0.1:${dead}`, clientId: 'x' } },
    });
    try {
      const url = await down.app.listen({ port: 0, host: '127.0.0.1' });
      const opened: string[] = [];
      const e = await cliLogin({ url, open: (u) => void opened.push(u) }).catch((err: Error) => err);
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).message).toContain(`the gateway at ${url} cannot reach its identity provider`);
      expect(opened).toEqual([]);
    } finally {
      await down.cleanup();
    }
  });
});

describe('identity provider down', () => {
  it('answers 503 on sign-in and keeps the rest of the gateway running', async () => {
    const dead = await refusedPort();
    const down = await testGateway({
      server: { logLevel: 'silent', publicUrl: 'http://127.0.0.1:1' },
      identity: { oidc: { issuer: `http://127.0.0.1:${dead}`, clientId: 'x' } },
    });
    try {
      const res = await down.app.inject({ method: 'GET', url: '/auth/login' });
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body).code).toBe('CS_ERR_IDP_UNAVAILABLE');
      const dev = down.dev as NonNullable<typeof down.dev>;
      const pending = await down.app.inject({
        method: 'GET',
        url: '/v1/reviews/pending',
        headers: { authorization: `Bearer ${dev.reviewers['alice@example.com']}` },
      });
      expect(pending.statusCode).toBe(200);
    } finally {
      await down.cleanup();
    }
  });
});
