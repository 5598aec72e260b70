import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iamAction, startGateway, type TestGateway } from './support/gateway.js';

let t: TestGateway;
beforeAll(async () => {
  t = await startGateway();
});
afterAll(async () => {
  await t.close();
});

const submit = (body: unknown = iamAction, token = t.agent) => t.call('POST', '/v1/actions', token, body);
const vote = (
  id: string,
  who: keyof TestGateway['reviewers'],
  v: 'approve' | 'deny' = 'approve',
  comment?: string,
) =>
  t.call('POST', `/v1/actions/${id}/reviews`, t.reviewers[who], { vote: v, ...(comment ? { comment } : {}) });

describe('the flow over HTTP', () => {
  it('allows, denies and holds actions as the policy says', async () => {
    const allowed = await submit({ type: 's3.read', resource: 'prod/bucket', justification: 'list' });
    expect(allowed.status).toBe(201);
    expect(allowed.body).toMatchObject({ status: 'allowed', rule: 'reads' });
    expect(allowed.body.hash).toMatch(/^[0-9a-f]{64}$/);

    const denied = await submit({ type: 'db.drop', resource: 'prod/db', justification: 'x' });
    expect(denied.body).toMatchObject({ status: 'denied', rule: 'no-drop' });
    expect(denied.body.reason).toContain('never');

    const pending = await submit();
    expect(pending.body).toMatchObject({
      status: 'pending',
      rule: 'iam',
      quorum: { anyOf: [{ count: 2, have: 0 }] },
    });
    expect(pending.body.expiresAt).not.toBeNull();

    const fallback = await submit({ type: 'something.new', resource: 'x', justification: 'y' });
    expect(fallback.body).toMatchObject({ status: 'pending', rule: null });
  });

  it('runs submit → pending → two approvals → approved → result, waking the waiting agent', async () => {
    const { body: req } = await submit();
    const waiting = t.call('GET', `/v1/actions/${req.id}/decision?wait=30`, t.agent);
    expect((await vote(req.id, 'alice')).body).toMatchObject({
      status: 'pending',
      quorum: { anyOf: [{ have: 1 }] },
    });
    expect((await vote(req.id, 'bob')).body.status).toBe('approved');
    const decided = await waiting;
    expect(decided.status).toBe(200);
    expect(decided.body.status).toBe('approved');
    expect(decided.body.validUntil).not.toBeNull();

    const done = await t.call('POST', `/v1/actions/${req.id}/result`, t.agent, {
      outcome: 'succeeded',
      hash: req.hash,
      detail: 'ok',
    });
    expect(done.body).toMatchObject({ status: 'executed', result: { outcome: 'succeeded', detail: 'ok' } });

    const trail = await t.call('GET', `/v1/actions/${req.id}/events`, t.reviewers.alice);
    expect(trail.body.items.map((e: any) => e.kind)).toEqual([
      'request.submitted',
      'review.cast',
      'review.cast',
      'request.approved',
      'request.executed',
    ]);
    const submitted = trail.body.items[0];
    expect(submitted.details).toMatchObject({ hash: req.hash, policy: { rule: 'iam' } });
    expect(submitted.details.policy.version).toBe(req.policyVersion);
  });

  it('returns at the wait limit with the current state when nobody decides', async () => {
    const { body: req } = await submit();
    const r = await t.call('GET', `/v1/actions/${req.id}/decision?wait=1`, t.agent);
    expect(r.body.status).toBe('pending');
  });

  it('lets the agent cancel its own pending request, once', async () => {
    const { body: req } = await submit();
    expect((await t.call('POST', `/v1/actions/${req.id}/cancel`, t.agent)).body.status).toBe('cancelled');
    expect((await t.call('POST', `/v1/actions/${req.id}/cancel`, t.agent)).status).toBe(409);
    expect((await vote(req.id, 'alice')).status).toBe(409);
  });

  it('lists pending reviews for eligible reviewers only, never their own agent’s', async () => {
    const { body: req } = await submit();
    const ids = async (who: keyof TestGateway['reviewers']) =>
      (await t.call('GET', '/v1/reviews/pending', t.reviewers[who])).body.items.map((i: any) => i.id);
    expect(await ids('alice')).toContain(req.id);
    expect(await ids('dana')).not.toContain(req.id);
    expect(await ids('mallory')).not.toContain(req.id);
    await vote(req.id, 'alice');
    expect(await ids('alice')).not.toContain(req.id);
  });

  it('pages the pending reviews with limit and before, and refuses a bad page', async () => {
    for (let i = 0; i < 3; i++) await submit();
    const page = (q: string) => t.call('GET', `/v1/reviews/pending${q}`, t.reviewers.alice);
    const everything = (await page('')).body;
    expect(everything.next).toBeNull();
    const first = (await page('?limit=2')).body;
    expect(first.items.map((i: any) => i.id)).toEqual(everything.items.slice(0, 2).map((i: any) => i.id));
    expect(first.next).toBe(first.items[1].id);
    const second = (await page(`?limit=2&before=${first.next}`)).body;
    expect(second.items.map((i: any) => i.id)).toEqual(everything.items.slice(2, 4).map((i: any) => i.id));
    for (const q of ['?limit=0', '?limit=101', '?before=42', '?status=pending']) {
      const r = await page(q);
      expect(r.status, q).toBe(400);
      expect(r.headers.get('content-type'), q).toContain('application/problem+json');
    }
  });
});

