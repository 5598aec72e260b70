import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../src/core/clock.js';
import type { Policy } from '../src/policy/types.js';
import { InProcessNotifier } from '../src/service/notifier.js';
import { Service } from '../src/service/service.js';
import { testGateway } from './support/identity-gateway.js';
import { Browser, CLIENT_ID, CLIENT_SECRET, freePort, startIdp } from './support/oidc.js';

type Gw = Awaited<ReturnType<typeof testGateway>>;

/** Real time plus an offset the tests move: the IdP runs on real time, sessions on this clock. */
class OffsetClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

const acme = { email_verified: true, hd: 'acme.test' };
const accounts = {
  carol: { ...acme, email: 'carol@acme.test', name: 'Carol', groups: ['okta-sre', 'okta-everyone'] },
  helen: { ...acme, email: 'helen@acme.test', name: 'Helen', groups: [] },
  ivan: { ...acme, email: 'ivan@acme.test', name: 'Ivan', groups: ['sre'] },
  erin: { ...acme, email: 'erin@acme.test', email_verified: false, groups: ['okta-sre'] },
  frank: { ...acme, email: 'frank@other.test', groups: ['okta-sre'] },
  gina: { ...acme, email: 'gina@acme.test', hd: 'other.test', groups: ['okta-sre'] },
};

let idp: Awaited<ReturnType<typeof startIdp>>;
let gw: Gw;
let base: string;
const clock = new OffsetClock();

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  idp = await startIdp(accounts, [`${base}/auth/callback`]);
  gw = await testGateway(
    {
      server: { logLevel: 'silent', publicUrl: base },
      identity: {
        oidc: {
          issuer: idp.issuer,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          scopes: ['openid', 'email', 'profile', 'groups'],
          allowedDomains: ['acme.test'],
          hostedDomain: 'acme.test',
          groupsClaim: 'groups',
          groupMap: { 'okta-sre': ['sre'] },
        },
        groups: { sre: ['helen@acme.test'] },
        sessions: { idleTimeout: '10m', absoluteTimeout: '1h' },
      },
    },
    clock,
  );
  await gw.app.listen({ port, host: '127.0.0.1' });
});

afterAll(async () => {
  await gw?.cleanup();
  await idp?.close();
});

const isCallback = (u: URL) => u.origin === base && u.pathname === '/auth/callback';

/** Runs the browser through the IdP up to (not into) the gateway's callback. */
async function toCallback(account: string, start = '/auth/login', browser = new Browser()) {
  const { stoppedAt } = await browser.follow(`${base}${start}`, account, isCallback);
  if (!stoppedAt) throw new Error('the flow never reached the callback');
  return { browser, callback: stoppedAt };
}

async function login(account: string, start = '/auth/login') {
  const { browser, callback } = await toCallback(account, start);
  const res = await browser.request(callback.href);
  return { browser, res };
}

async function sessionOf(browser: Browser) {
  const res = await browser.request(`${base}/auth/session`);
  expect(res.status).toBe(200);
  return JSON.parse(res.text) as {
    reviewer: { id: string; email: string; groups: string[] };
    csrfToken: string;
    authTime: string | null;
  };
}

