import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testGateway } from '../../test/support/identity-gateway.js';

type Gw = Awaited<ReturnType<typeof testGateway>>;

const ISS = 'https://ci.example.test';
const AUD = 'countersign';
let gw: Gw;
let jwksServer: Server;
let signingKey: CryptoKey;
let publicJwk: JWK;
let publicPem: string;
let otherKey: CryptoKey;
let k8sKey: CryptoKey;
const K8S = 'https://kubernetes.default.svc.cluster.local';

async function token(
  claims: Record<string, unknown> = {},
  opts: { iss?: string; aud?: string; exp?: number | string; key?: CryptoKey; kid?: string } = {},
) {
  return new SignJWT({ sub: 'repo:acme/app:ref:refs/heads/main', actor_email: 'dana@example.com', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'k1' })
    .setIssuer(opts.iss ?? ISS)
    .setAudience(opts.aud ?? AUD)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '5m')
    .sign(opts.key ?? signingKey);
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

async function submit(bearer: string) {
  return gw.app.inject({
    method: 'POST',
    url: '/v1/actions',
    headers: { authorization: `Bearer ${bearer}` },
    payload: { type: 'deploy.release', resource: 'prod/app', params: { v: 1 }, justification: 'ship it' },
  });
}

function expect401(res: { statusCode: number; body: string }, bearer: string, mentions: RegExp) {
  expect(res.statusCode).toBe(401);
  const body = JSON.parse(res.body) as { code: string; detail: string };
  expect(body.code).toBe('CS_ERR_UNAUTHENTICATED');
  expect(body.detail).toMatch(mentions);
  // The token, or any of its segments, never comes back in an error.
  for (const part of bearer.split('.').filter((p) => p.length > 8)) expect(res.body).not.toContain(part);
}

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  publicPem = await exportSPKI(pair.publicKey);
  otherKey = (await generateKeyPair('RS256')).privateKey;
  const k8s = await generateKeyPair('EdDSA', { extractable: true });
  k8sKey = k8s.privateKey;
  const k8sJwk = { ...(await exportJWK(k8s.publicKey)), kid: 'cluster-1' };
  jwksServer = createServer((req, res) => {
    if (req.url === '/jwks') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk] }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const port = (jwksServer.address() as AddressInfo).port;
  // A port that was just open and is now closed: nothing listens there.
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadPort = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  gw = await testGateway({
    identity: {
      jwt: {
        issuers: [
          {
            name: 'ci',
            issuer: ISS,
            jwksUrl: `http://127.0.0.1:${port}/jwks`,
            audience: AUD,
            algorithms: ['RS256'],
            clockTolerance: '5s',
            claims: { actor: 'sub', principal: 'actor_email', onBehalfOf: 'obo' },
            require: { repository_owner: 'acme' },
          },
          {
            name: 'cluster',
            issuer: K8S,
            jwks: { keys: [k8sJwk] },
            audience: ['countersign'],
            algorithms: ['EdDSA'],
            claims: { actor: 'sub', name: '/kubernetes.io/serviceaccount/name' },
            require: { '/kubernetes.io/namespace': ['agents', 'ci'] },
            allowedTypes: ['db.*'],
          },
          {
            name: 'down',
            issuer: 'https://down.example.test',
            jwksUrl: `http://127.0.0.1:${deadPort}/jwks`,
            audience: AUD,
          },
        ],
      },
    },
  });
});

afterAll(async () => {
  await gw?.cleanup();
  await new Promise<void>((r) => jwksServer?.close(() => r()));
});