describe('review rules, attacked over HTTP', () => {
  it('refuses self-approval by the owner of the agent key (403)', async () => {
    const { body: req } = await submit();
    const r = await vote(req.id, 'dana');
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('CS_ERR_SELF_APPROVAL');
    expect(r.headers.get('content-type')).toContain('application/problem+json');
  });

  it('refuses a reviewer outside the approver groups (403)', async () => {
    const { body: req } = await submit();
    expect((await vote(req.id, 'mallory')).body.code).toBe('CS_ERR_NOT_ELIGIBLE');
  });

  it('counts the same person in two approver groups once toward a quorum of 2', async () => {
    const { body: req } = await submit();
    expect((await vote(req.id, 'bob')).body.status).toBe('pending');
    const again = await vote(req.id, 'bob');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('CS_ERR_ALREADY_VOTED');
    expect((await t.call('GET', `/v1/actions/${req.id}`, t.agent)).body.status).toBe('pending');
  });

  it('rejects on a deny vote, and refuses votes afterwards (409)', async () => {
    const { body: req } = await submit();
    await vote(req.id, 'alice');
    expect((await vote(req.id, 'bob', 'deny', 'too broad')).body.status).toBe('rejected');
    const late = await vote(req.id, 'dana');
    expect(late.body.code).toBe('CS_ERR_NOT_PENDING');
    const late2 = await t.call('POST', `/v1/actions/${req.id}/reviews`, t.reviewers.alice, {
      vote: 'approve',
    });
    expect(late2.status).toBe(409);
  });

  it('lets 50 reviewers race on one request and produces exactly one terminal transition', async () => {
    const { body: req } = await t.call('POST', '/v1/actions', t.agent, {
      type: 'deploy.service',
      resource: 'prod/api',
      justification: 'release',
    });
    const tokens = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const id = i % 2 ? 'alice@example.com' : 'bob@example.com';
        return (await t.gw.admin.issueReviewerToken(t.gw.directory, id)).token;
      }),
    );
    const results = await Promise.all(
      tokens.map((tk, i) =>
        t.call('POST', `/v1/actions/${req.id}/reviews`, tk, { vote: i % 3 ? 'approve' : 'deny' }),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(49);
    const trail = (await t.call('GET', `/v1/actions/${req.id}/events`, t.reviewers.alice)).body.items.map(
      (e: any) => e.kind,
    );
    expect(trail.filter((k: string) => k === 'request.approved' || k === 'request.rejected')).toHaveLength(1);
    expect(trail.filter((k: string) => k === 'review.cast')).toHaveLength(1);
  });
});