async function pendingRequest(owner = 'dana@example.com'): Promise<string> {
  const { token } = await gw.admin.createActor({ name: 'bot', owner });
  const res = await fetch(`${base}/v1/actions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'deploy.release', resource: 'prod/app', justification: 'release' }),
  });
  const body = (await res.json()) as { id: string; status: string };
  expect(body.status).toBe('pending');
  return body.id;
}

function vote(browser: Browser, id: string, csrf?: string) {
  return browser.request(`${base}/v1/actions/${id}/reviews`, {
    method: 'POST',
    body: JSON.stringify({ vote: 'approve' }),
    headers: { 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': csrf } : {}) },
  });
}

const problem = (res: { text: string }) => JSON.parse(res.text) as { code: string; detail: string };

async function refusedEvents() {
  return (await gw.store.readEvents(0, 10_000)).filter((e) => e.kind === 'reviewer.login_refused');
}

describe('reviewer sign-in through a real OIDC provider', () => {
  it('signs in with PKCE, state and nonce, and sets a HttpOnly SameSite session cookie', async () => {
    const { browser, callback } = await toCallback('carol');
    const authorize = new URL(callback.href);
    expect(authorize.searchParams.get('state')).toBeTruthy();
    const res = await browser.request(callback.href);
    expect(res.status).toBe(302);
    expect(res.location).toBe('/');
    const session = res.setCookies.find((c) => c.startsWith('cs_session='));
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Lax/);
    expect(session).toMatch(/Max-Age=3600/);
    const s = await sessionOf(browser);
    expect(s.reviewer.id).toBe(`${idp.issuer}#carol`);
    expect(s.reviewer.email).toBe('carol@acme.test');
    // okta-sre maps to sre; okta-everyone is not mapped and grants nothing.
    expect(s.reviewer.groups).toEqual(['sre']);
    const login = (await gw.store.readEvents(0, 10_000)).filter((e) => e.kind === 'reviewer.login');
    expect(login.at(-1)?.subject.id).toBe(`${idp.issuer}#carol`);
    // The IdP sent no auth_time for this plain sign-in: recorded as unknown, not as 1970.
    expect(login.at(-1)?.details.authTime).toBeNull();
  });

  it('sends PKCE S256, state and nonce in the authorization request', async () => {
    const res = await new Browser().request(`${base}/auth/login`);
    const url = new URL(res.location as string);
    expect(url.origin).toBe(idp.issuer);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('nonce')?.length).toBeGreaterThan(40);
    expect(url.searchParams.get('state')?.length).toBeGreaterThan(40);
    expect(url.searchParams.get('hd')).toBe('acme.test');
  });

  it('lets a signed-in reviewer vote with the session cookie and the CSRF token only', async () => {
    const { browser } = await login('carol');
    const { csrfToken } = await sessionOf(browser);
    const id = await pendingRequest();
    const noCsrf = await vote(browser, id);
    expect(noCsrf.status).toBe(403);
    expect(problem(noCsrf).code).toBe('CS_ERR_CSRF');
    const wrong = await vote(browser, id, `${csrfToken.slice(0, -1)}${csrfToken.endsWith('0') ? '1' : '0'}`);
    expect(problem(wrong).code).toBe('CS_ERR_CSRF');
    const ok = await vote(browser, id, csrfToken);
    expect(ok.status).toBe(200);
    const view = JSON.parse(ok.text) as { status: string; reviews: Array<{ reviewer: string }> };
    expect(view.status).toBe('approved');
    expect(view.reviews[0]?.reviewer).toBe(`${idp.issuer}#carol`);
  });

  it('refuses an account whose email is not verified', async () => {
    const before = (await refusedEvents()).length;
    const { res } = await login('erin');
    expect(res.status).toBe(401);
    expect(problem(res).code).toBe('CS_ERR_LOGIN_FAILED');
    expect(problem(res).detail).toMatch(/not verified/);
    expect(res.setCookies.some((c) => c.startsWith('cs_session='))).toBe(false);
    const events = await refusedEvents();
    expect(events.length).toBe(before + 1);
    expect(events.at(-1)?.details.subject).toBe('erin');
  });

  it('refuses an email domain that is not allowed', async () => {
    const { res } = await login('frank');
    expect(res.status).toBe(401);
    expect(problem(res).detail).toMatch(/domain other\.test is not allowed/);
  });

  it('refuses an account from another Google Workspace (hd)', async () => {
    const { res } = await login('gina');
    expect(res.status).toBe(401);
    expect(problem(res).detail).toMatch(/Google Workspace domain acme\.test/);
  });

  it('refuses a tampered state, a callback in another browser, and a replayed callback', async () => {
    const { browser, callback } = await toCallback('carol');
    const tampered = new URL(callback.href);
    tampered.searchParams.set('state', 'a'.repeat(52));
    const t = await browser.request(tampered.href);
    expect(t.status).toBe(401);
    expect(problem(t).detail).toMatch(/state is unknown/);

    const other = await new Browser().request(callback.href);
    expect(other.status).toBe(401);
    expect(problem(other).detail).toMatch(/another browser/);
    // The state was consumed by that attempt: the rightful browser cannot use it either.
    const replay = await browser.request(callback.href);
    expect(replay.status).toBe(401);

    const fresh = await toCallback('carol');
    expect((await fresh.browser.request(fresh.callback.href)).status).toBe(302);
    const again = await fresh.browser.request(fresh.callback.href);
    expect(again.status).toBe(401);
  });

  it('refuses an ID token whose nonce does not match the one sent', async () => {
    const { browser, callback } = await toCallback('carol');
    const state = callback.searchParams.get('state') as string;
    gw.store.db
      .prepare(
        "UPDATE identity_tickets SET body = json_set(body, '$.data.nonce', 'not-the-nonce') WHERE id = ?",
      )
      .run(state);
    const res = await browser.request(callback.href);
    expect(res.status).toBe(401);
    expect(problem(res).detail).toMatch(/nonce/);
  });

  it('refuses a code exchange with the wrong PKCE verifier', async () => {
    const { browser, callback } = await toCallback('carol');
    const state = callback.searchParams.get('state') as string;
    gw.store.db
      .prepare("UPDATE identity_tickets SET body = json_set(body, '$.data.verifier', ?) WHERE id = ?")
      .run('x'.repeat(64), state);
    const res = await browser.request(callback.href);
    expect(res.status).toBe(401);
    expect(problem(res).detail).toMatch(/invalid_grant/);
  });

  it('never redirects off the gateway after sign-in', async () => {
    for (const evil of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
      const { res } = await login('carol', `/auth/login?return_to=${encodeURIComponent(evil)}`);
      expect(res.location).toBe('/');
    }
    const { res } = await login('carol', '/auth/login?return_to=%2Fv1%2Freviews%2Fpending');
    expect(res.location).toBe('/v1/reviews/pending');
  });

  it('ends a session after the idle timeout and after the absolute timeout', async () => {
    const idle = (await login('carol')).browser;
    const active = (await login('carol')).browser;
    const pending = (b: Browser) => b.request(`${base}/v1/reviews/pending`);
    expect((await pending(idle)).status).toBe(200);
    try {
      clock.offset += 9 * 60_000;
      expect((await pending(active)).status).toBe(200);
      clock.offset += 2 * 60_000;
      const expired = await pending(idle);
      expect(expired.status).toBe(401);
      expect(problem(expired).detail).toMatch(/idle/);
      // Active every 9 minutes, it still ends at the absolute timeout of 1h.
      for (let i = 0; i < 6; i++) {
        expect((await pending(active)).status).toBe(200);
        clock.offset += 9 * 60_000;
      }
      const over = await pending(active);
      expect(over.status).toBe(401);
      expect(problem(over).detail).toMatch(/absolute timeout/);
    } finally {
      clock.offset = 0;
    }
  });

  it('does not accept a browser session token as a bearer token', async () => {
    const { browser } = await login('carol');
    const token = browser.jar(base).get('cs_session') as string;
    const res = await fetch(`${base}/v1/reviews/pending`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain(token.split('.')[1] as string);
  });

  it('signs out: the cookie stops working, and sign-out itself needs the CSRF token', async () => {
    const { browser } = await login('carol');
    const { csrfToken } = await sessionOf(browser);
    const stolen = browser.jar(base).get('cs_session') as string;
    const forged = await browser.request(`${base}/auth/logout`, { method: 'POST' });
    expect(forged.status).toBe(403);
    const out = await browser.request(`${base}/auth/logout`, {
      method: 'POST',
      headers: { 'x-csrf-token': csrfToken },
    });
    expect(out.status).toBe(204);
    expect(browser.jar(base).has('cs_session')).toBe(false);
    // A copy of the old cookie is refused.
    const copy = new Browser();
    copy.jar(base).set('cs_session', stolen);
    const res = await copy.request(`${base}/v1/reviews/pending`);
    expect(res.status).toBe(401);
    expect(problem(res).detail).toMatch(/signed out/);
  });

  it('evaluates group membership when the vote is cast, not only at login', async () => {
    const { browser } = await login('helen');
    const { csrfToken, reviewer } = await sessionOf(browser);
    expect(reviewer.groups).toEqual(['sre']);
    const id = await pendingRequest();
    const saved = gw.config.identity.groups.sre;
    gw.config.identity.groups.sre = [];
    try {
      const res = await vote(browser, id, csrfToken);
      expect(res.status).toBe(403);
      expect(problem(res).code).toBe('CS_ERR_NOT_ELIGIBLE');
    } finally {
      gw.config.identity.groups.sre = saved as string[];
    }
    expect((await vote(browser, id, csrfToken)).status).toBe(200);
  });

  it('does not let an IdP group named like an approver group grant rights when a groupMap is set', async () => {
    const { browser } = await login('ivan');
    expect((await sessionOf(browser)).reviewer.groups).toEqual([]);
  });

  it('refuses self-approval by the same subject under a different email', async () => {
    const id = await pendingRequest(`${idp.issuer}#carol`);
    const { browser } = await login('carol');
    const { csrfToken } = await sessionOf(browser);
    const res = await vote(browser, id, csrfToken);
    expect(res.status).toBe(403);
    expect(problem(res).code).toBe('CS_ERR_SELF_APPROVAL');
  });
});

