import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { testGateway } from './support/identity-gateway.js';

type Gw = Awaited<ReturnType<typeof testGateway>>;
let gw: Gw;
const clock = new ManualClock(Date.now());

const submit = (token: string, type = 'deploy.release') =>
  gw.app.inject({
    method: 'POST',
    url: '/v1/actions',
    headers: { authorization: `Bearer ${token}` },
    payload: { type, resource: 'prod/app', justification: 'test' },
  });

beforeAll(async () => {
  gw = await testGateway({}, clock);
});
afterAll(async () => gw?.cleanup());

describe('agent API keys', () => {
  it('are prefixed, high-entropy, and stored only as a hash', async () => {
    const { credential, token } = await gw.admin.createActor({ name: 'ci', owner: 'dana@example.com' });
    expect(token).toMatch(/^csk_[0-9a-z]{26}\.[0-9a-z]{52}$/);
    const secret = token.split('.')[1] as string;
    const rows = gw.store.db.prepare('SELECT * FROM credentials').all();
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(credential.secretHash).not.toContain(secret);
    // Shown once: listing never returns the token.
    expect(JSON.stringify(await gw.admin.list('agent_key'))).not.toContain(secret);
    expect((await submit(token)).statusCode).toBe(201);
  });

  it('refuses a wrong secret for a real key id, and a key presented under the other prefix', async () => {
    const { token } = await gw.admin.createActor({ name: 'ci', owner: 'dana@example.com' });
    const [id, secret] = token.split('.') as [string, string];
    const flipped = `${id}.${secret.slice(0, -1)}${secret.endsWith('a') ? 'b' : 'a'}`;
    const wrong = await submit(flipped);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).not.toContain(secret.slice(0, 20));
    const asReviewer = await submit(`csr_${token.slice(4)}`);
    expect(asReviewer.statusCode).toBe(401);
  });

  it('stop working once revoked', async () => {
    const { credential, token } = await gw.admin.createActor({ name: 'ci', owner: 'dana@example.com' });
    await gw.admin.revoke(credential.id);
    const res = await submit(token);
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body).detail).toMatch(/revoked/);
  });

  it('stop working at their expiry', async () => {
    const { token } = await gw.admin.createActor({
      name: 'ci',
      owner: 'dana@example.com',
      expiresAt: clock.now() + 60_000,
    });
    expect((await submit(token, 'thing.read')).statusCode).toBe(201);
    clock.advance(60_000);
    const res = await submit(token, 'thing.read');
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body).detail).toMatch(/expired/);
  });

  it('submit only the action types they allow', async () => {
    const { token } = await gw.admin.createActor({
      name: 'reader',
      owner: 'dana@example.com',
      allowedTypes: ['*.read'],
    });
    expect((await submit(token, 'db.read')).statusCode).toBe(201);
    expect((await submit(token, 'deploy.release')).statusCode).toBe(403);
  });

  it('name their owner as principal, who can never approve what the key asks', async () => {
    const { token } = await gw.admin.createActor({ name: 'bot', owner: 'Alice@Example.com ' });
    const res = await submit(token);
    const view = JSON.parse(res.body) as { id: string; requester: { principal: string } };
    expect(view.requester.principal).toBe('Alice@Example.com ');
    const dev = gw.dev as NonNullable<Gw['dev']>;
    const vote = await gw.app.inject({
      method: 'POST',
      url: `/v1/actions/${view.id}/reviews`,
      headers: { authorization: `Bearer ${dev.reviewers['alice@example.com']}` },
      payload: { vote: 'approve' },
    });
    expect(vote.statusCode).toBe(403);
    expect(JSON.parse(vote.body).code).toBe('CS_ERR_SELF_APPROVAL');
  });

  it('cannot be used where a reviewer token is needed', async () => {
    const { token } = await gw.admin.createActor({ name: 'bot', owner: 'dana@example.com' });
    const res = await gw.app.inject({
      method: 'GET',
      url: '/v1/reviews/pending',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(403);
  });
});