describe('results are bound to the decided action', () => {
  it('refuses a result with a different action hash (409) and accepts the right one once', async () => {
    const { body: req } = await submit({ type: 's3.read', resource: 'prod/x', justification: 'r' });
    const other = 'f'.repeat(64);
    const wrong = await t.call('POST', `/v1/actions/${req.id}/result`, t.agent, {
      outcome: 'succeeded',
      hash: other,
    });
    expect(wrong.status).toBe(409);
    expect(wrong.body.code).toBe('CS_ERR_HASH_MISMATCH');
    expect(
      (
        await t.call('POST', `/v1/actions/${req.id}/result`, t.agent, {
          outcome: 'failed',
          hash: req.hash,
          detail: 'boom',
        })
      ).body.status,
    ).toBe('failed');
    const twice = await t.call('POST', `/v1/actions/${req.id}/result`, t.agent, {
      outcome: 'succeeded',
      hash: req.hash,
    });
    expect(twice.body.code).toBe('CS_ERR_RESULT_RECORDED');
  });

  it('refuses a result for a pending, denied or rejected request', async () => {
    const { body: pending } = await submit();
    const { body: denied } = await submit({ type: 'db.drop', resource: 'x', justification: 'y' });
    for (const r of [pending, denied]) {
      const res = await t.call('POST', `/v1/actions/${r.id}/result`, t.agent, {
        outcome: 'succeeded',
        hash: r.hash,
      });
      expect(res.status).toBe(409);
    }
  });

  it('gives a changed action a new hash: a swapped parameter is a new request', async () => {
    const { body: a } = await submit();
    const { body: b } = await submit({
      ...iamAction,
      params: { policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
    });
    expect(a.hash).not.toBe(b.hash);
    const { body: c } = await submit({ ...iamAction, justification: 'reworded reason' });
    expect(c.hash).toBe(a.hash);
  });

  it('only lets the request’s own agent record its result or read it', async () => {
    const other = (await t.gw.admin.createActor({ name: 'other-bot', owner: 'erin@example.com' })).token;
    const { body: req } = await submit({ type: 's3.read', resource: 'prod/x', justification: 'r' });
    expect((await t.call('GET', `/v1/actions/${req.id}`, other)).status).toBe(404);
    expect(
      (await t.call('POST', `/v1/actions/${req.id}/result`, other, { outcome: 'succeeded', hash: req.hash }))
        .status,
    ).toBe(404);
    expect((await t.call('POST', `/v1/actions/${req.id}/cancel`, other)).status).toBe(404);
  });
});

describe('bad input and credentials', () => {
  it('answers every bad input with problem details, never a 500', async () => {
    const cases: Array<[string, string, string | undefined, unknown, number, string]> = [
      ['POST', '/v1/actions', t.agent, '{"type": ', 400, 'CS_ERR_BAD_JSON'],
      ['POST', '/v1/actions', t.agent, { ...iamAction, surprise: 1 }, 400, 'CS_ERR_VALIDATION'],
      ['POST', '/v1/actions', t.agent, { ...iamAction, type: 42 }, 400, 'CS_ERR_VALIDATION'],
      ['POST', '/v1/actions', t.agent, { type: 'a.b', resource: 'r' }, 400, 'CS_ERR_VALIDATION'],
      ['POST', '/v1/actions', t.agent, { ...iamAction, type: 'has spaces' }, 400, 'CS_ERR_VALIDATION'],
      ['POST', '/v1/actions', t.agent, { ...iamAction, params: [] }, 400, 'CS_ERR_VALIDATION'],
      ['POST', '/v1/actions', undefined, iamAction, 401, 'CS_ERR_UNAUTHENTICATED'],
      [
        'POST',
        '/v1/actions',
        'csk_00000000000000000000000000.0000000000000000000000000000000000000000000000000000',
        iamAction,
        401,
        'CS_ERR_UNAUTHENTICATED',
      ],
      ['POST', '/v1/actions', 'Basic abc', iamAction, 401, 'CS_ERR_UNAUTHENTICATED'],
      ['GET', '/v1/actions/req_nope', t.agent, undefined, 404, 'CS_ERR_NOT_FOUND'],
      ['GET', '/v1/nowhere', t.agent, undefined, 404, 'CS_ERR_ROUTE_NOT_FOUND'],
      ['GET', '/v1/actions/x/decision?wait=9999', t.agent, undefined, 400, 'CS_ERR_VALIDATION'],
      ['POST', '/v1/actions/x/reviews', t.agent, { vote: 'approve' }, 403, 'CS_ERR_FORBIDDEN'],
    ];
    for (const [method, path, token, body, status, code] of cases) {
      const r = await t.call(method, path, token, body);
      expect({ path, body, status: r.status, code: r.body.code }).toEqual({ path, body, status, code });
      expect(r.body.fix).toEqual(expect.any(String));
    }
  });

  it('answers an oversized body with 413', async () => {
    const big = { ...iamAction, params: { blob: 'x'.repeat(300_000) } };
    const r = await t.call('POST', '/v1/actions', t.agent, big);
    expect(r.status).toBe(413);
    expect(r.body.code).toBe('CS_ERR_PAYLOAD_TOO_LARGE');
  });

  it('answers a non-JSON content type with 415', async () => {
    const res = await fetch(`${t.url}/v1/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.agent}`, 'content-type': 'text/plain' },
      body: 'hi',
    });
    expect(res.status).toBe(415);
  });

  it('refuses a revoked agent key at once', async () => {
    const { credential, token } = await t.gw.admin.createActor({ name: 'temp', owner: 'x@example.com' });
    expect((await submit(iamAction, token)).status).toBe(201);
    await t.gw.admin.revoke(credential.id);
    const r = await submit(iamAction, token);
    expect(r.status).toBe(401);
    expect(r.body.detail).toContain('revoked');
    expect(r.body.detail).not.toContain(token.split('.')[1]);
  });

  it('enforces an agent key’s allowed action types', async () => {
    const { token } = await t.gw.admin.createActor({
      name: 'reader',
      owner: 'x@example.com',
      allowedTypes: ['*.read'],
    });
    expect((await submit({ type: 's3.read', resource: 'r', justification: 'j' }, token)).status).toBe(201);
    expect((await submit(iamAction, token)).status).toBe(403);
  });

  it('pages through requests with before and next, newest first, without an empty last page', async () => {
    const { token } = await t.gw.admin.createActor({ name: 'pager', owner: 'p@example.com' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.unshift((await submit({ type: 's3.read', resource: `r${i}`, justification: 'j' }, token)).body.id);
    const seen: string[] = [];
    const nexts: Array<string | null> = [];
    let before = '';
    for (;;) {
      const page = await t.call('GET', `/v1/actions?limit=2${before ? `&before=${before}` : ''}`, token);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((r: { id: string }) => r.id));
      nexts.push(page.body.next);
      if (!page.body.next) break;
      expect(page.body.next).toBe(seen.at(-1));
      before = page.body.next;
    }
    expect(seen).toEqual(ids);
    expect(nexts).toHaveLength(3);
    // A page that ends exactly at the oldest request says there is nothing more.
    expect((await t.call('GET', '/v1/actions?limit=5', token)).body.next).toBeNull();
    expect((await t.call('GET', `/v1/actions?limit=4&before=${ids[0]}`, token)).body).toMatchObject({
      next: null,
    });
  });

  it('refuses a before that is not a request id', async () => {
    for (const before of ['x', 'REQ_01', 'req_short', `req_${'0'.repeat(26)}x`]) {
      const r = await t.call('GET', `/v1/actions?before=${encodeURIComponent(before)}`, t.agent);
      expect({ before, status: r.status, code: r.body.code }).toEqual({
        before,
        status: 400,
        code: 'CS_ERR_VALIDATION',
      });
    }
  });

  it('keeps agents and reviewers on their own endpoints', async () => {
    expect((await submit(iamAction, t.reviewers.alice)).status).toBe(403);
    expect((await t.call('GET', '/v1/reviews/pending', t.agent)).status).toBe(403);
  });
});