describe('step-up', () => {
  const stepUpPolicy: Policy = {
    version: 'step-up-test',
    sources: [],
    evaluate: () => ({
      decision: 'require_approval',
      rule: 'needs-fresh-login',
      reason: 'test rule with step-up',
      requirement: { anyOf: [{ groups: ['sre'], count: 1 }], denyThreshold: 1, stepUpMs: 5 * 60_000 },
      timers: { pendingTtlMs: 3_600_000, approvalValidityMs: 900_000 },
    }),
  };

  it('refuses a vote from an old login, and accepts it after a fresh login with max_age', async () => {
    // A request stored under a rule that needs a login within the last 5 minutes.
    const service = new Service({
      store: gw.store,
      policy: () => stepUpPolicy,
      clock,
      notifier: new InProcessNotifier(),
    });
    const actor = { id: 'agent-x', name: 'agent-x', principal: 'dana@example.com', via: 'api_key' };
    const req = await service.submit(actor, {
      type: 'db.migrate',
      resource: 'prod/db',
      params: {},
      justification: 'x',
    });

    // Carol signed in through the IdP 10 minutes ago (her IdP auth_time is that old).
    const person = {
      id: `${idp.issuer}#carol`,
      issuer: idp.issuer,
      subject: 'carol',
      email: 'carol@acme.test',
      name: 'Carol',
      idpGroups: ['okta-sre'],
    };
    const old = await gw.identity.sessions.create('web', person, clock.now() - 10 * 60_000);
    const browser = new Browser();
    browser.jar(base).set('cs_session', old.token);
    const refused = await vote(browser, req.id, old.csrf);
    expect(refused.status).toBe(401);
    expect(problem(refused).code).toBe('CS_ERR_STEP_UP_REQUIRED');
    expect((JSON.parse(refused.text) as { maxAgeSeconds: number }).maxAgeSeconds).toBe(300);

    // The re-login path: max_age goes to the IdP with prompt=login, auth_time is checked.
    const start = await browser.request(`${base}/auth/login?max_age=300&return_to=%2F`);
    const authorize = new URL(start.location as string);
    expect(authorize.searchParams.get('max_age')).toBe('300');
    expect(authorize.searchParams.get('prompt')).toBe('login');
    const { stoppedAt } = await browser.follow(authorize.href, 'carol', isCallback);
    const done = await browser.request((stoppedAt as URL).href);
    expect(done.status).toBe(302);
    const s = await sessionOf(browser);
    expect(Date.parse(s.authTime as string)).toBeGreaterThan(clock.now() - 5 * 60_000);
    const logins = (await gw.store.readEvents(0, 10_000)).filter((e) => e.kind === 'reviewer.login');
    expect(logins.at(-1)?.details.authTime).toBe(Date.parse(s.authTime as string));
    const ok = await vote(browser, req.id, s.csrfToken);
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.text) as { status: string }).status).toBe('approved');
  });
});

