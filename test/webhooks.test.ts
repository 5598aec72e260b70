import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { agent, reviewer, TestEnv } from './helpers/gateway.js';
import { Receiver } from './helpers/receiver.js';

const secret = () => `whsec_${randomBytes(24).toString('base64')}`;
const deploy = {
  type: 'deploy.service',
  resource: 'prod/api',
  params: { version: '1.2.3' },
  justification: 'release',
};

describe('outgoing webhooks', () => {
  let env: TestEnv;
  let receiver: Receiver;
  let key: string;

  beforeEach(async () => {
    env = new TestEnv();
    receiver = await new Receiver().start();
    key = secret();
  });
  afterEach(async () => {
    await env.cleanup();
    await receiver.stop();
  });

  const webhooks = (extra: Record<string, unknown> = {}) => ({
    webhooks: {
      allowHttp: true,
      allowPrivateNetworks: ['127.0.0.1/32'],
      retryBase: '10s',
      endpoints: [{ id: 'siem', url: `${receiver.url}/hook`, secrets: [key] }],
      ...extra,
    },
  });
  const verified = (s = key) =>
    receiver.received.map(
      (r) =>
        new Webhook(s).verify(r.body, r.headers as Record<string, string>) as {
          type: string;
          data: { id: string; status: string };
        },
    );

  it('signs every lifecycle event per Standard Webhooks and records request.notified', async () => {
    const gw = await env.gateway(webhooks());
    const req = await gw.service.submit(agent, deploy);
    // Captured in the same transaction as the state change: the row exists as soon as submit resolves.
    expect(gw.webhooks.outbox.list().map((r) => r.eventType)).toEqual(['request.pending']);
    expect(await gw.webhooks.worker.runOnce()).toBe(1);
    await gw.service.review(req.id, reviewer('alice@example.com'), 'approve', 'ok', 'api');
    await gw.service.recordResult(req.id, agent, { outcome: 'succeeded', detail: 'done', hash: req.hash });
    expect(await gw.webhooks.worker.runOnce()).toBe(2);
    const events = verified();
    expect(events.map((e) => e.type)).toEqual(['request.pending', 'request.approved', 'request.executed']);
    expect(events.every((e) => e.data.id === req.id)).toBe(true);
    const trail = await gw.service.trail(req.id);
    expect(trail.filter((e) => e.kind === 'request.notified')).toHaveLength(3);
    expect(JSON.stringify(trail)).not.toContain(key.slice(6));
  });

  it('a started gateway delivers by itself, woken by the commit', async () => {
    const gw = await env.gateway(webhooks());
    await gw.app.ready();
    const req = await gw.service.submit(agent, deploy);
    await vi.waitFor(() => expect(verified().map((e) => e.data.id)).toEqual([req.id]));
  });

  it('a forged or tampered body does not verify (the test receiver can fail)', async () => {
    const gw = await env.gateway(webhooks());
    await gw.service.submit(agent, deploy);
    await gw.webhooks.worker.runOnce();
    const [r] = receiver.received;
    if (!r) throw new Error('nothing received');
    expect(() => new Webhook(secret()).verify(r.body, r.headers as Record<string, string>)).toThrow();
    const tampered = r.body.replace('prod/api', 'prod/db');
    expect(() => new Webhook(key).verify(tampered, r.headers as Record<string, string>)).toThrow();
  });

  it('signs with both secrets during a rotation', async () => {
    const old = secret();
    const gw = await env.gateway(
      webhooks({ endpoints: [{ id: 'siem', url: `${receiver.url}/h`, secrets: [key, old] }] }),
    );
    await gw.service.submit(agent, deploy);
    await gw.webhooks.worker.runOnce();
    expect(verified(key)).toHaveLength(1);
    expect(verified(old)).toHaveLength(1);
    expect(String(receiver.received[0]?.headers['webhook-signature']).split(' ')).toHaveLength(2);
  });

  it('retries an endpoint that is down, with backoff, under the same webhook-id', async () => {
    const gw = await env.gateway(webhooks());
    await gw.service.submit(agent, deploy);
    receiver.respond = () => ({ status: 500 });
    expect(await gw.webhooks.worker.runOnce()).toBe(0);
    expect(await gw.webhooks.worker.runOnce()).toBe(0);
    expect(receiver.received).toHaveLength(1); // not due again until the backoff passes
    const [row] = gw.webhooks.outbox.list();
    expect(row?.attempts).toBe(1);
    expect(row?.nextAttemptAt).toBeGreaterThan(env.clock.now());
    receiver.respond = () => ({ status: 200 });
    env.clock.set(row?.nextAttemptAt ?? 0);
    expect(await gw.webhooks.worker.runOnce()).toBe(1);
    const ids = receiver.received.map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
    expect(gw.webhooks.outbox.list()[0]?.status).toBe('delivered');
  });

  it('honours Retry-After', async () => {
    const gw = await env.gateway(webhooks());
    await gw.service.submit(agent, deploy);
    receiver.respond = () => ({ status: 429, headers: { 'retry-after': '120' } });
    await gw.webhooks.worker.runOnce();
    receiver.respond = () => ({ status: 204 });
    env.clock.advance(119_000);
    expect(await gw.webhooks.worker.runOnce()).toBe(0);
    env.clock.advance(1_000);
    expect(await gw.webhooks.worker.runOnce()).toBe(1);
  });

  it('410 Gone disables the endpoint for queued and future events', async () => {
    const gw = await env.gateway(webhooks());
    const a = await gw.service.submit(agent, deploy);
    await gw.service.submit(agent, { ...deploy, resource: 'prod/web' });
    receiver.respond = () => ({ status: 410 });
    await gw.webhooks.worker.runOnce();
    expect(gw.webhooks.outbox.list().every((r) => r.status === 'disabled')).toBe(true);
    const before = receiver.received.length;
    await gw.service.cancel(a.id, agent);
    env.clock.advance(3_600_000);
    await gw.webhooks.worker.runOnce();
    expect(receiver.received.length).toBe(before);
    expect(gw.webhooks.outbox.list().filter((r) => r.status === 'pending')).toHaveLength(0);
  });

  it('gives up after maxAttempts and counts the failure', async () => {
    const gw = await env.gateway(webhooks({ maxAttempts: 2 }));
    await gw.service.submit(agent, deploy);
    receiver.respond = () => ({ status: 500 });
    await gw.webhooks.worker.runOnce();
    env.clock.advance(3_600_000);
    await gw.webhooks.worker.runOnce();
    expect(gw.webhooks.outbox.list()[0]?.status).toBe('failed');
    const metrics = await gw.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/countersign_channel_failures_total\{channel="webhook"\} 1/);
  });

  it('delivers across a gateway restart with the same id', async () => {
    const first = await env.gateway(webhooks());
    await first.service.submit(agent, deploy);
    receiver.respond = () => ({ status: 503 });
    await first.webhooks.worker.runOnce();
    await env.close(first);
    receiver.respond = () => ({ status: 200 });
    const second = await env.gateway(webhooks());
    env.clock.advance(60_000); // past the first backoff step (at most retryBase), within the receiver's tolerance
    expect(await second.webhooks.worker.runOnce()).toBe(1);
    const ids = receiver.received.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(1);
    expect(verified()).toHaveLength(2);
  });

  it('prunes settled messages after the retention period, never pending ones', async () => {
    const gw = await env.gateway(webhooks());
    await gw.service.submit(agent, deploy);
    await gw.webhooks.worker.runOnce();
    receiver.respond = () => ({ status: 500 });
    await gw.service.submit(agent, { ...deploy, resource: 'prod/web' });
    await gw.webhooks.worker.runOnce();
    expect(gw.webhooks.outbox.list().map((r) => r.status)).toEqual(['delivered', 'pending']);
    env.clock.advance(31 * 86_400_000);
    await gw.webhooks.worker.runOnce();
    expect(gw.webhooks.outbox.list().map((r) => r.status)).toEqual(['pending']);
  });

  it('enabling webhooks later does not replay what happened before', async () => {
    const before = await env.gateway({});
    await before.service.submit(agent, deploy);
    await env.close(before);
    const after = await env.gateway(webhooks());
    const later = await after.service.submit(agent, { ...deploy, resource: 'prod/web' });
    expect(await after.webhooks.worker.runOnce()).toBe(1);
    expect(verified().map((e) => e.data.id)).toEqual([later.id]);
  });

  it('a message written before a crash is sent by the next process', async () => {
    const first = await env.gateway(webhooks());
    await first.service.submit(agent, deploy);
    await env.close(first); // never ran the worker
    const second = await env.gateway(webhooks());
    expect(await second.webhooks.worker.runOnce()).toBe(1);
  });

  it('calls the request callbackUrl, signed with the callback secret', async () => {
    const cb = secret();
    const gw = await env.gateway(webhooks({ endpoints: [], callbacks: { secrets: [cb] } }));
    const req = await gw.service.submit(agent, { ...deploy, callbackUrl: `${receiver.url}/cb?token=abc` });
    await gw.service.review(req.id, reviewer('alice@example.com'), 'deny', 'no', 'api');
    expect(await gw.webhooks.worker.runOnce()).toBe(2);
    expect(verified(cb).map((e) => e.type)).toEqual(['request.pending', 'request.rejected']);
    expect(receiver.received[0]?.path).toBe('/cb?token=abc');
  });

  it('reads secrets from the environment with env:NAME', async () => {
    process.env.SIEM_SECRET = key;
    const gw = await env.gateway(
      webhooks({ endpoints: [{ id: 'siem', url: `${receiver.url}/h`, secrets: ['env:SIEM_SECRET'] }] }),
    );
    delete process.env.SIEM_SECRET;
    await gw.service.submit(agent, deploy);
    await gw.webhooks.worker.runOnce();
    expect(verified()).toHaveLength(1);
  });

  it('refuses, without retrying, callbacks to private, loopback and link-local addresses', async () => {
    const gw = await env.gateway(
      webhooks({ endpoints: [], allowPrivateNetworks: [], callbacks: { secrets: [key] } }),
    );
    const targets = [
      `${receiver.url}/loopback`,
      receiver.url.replace('127.0.0.1', 'localhost'),
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.7/',
      'http://[::1]:9/',
      'http://[::ffff:127.0.0.1]:9/',
      'http://2130706433/',
      'http://0.0.0.0:9/',
    ];
    for (const callbackUrl of targets) await gw.service.submit(agent, { ...deploy, callbackUrl });
    await gw.webhooks.worker.runOnce();
    expect(receiver.received).toHaveLength(0);
    const rows = gw.webhooks.outbox.list();
    expect(rows).toHaveLength(targets.length);
    for (const row of rows) {
      expect(row.status).toBe('failed');
      expect(row.lastError).toMatch(/private, loopback or reserved/);
    }
  });

  it('allows exactly the configured private networks', async () => {
    const gw = await env.gateway(webhooks({ endpoints: [], callbacks: { secrets: [key] } }));
    await gw.service.submit(agent, { ...deploy, callbackUrl: `${receiver.url}/ok` });
    await gw.service.submit(agent, {
      ...deploy,
      callbackUrl: receiver.url.replace('127.0.0.1', '127.0.0.2'),
    });
    await gw.webhooks.worker.runOnce();
    expect(receiver.received.map((r) => r.path)).toEqual(['/ok']);
  });

  it('answers 400 at submit for a callbackUrl that would never be called, and 201 for one that would', async () => {
    const submitWith = async (gw: Awaited<ReturnType<TestEnv['gateway']>>, callbackUrl: string) => {
      const { token } = await gw.admin.createActor({ name: 'cb', owner: 'cb@example.com' });
      const res = await gw.app.inject({
        method: 'POST',
        url: '/v1/actions',
        headers: { authorization: `Bearer ${token}` },
        payload: { ...deploy, callbackUrl },
      });
      return { status: res.statusCode, body: JSON.parse(res.body) as { code?: string; detail?: string } };
    };
    const off = await env.gateway(webhooks({ endpoints: [] }));
    const none = await submitWith(off, `${receiver.url}/cb`);
    expect(none.status).toBe(400);
    expect(none.body.code).toBe('CS_ERR_VALIDATION');
    expect(none.body.detail).toMatch(/sends no callbacks .*webhooks\.callbacks\.secrets/);

    const gw = await env.gateway(
      webhooks({
        endpoints: [],
        allowHttp: false,
        allowPrivateNetworks: ['127.0.0.1/32'],
        callbacks: { secrets: [key] },
      }),
    );
    const refused: Array<[string, RegExp]> = [
      [`${receiver.url}/cb`, /http: URLs are not delivered to; use https/],
      ['ftp://files.example.com/cb', /ftp: URLs are not delivered to/],
      ['https://user:pw@hooks.example.com/cb', /URLs with credentials/],
      ['https://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a private or reserved address/],
      ['https://[::1]:9/cb', /::1 is a private or reserved address/],
    ];
    for (const [url, why] of refused) {
      const r = await submitWith(gw, url);
      expect(r.status, url).toBe(400);
      expect(r.body.detail, url).toMatch(why);
      expect(r.body.detail, url).not.toContain('pw');
    }
    // Nothing was stored for a refused submit.
    expect(gw.webhooks.outbox.list()).toHaveLength(0);
    // Allowed: https to a public name (resolved at delivery), and a private network the operator allowed.
    expect((await submitWith(gw, 'https://hooks.example.com/cb')).status).toBe(201);
    expect((await submitWith(gw, 'https://127.0.0.1:9/cb')).status).toBe(201);
  });

  it('refuses a plain-http endpoint unless allowHttp is set', async () => {
    await expect(env.gateway(webhooks({ allowHttp: false }))).rejects.toThrow(/use https/);
  });
});