describe('workload JWT actors', () => {
  it('authenticates a token from a trusted issuer and records the delegation chain', async () => {
    const res = await submit(await token({ repository_owner: 'acme', obo: ['bob@example.com'] }));
    expect(res.statusCode).toBe(201);
    const view = JSON.parse(res.body) as { id: string; requester: Record<string, unknown> };
    expect(view.requester).toMatchObject({
      actor: 'jwt:ci:repo:acme/app:ref:refs/heads/main',
      principal: 'dana@example.com',
      onBehalfOf: ['bob@example.com'],
      via: 'jwt',
    });
    const stored = await gw.service.get(view.id);
    expect(stored.request.requester.onBehalfOf).toEqual(['bob@example.com']);
  });

  it('refuses a token from an issuer that is not trusted', async () => {
    const t = await token({ repository_owner: 'acme' }, { iss: 'https://evil.example.test' });
    expect401(await submit(t), t, /issuer is not trusted/);
  });

  it('refuses a token for another audience', async () => {
    const t = await token({ repository_owner: 'acme' }, { aud: 'someone-else' });
    expect401(await submit(t), t, /audience/);
  });

  it('refuses an expired token', async () => {
    const t = await token({ repository_owner: 'acme' }, { exp: Math.floor(Date.now() / 1000) - 120 });
    expect401(await submit(t), t, /expired/);
  });

  it('refuses alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const t = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: ISS, aud: AUD, sub: 'x', repository_owner: 'acme', exp: now + 300 })}.`;
    expect401(await submit(t), t, /algorithm is not allowed/);
  });

  it('refuses HS256 signed with the public key as the HMAC secret', async () => {
    for (const secret of [publicPem, JSON.stringify(publicJwk), publicJwk.n as string]) {
      const t = await new SignJWT({ sub: 'x', repository_owner: 'acme' })
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .setIssuer(ISS)
        .setAudience(AUD)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret));
      expect401(await submit(t), t, /algorithm is not allowed/);
    }
  });

  it('refuses a token signed by a key that is not in the JWKS', async () => {
    const unknownKid = await token({ repository_owner: 'acme' }, { key: otherKey, kid: 'k9' });
    expect401(await submit(unknownKid), unknownKid, /no key/);
    const sameKid = await token({ repository_owner: 'acme' }, { key: otherKey, kid: 'k1' });
    expect401(await submit(sameKid), sameKid, /signature does not verify/);
  });

  it('fails closed with 401 when the JWKS cannot be fetched', async () => {
    const t = await token({}, { iss: 'https://down.example.test' });
    expect401(await submit(t), t, /could not be fetched; failing closed/);
  });

  it('refuses a token whose required claim does not match (any repository can mint CI tokens)', async () => {
    const t = await token({ repository_owner: 'mallory' });
    expect401(await submit(t), t, /repository_owner/);
    const none = await token({});
    expect401(await submit(none), none, /repository_owner/);
  });

  it('accepts a Kubernetes service-account token verified with inline keys and nested claims', async () => {
    const sa = (namespace: string) =>
      new SignJWT({
        sub: `system:serviceaccount:${namespace}:migrator`,
        'kubernetes.io': { namespace, serviceaccount: { name: 'migrator', uid: 'u-1' } },
      })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'cluster-1' })
        .setIssuer(K8S)
        .setAudience('countersign')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(k8sKey);
    const ok = await gw.app.inject({
      method: 'POST',
      url: '/v1/actions',
      headers: { authorization: `Bearer ${await sa('agents')}` },
      payload: { type: 'db.migrate', resource: 'prod/db', justification: 'schema v2' },
    });
    expect(ok.statusCode).toBe(201);
    expect(JSON.parse(ok.body).requester).toMatchObject({
      actor: 'jwt:cluster:system:serviceaccount:agents:migrator',
      name: 'migrator',
      principal: null,
    });
    // Outside the allowed action types of this issuer.
    const t = await sa('agents');
    expect((await submit(t)).statusCode).toBe(403);
    // Another namespace of the same cluster is not trusted.
    const other = await sa('default');
    expect401(await submit(other), other, /kubernetes\.io\/namespace/);
  });

  it('refuses self-approval by the principal or on-behalf-of human named in JWT claims', async () => {
    const res = await submit(
      await token({ repository_owner: 'acme', actor_email: 'alice@example.com', obo: 'bob@example.com' }),
    );
    expect(res.statusCode).toBe(201);
    const { id } = JSON.parse(res.body) as { id: string };
    const dev = gw.dev as NonNullable<Gw['dev']>;
    for (const who of ['alice@example.com', 'bob@example.com']) {
      const vote = await gw.app.inject({
        method: 'POST',
        url: `/v1/actions/${id}/reviews`,
        headers: { authorization: `Bearer ${dev.reviewers[who]}` },
        payload: { vote: 'approve' },
      });
      expect(vote.statusCode).toBe(403);
      expect(JSON.parse(vote.body).code).toBe('CS_ERR_SELF_APPROVAL');
    }
    const other = await gw.app.inject({
      method: 'POST',
      url: `/v1/actions/${id}/reviews`,
      headers: { authorization: `Bearer ${dev.reviewers['dana@example.com']}` },
      payload: { vote: 'approve' },
    });
    expect(other.statusCode).toBe(200);
  });
});