describe('chat identity links', () => {
  it('links a chat user only through their own OIDC login and confirmation, once', async () => {
    const links = gw.identity.chatLinks;
    expect(await links.resolve('slack', 'T1', 'U1')).toBeUndefined();
    const { url } = await links.startLink('slack', 'T1', 'U1');
    expect(url.startsWith(`${base}/auth/link/`)).toBe(true);
    const browser = new Browser();
    const { last } = await browser.follow(url, 'carol');
    expect(last.status).toBe(200);
    expect(last.text).toContain('U1');
    expect(last.text).toContain('carol@acme.test');
    expect(last.text).not.toMatch(/<script/i);
    // Signing in alone does not link: the person must confirm.
    expect(await links.resolve('slack', 'T1', 'U1')).toBeUndefined();
    const ticket = /name="ticket" value="([^"]+)"/.exec(last.text)?.[1] as string;
    const confirm = () =>
      browser.request(`${base}/auth/link/confirm`, {
        method: 'POST',
        body: new URLSearchParams({ ticket }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
    expect((await confirm()).status).toBe(200);
    expect((await confirm()).status).toBe(401);
    const reviewer = await links.resolve('slack', 'T1', 'U1');
    expect(reviewer).toMatchObject({ id: `${idp.issuer}#carol`, email: 'carol@acme.test', groups: ['sre'] });
    // The same link cannot be used again, and another workspace's user is not linked.
    expect((await new Browser().request(url)).status).toBe(401);
    expect(await links.resolve('slack', 'T2', 'U1')).toBeUndefined();
    expect(await links.resolve('teams', 'T1', 'U1')).toBeUndefined();
    const kinds = (await gw.store.readEvents(0, 10_000)).map((e) => e.kind);
    expect(kinds).toContain('chat.linked');
    expect(await links.userFor('slack', 'CAROL@acme.test')).toEqual({ team: 'T1', user: 'U1' });
    expect(await links.userFor('slack', `${idp.issuer}#carol`)).toEqual({ team: 'T1', user: 'U1' });
    expect(await links.userFor('teams', 'carol@acme.test')).toBeUndefined();
    expect(await links.unlink('slack', 'T1', 'U1')).toBe(true);
    expect(await links.resolve('slack', 'T1', 'U1')).toBeUndefined();
  });

  it('escapes the chat account shown on the confirmation page', async () => {
    const { url } = await gw.identity.chatLinks.startLink('slack', 'T"1', '<script>alert(1)</script>');
    const { last } = await new Browser().follow(url, 'carol');
    expect(last.status).toBe(200);
    expect(last.text).not.toContain('<script>');
    expect(last.text).toContain('&#60;script&#62;');
  });

  it('matches by email only when the configuration opts in', async () => {
    await login('helen');
    const links = gw.identity.chatLinks;
    expect(await links.resolve('slack', 'T1', 'U9', 'helen@acme.test')).toBeUndefined();
    gw.config.identity.chat.matchByEmail = true;
    try {
      const r = await links.resolve('slack', 'T1', 'U9', 'Helen@acme.test');
      expect(r).toMatchObject({ id: `${idp.issuer}#helen`, groups: ['sre'] });
      // No authTime: a rule with step-up never accepts an email-matched vote.
      expect(r?.authTime).toBeUndefined();
      expect(await links.resolve('slack', 'T1', 'U9', 'nobody@acme.test')).toBeUndefined();
    } finally {
      gw.config.identity.chat.matchByEmail = false;
    }
  });
});