describe('operations', () => {
  it('answers the bare URL, where a browser sign-in without return_to lands, with links that exist', async () => {
    const home = await t.call('GET', '/');
    expect(home.status).toBe(200);
    expect(home.body.service).toBe('countersign');
    for (const [name, path] of Object.entries(home.body.links as Record<string, string>)) {
      const res = await t.call('GET', path, name === 'pendingReviews' ? t.reviewers.alice : undefined);
      expect(res.status, path).not.toBe(404);
    }
  });

  it('counts in /metrics the WAL flushes that durable writes waited for', async () => {
    const count = async () => {
      const text = String((await t.call('GET', '/metrics')).body);
      expect(text).toContain('countersign_store_flush_failures_total 0');
      const lines = text.split('\n').filter((l) => l.startsWith('countersign_store_flush_seconds_count{'));
      return lines.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    };
    const before = await count();
    for (let i = 0; i < 3; i++)
      expect((await submit({ type: 's3.read', resource: 'prod/bucket', justification: 'list' })).status).toBe(
        201,
      );
    // Each submit waits for a flush of its own: it is answered only once stored.
    expect((await count()) - before).toBeGreaterThanOrEqual(3);
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await t.call('GET', '/healthz')).body.status).toBe('ok');
    expect((await t.call('GET', '/readyz')).body.status).toBe('ready');
    const metrics = await t.call('GET', '/metrics');
    expect(metrics.body).toContain('countersign_actions_submitted_total{status="pending"}');
    const spec = (await t.call('GET', '/v1/openapi.json')).body;
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/v1/actions',
        '/v1/actions/{id}',
        '/v1/actions/{id}/decision',
        '/v1/actions/{id}/reviews',
        '/v1/actions/{id}/result',
        '/v1/reviews/pending',
      ]),
    );
    expect(
      spec.paths['/v1/actions'].post.requestBody.content['application/json'].schema.additionalProperties,
    ).toBe(false);
  });
});
