import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sampleSnapshot } from '../src/channels/channel.case.js';
import type { Gateway } from '../src/server/gateway.js';
import { FakeSlack } from './fakes/slack.js';
import { agent, TestEnv } from './helpers/gateway.js';
import {
  click,
  denySubmission,
  formBody,
  interact,
  signed,
  slackSection,
  team,
  users,
} from './helpers/slack.js';

const deploy = {
  type: 'deploy.service',
  resource: 'prod/api',
  params: { version: '1.2.3', replicas: 3 },
  justification: 'release 1.2.3 to fix checkout',
};
const iam = {
  type: 'aws.iam.attach_role_policy',
  resource: 'prod/role/ci',
  params: { policy: 'Admin' },
  justification: 'ci',
};

describe('review in Slack over HTTP', () => {
  let env: TestEnv;
  let slack: FakeSlack;
  let gw: Gateway;

  beforeEach(async () => {
    env = new TestEnv();
    slack = await new FakeSlack().start();
    gw = await env.gateway({
      server: { publicUrl: 'https://countersign.example.com' },
      slack: slackSection(slack.apiUrl),
    });
  });
  afterEach(async () => {
    await env.cleanup();
    await slack.stop();
  });

  const idle = () => gw.slack?.channel.idle();
  const status = async (id: string) => (await gw.service.get(id)).request.status;
  const ephemerals = (user: string) =>
    slack
      .callsOf('chat.postEphemeral')
      .filter((c) => c.body.user === user)
      .map((c) => String(c.body.text));
  const posted = () => JSON.stringify(slack.callsOf('chat.postMessage')[0]?.body.blocks);

  it('posts a review message with everything a reviewer needs, then records request.notified', async () => {
    const req = await gw.service.submit(agent, deploy);
    await idle();
    const [post] = slack.callsOf('chat.postMessage');
    expect(post?.token).toBe('xoxb-test-bot-token');
    expect(post?.body.channel).toBe('C0APPROVALS');
    const blocks = posted();
    for (const needle of [
      'deploy-bot',
      'dana@example.com',
      'deploy.service',
      'prod/api',
      'production-deploys',
      req.hash.slice(0, 12),
      '0 of 1 sre',
      'release 1.2.3 to fix checkout',
      '`version`: `1.2.3`',
      '`replicas`: `3`',
      '(in 1h)',
      'cs_approve',
      'cs_deny',
      `Approve action ${req.hash.slice(0, 12)} exactly as shown`,
      `https://countersign.example.com/v1/actions/${req.id}`,
    ]) {
      expect(blocks).toContain(needle);
    }
    // The link leads to the full request on this gateway, for a reviewer.
    const link = new URL(/https:\/\/countersign\.example\.com\/[^|>"]+/.exec(blocks)?.[0] as string);
    const { token } = await gw.admin.issueReviewerToken(gw.directory, 'alice@example.com');
    const opened = await gw.app.inject({
      method: 'GET',
      url: link.pathname,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(opened.statusCode).toBe(200);
    expect(opened.json()).toMatchObject({ id: req.id, hash: req.hash });
    const trail = await gw.service.trail(req.id);
    expect(trail.find((e) => e.kind === 'request.notified')?.details).toMatchObject({
      channel: 'slack',
      to: 'C0APPROVALS',
    });
  });

  it('an approve click votes through the service, updates the same message and tells the requester in a thread', async () => {
    const req = await gw.service.submit(agent, deploy);
    await idle();
    const res = await interact(gw, click(users.alice, 'cs_approve', req.id), env.clock.now());
    expect(res.statusCode).toBe(200);
    expect(await status(req.id)).toBe('approved');
    const [review] = (await gw.service.get(req.id)).reviews;
    expect(review).toMatchObject({ reviewerId: 'alice@example.com', vote: 'approve', via: 'slack' });
    await idle();
    const [post] = slack.callsOf('chat.postMessage');
    const [update] = slack.callsOf('chat.update');
    const ts = String(slack.messages.size ? [...slack.messages.values()][0]?.ts : '');
    expect(update?.body).toMatchObject({ channel: 'C0APPROVALS', ts });
    const updated = JSON.stringify(update?.body.blocks);
    expect(updated).toContain('`Alice` approved');
    expect(updated).toContain('Approved');
    expect(updated).not.toContain('cs_approve');
    const thread = slack.callsOf('chat.postMessage').find((c) => c.body.thread_ts === ts);
    expect(thread?.body.text).toContain(`<@${users.dana}>`);
    expect(thread?.body.text).toContain('Approved');
    expect(post?.body.channel).toBe('C0APPROVALS');
    await vi.waitFor(() => expect(ephemerals(users.alice).join()).toContain('approval of'));
  });

  it('updates the message as votes arrive, showing who voted and the quorum progress', async () => {
    const req = await gw.service.submit(agent, iam);
    await idle();
    expect(posted()).toContain('0 of 2 sre/security-leads');
    await interact(gw, click(users.alice, 'cs_approve', req.id), env.clock.now());
    await idle();
    const update = JSON.stringify(slack.callsOf('chat.update').at(-1)?.body.blocks);
    expect(update).toContain('1 of 2 sre/security-leads');
    expect(update).toContain('`Alice` approved');
    expect(update).toContain('cs_approve'); // still pending: the buttons stay
    expect(await status(req.id)).toBe('pending');
  });

  it('Deny opens a modal asking for a reason; the submission rejects with that reason', async () => {
    const req = await gw.service.submit(agent, deploy);
    await idle();
    await interact(gw, click(users.bob, 'cs_deny', req.id), env.clock.now());
    const [open] = slack.callsOf('views.open');
    expect(open?.body.trigger_id).toMatch(/^trigger\./);
    expect(await status(req.id)).toBe('pending'); // no vote before the reason is given
    const empty = await interact(gw, denySubmission(users.bob, req.id, '   '), env.clock.now());
    expect(empty.json()).toMatchObject({ response_action: 'errors' });
    const res = await interact(
      gw,
      denySubmission(users.bob, req.id, 'not during the freeze'),
      env.clock.now(),
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    expect(await status(req.id)).toBe('rejected');
    expect((await gw.service.get(req.id)).reviews[0]).toMatchObject({
      vote: 'deny',
      comment: 'not during the freeze',
    });
    await idle();
    expect(JSON.stringify(slack.callsOf('chat.update').at(-1)?.body.blocks)).toContain(
      'denied: `not during the freeze`',
    );
  });

  it('a Deny click whose dialog cannot open is explained, tried once, and decides nothing', async () => {
    const req = await gw.service.submit(agent, deploy);
    slack.fail('views.open', { status: 200, body: { ok: false, error: 'expired_trigger_id' } });
    await interact(gw, click(users.bob, 'cs_deny', req.id), env.clock.now());
    expect(slack.callsOf('views.open')).toHaveLength(1);
    await vi.waitFor(() => expect(ephemerals(users.bob).join()).toMatch(/could not be opened/));
    expect(await status(req.id)).toBe('pending');
  });

  it('shows expiry and cancellation in place', async () => {
    const a = await gw.service.submit(agent, deploy);
    const b = await gw.service.submit(agent, { ...deploy, resource: 'prod/web' });
    await idle();
    await gw.service.cancel(b.id, agent);
    env.clock.advance(3_600_001);
    await gw.service.expireDue();
    await vi.waitFor(async () => {
      await idle();
      const texts = slack.callsOf('chat.update').map((c) => JSON.stringify(c.body.blocks));
      expect(texts.some((t) => t.includes('Expired') && t.includes('prod/api'))).toBe(true);
      expect(texts.some((t) => t.includes('Cancelled') && t.includes('prod/web'))).toBe(true);
    });
    expect(await status(a.id)).toBe('expired');
  });

  describe('every click is checked before anything is decided', () => {
    it('refuses a forged signature', async () => {
      const req = await gw.service.submit(agent, deploy);
      const body = formBody(click(users.alice, 'cs_approve', req.id));
      const res = await gw.app.inject({
        method: 'POST',
        url: '/v1/slack/interactivity',
        headers: signed(body, env.clock.now(), 'not-the-signing-secret-at-all'),
        payload: body,
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().detail).toMatch(/signature does not match/);
      expect(res.body).not.toContain('test-signing-secret');
      expect(await status(req.id)).toBe('pending');
    });

    it('refuses a body changed after signing', async () => {
      const req = await gw.service.submit(agent, deploy);
      const other = await gw.service.submit(agent, { ...deploy, resource: 'prod/other' });
      const body = formBody(click(users.alice, 'cs_approve', req.id));
      const headers = signed(body, env.clock.now());
      const swapped = body.replace(req.id, other.id);
      const res = await gw.app.inject({
        method: 'POST',
        url: '/v1/slack/interactivity',
        headers,
        payload: swapped,
      });
      expect(res.statusCode).toBe(401);
      expect(await status(other.id)).toBe('pending');
    });

    it('refuses missing signature headers', async () => {
      const req = await gw.service.submit(agent, deploy);
      const body = formBody(click(users.alice, 'cs_approve', req.id));
      const res = await gw.app.inject({
        method: 'POST',
        url: '/v1/slack/interactivity',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: body,
      });
      expect(res.statusCode).toBe(401);
    });

    it('refuses stale and future timestamps, accepts within five minutes', async () => {
      const req = await gw.service.submit(agent, iam);
      for (const skew of [-301, 301, -3600, 86_400]) {
        const body = formBody(click(users.alice, 'cs_approve', req.id));
        const res = await gw.app.inject({
          method: 'POST',
          url: '/v1/slack/interactivity',
          headers: signed(body, env.clock.now(), undefined, skew),
          payload: body,
        });
        expect(res.statusCode, `skew ${skew}`).toBe(401);
      }
      expect((await gw.service.get(req.id)).reviews).toHaveLength(0);
      const body = formBody(click(users.alice, 'cs_approve', req.id));
      const ok = await gw.app.inject({
        method: 'POST',
        url: '/v1/slack/interactivity',
        headers: signed(body, env.clock.now(), undefined, -290),
        payload: body,
      });
      expect(ok.statusCode).toBe(200);
      expect((await gw.service.get(req.id)).reviews).toHaveLength(1);
    });

    it('ignores a replayed delivery and a re-signed retry of the same click', async () => {
      const req = await gw.service.submit(agent, iam);
      const payload = click(users.alice, 'cs_approve', req.id);
      const body = formBody(payload);
      const headers = signed(body, env.clock.now());
      const send = (h: Record<string, string>) =>
        gw.app.inject({ method: 'POST', url: '/v1/slack/interactivity', headers: h, payload: body });
      expect((await send(headers)).statusCode).toBe(200);
      await vi.waitFor(() => expect(ephemerals(users.alice)).toHaveLength(1));
      expect((await send(headers)).statusCode).toBe(200);
      env.clock.advance(2000);
      expect((await send(signed(body, env.clock.now()))).statusCode).toBe(200);
      // Neither repeat reached the service: no "already voted" reply, one review.
      expect((await gw.service.get(req.id)).reviews).toHaveLength(1);
      expect(ephemerals(users.alice)).toHaveLength(1);
    });

    it('refuses an unknown workspace and an unknown app', async () => {
      const req = await gw.service.submit(agent, deploy);
      const otherTeam = click(users.alice, 'cs_approve', req.id, {
        team: { id: 'T0EVIL' },
        user: { id: users.alice, team_id: 'T0EVIL' },
      });
      expect((await interact(gw, otherTeam, env.clock.now())).statusCode).toBe(403);
      const otherApp = click(users.alice, 'cs_approve', req.id, { api_app_id: 'A0EVIL' });
      expect((await interact(gw, otherApp, env.clock.now())).statusCode).toBe(403);
      expect(await status(req.id)).toBe('pending');
    });

    it('refuses an unlinked Slack user with an ephemeral explanation', async () => {
      const req = await gw.service.submit(agent, deploy);
      expect(
        (await interact(gw, click(users.mallory, 'cs_approve', req.id), env.clock.now())).statusCode,
      ).toBe(200);
      await vi.waitFor(() => expect(ephemerals(users.mallory).join()).toMatch(/not linked/));
      expect(await status(req.id)).toBe('pending');
      await interact(gw, denySubmission(users.mallory, req.id, 'no'), env.clock.now());
      expect(await status(req.id)).toBe('pending');
    });

    it('refuses the requester (the human behind the agent)', async () => {
      const req = await gw.service.submit(agent, deploy);
      await interact(gw, click(users.dana, 'cs_approve', req.id), env.clock.now());
      await vi.waitFor(() => expect(ephemerals(users.dana).join()).toMatch(/delegation chain/));
      expect(await status(req.id)).toBe('pending');
    });

    it('refuses a reviewer outside the approver groups', async () => {
      const req = await gw.service.submit(agent, deploy);
      await interact(gw, click(users.erin, 'cs_approve', req.id), env.clock.now());
      await vi.waitFor(() => expect(ephemerals(users.erin).join()).toMatch(/none of the approver groups/));
      expect(await status(req.id)).toBe('pending');
      const res = await interact(gw, denySubmission(users.erin, req.id, 'nope'), env.clock.now());
      expect(res.json().errors.reason).toMatch(/none of the approver groups/);
      expect(await status(req.id)).toBe('pending');
    });

    it('refuses JSON bodies (Slack sends form-encoded)', async () => {
      const req = await gw.service.submit(agent, deploy);
      const res = await gw.app.inject({
        method: 'POST',
        url: '/v1/slack/interactivity',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ payload: click(users.alice, 'cs_approve', req.id) }),
      });
      expect(res.statusCode).toBe(415);
      expect(await status(req.id)).toBe('pending');
    });
  });

  it('escapes what the actor controls: no mentions, no markup, no hidden characters', async () => {
    const req = await gw.service.submit(agent, {
      type: 'deploy.<!channel>',
      resource: 'prod/<@U0BOSS>',
      params: {
        note: '<!here> *approve now* <https://evil.example|click> `code` ```block```',
        hidden: 'safe\u202Etxt.exe\u0000\u200B',
        long: 'x'.repeat(5000),
      },
      justification: 'ok <!everyone> &amp; <#C123|general>',
    });
    await idle();
    const blocks = posted();
    for (const bad of ['<!channel>', '<!here>', '<!everyone>', '<@U0BOSS>', '<https://evil', '<#C123']) {
      expect(blocks).not.toContain(bad);
    }
    // JSON.stringify leaves U+202E and U+200B raw, and writes NUL as \u0000.
    for (const hidden of ['\u202E', '\u200B', '\\u0000']) expect(blocks).not.toContain(hidden);
    expect(blocks).toContain('safetxt.exe');
    expect(blocks).toContain('&lt;!channel&gt;');
    expect(blocks).toContain('&amp;amp;');
    expect(blocks).not.toContain('x'.repeat(400));
    expect(blocks).toContain(`<https://countersign.example.com/v1/actions/${req.id}|see the full request>`);
    const text = String(slack.callsOf('chat.postMessage')[0]?.body.text);
    expect(text).not.toContain('<!channel>');
  });

  it('Slack down never approves anything: retried, then failed, counted, request still pending', async () => {
    slack.down = { status: 503 };
    const req = await gw.service.submit(agent, deploy);
    await idle();
    expect(slack.callsOf('chat.postMessage').length).toBe(5); // slack.retryAttempts
    expect(await status(req.id)).toBe('pending');
    const metrics = await gw.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/countersign_channel_failures_total\{channel="slack"\} 1/);
    slack.down = null;
    const later = await gw.service.submit(agent, { ...deploy, resource: 'prod/web' });
    await idle();
    expect(slack.messages.size).toBe(1);
    expect(await status(later.id)).toBe('pending');
  });

  it('honours a rate limit and posts once Slack accepts', async () => {
    slack.fail(
      'chat.postMessage',
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 200, body: { ok: false, error: 'ratelimited' } },
    );
    await gw.service.submit(agent, deploy);
    await idle();
    expect(slack.callsOf('chat.postMessage')).toHaveLength(3);
    expect(slack.messages.size).toBe(1);
  });

  it('keeps the OpenAPI document free of the Slack-only endpoint', async () => {
    const res = await gw.app.inject({ method: 'GET', url: '/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('/v1/slack/interactivity');
  });

  it('does not retry a permanent error such as channel_not_found', async () => {
    slack.fail('chat.postMessage', { status: 200, body: { ok: false, error: 'channel_not_found' } });
    await gw.service.submit(agent, deploy);
    await idle();
    expect(slack.callsOf('chat.postMessage')).toHaveLength(1);
  });

  describe('resync repairs what Slack missed', () => {
    const resync = () => gw.slack?.channel.resync() ?? Promise.resolve(0);

    it('posts a request that Slack was down for, once Slack is back', async () => {
      slack.down = { status: 503 };
      const req = await gw.service.submit(agent, deploy);
      await idle();
      slack.down = null;
      expect(await resync()).toBe(0); // too young: its first attempt may still be running
      env.clock.advance(30_000);
      expect(await resync()).toBe(1);
      expect([...slack.messages.values()].map((m) => m.channel)).toEqual(['C0APPROVALS']);
      expect(await resync()).toBe(0);
      expect(await status(req.id)).toBe('pending');
    });

    it('backs off while Slack stays down, and counts each failure', async () => {
      slack.down = { status: 503 };
      await gw.service.submit(agent, deploy);
      await idle();
      env.clock.advance(30_000);
      await resync();
      const calls = slack.callsOf('chat.postMessage').length;
      await resync();
      expect(slack.callsOf('chat.postMessage').length).toBe(calls);
      env.clock.advance(30_000);
      await resync();
      expect(slack.callsOf('chat.postMessage').length).toBeGreaterThan(calls);
      const metrics = await gw.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/countersign_channel_failures_total\{channel="slack"\} 3/);
    });

    it('brings a message up to date after a failed update', async () => {
      const req = await gw.service.submit(agent, deploy);
      await idle();
      slack.fail('chat.update', ...Array.from({ length: 5 }, () => ({ status: 500 })));
      await interact(gw, click(users.alice, 'cs_approve', req.id), env.clock.now());
      await idle();
      const message = () => JSON.stringify([...slack.messages.values()][0]?.blocks);
      expect(message()).toContain('cs_approve'); // still shows the buttons
      env.clock.advance(30_000);
      expect(await resync()).toBe(1);
      expect(message()).toContain('Approved');
      expect(message()).not.toContain('cs_approve');
      expect(await resync()).toBe(0);
    });
  });
});

describe('Slack users linked through the identity provider', () => {
  it('vote as the IdP identity, with its login time, and unlinked users are offered a link', async () => {
    const env = new TestEnv();
    const slack = await new FakeSlack().start();
    try {
      const gw = await env.gateway({
        server: { publicUrl: 'https://countersign.example.com' },
        identity: { groups: { sre: ['carol@example.com'] } },
        slack: slackSection(slack.apiUrl),
      });
      const person = {
        id: 'https://idp.example.com#carol',
        issuer: 'https://idp.example.com',
        subject: 'carol',
        email: 'carol@example.com',
        name: 'Carol',
        idpGroups: [],
      };
      const authTime = env.clock.now() - 60_000;
      await gw.identity.store.putChatLink({
        platform: 'slack',
        teamId: team,
        userId: 'UCAROL',
        person,
        authTime,
        linkedAt: authTime,
      });
      const req = await gw.service.submit(agent, deploy);
      await interact(gw, click('UCAROL', 'cs_approve', req.id), env.clock.now());
      const { request, reviews } = await gw.service.get(req.id);
      expect(request.status).toBe('approved');
      expect(reviews[0]).toMatchObject({ reviewerId: person.id, groups: ['sre'], via: 'slack' });

      const other = await gw.service.submit(agent, { ...deploy, resource: 'prod/web' });
      await interact(gw, click(users.mallory, 'cs_approve', other.id), env.clock.now());
      await vi.waitFor(() => {
        const text = String(
          slack.callsOf('chat.postEphemeral').find((c) => c.body.user === users.mallory)?.body.text,
        );
        expect(text).toMatch(/not linked/);
        expect(text).toMatch(
          /<https:\/\/countersign\.example\.com\/auth\/link\/[^|>]+\|Link your Slack account>/,
        );
      });
      expect((await gw.service.get(other.id)).request.status).toBe('pending');
    } finally {
      await env.cleanup();
      await slack.stop();
    }
  });
});

describe('the policy decides where to ask', () => {
  it('posts to the conversations a rule names, and not at all for a console-only rule', async () => {
    const env = new TestEnv();
    const slack = await new FakeSlack().start();
    try {
      const policyFile = join(env.dir, 'policy.yaml');
      writeFileSync(
        policyFile,
        [
          'version: 1',
          'approval:',
          '  approvers: { groups: [sre], count: 1 }',
          'default:',
          '  decision: require_approval',
          'rules:',
          '  - name: db-console-only',
          '    match: { type: "db.*" }',
          '    decision: require_approval',
          '    channels: [console]',
          '  - name: deploys-to-sre',
          '    match: { type: "deploy.*" }',
          '    decision: require_approval',
          '    channels: ["slack:sre", console]',
          '',
        ].join('\n'),
      );
      const gw = await env.gateway({
        policy: { files: [policyFile] },
        slack: slackSection(slack.apiUrl, { channelAliases: { sre: 'C0SRE' } }),
      });
      const db = await gw.service.submit(agent, { ...deploy, type: 'db.migrate' });
      const dep = await gw.service.submit(agent, deploy);
      await gw.slack?.channel.idle();
      expect(db.policy.channels).toEqual(['console']);
      const posts = slack.callsOf('chat.postMessage');
      expect(posts.map((p) => p.body.channel)).toEqual(['C0SRE']);
      expect(JSON.stringify(posts[0]?.body.blocks)).toContain(dep.id);
    } finally {
      await env.cleanup();
      await slack.stop();
    }
  });
});

describe('rules that leave Slack out', () => {
  it('are not posted, not counted as failures, and passed by the resync sweep', async () => {
    const env = new TestEnv();
    const slack = await new FakeSlack().start();
    try {
      const gw = await env.gateway({ slack: slackSection(slack.apiUrl) });
      const snap = sampleSnapshot();
      snap.request.policy.channels = ['console'];
      snap.request.createdAt = env.clock.now();
      await gw.store.createRequest(snap.request, []);
      await gw.slack?.channel.requestPending(snap);
      env.clock.advance(30_000);
      expect(await gw.slack?.channel.resync()).toBe(0);
      expect(await gw.slack?.channel.resync()).toBe(0);
      expect(gw.slack?.state.unposted(env.clock.now(), 10)).toEqual([]);
      expect(slack.calls).toHaveLength(0);
      const metrics = await gw.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).not.toMatch(/countersign_channel_failures_total\{channel="slack"\}/);
    } finally {
      await env.cleanup();
      await slack.stop();
    }
  });
});

describe('a request submitted while Slack was not running', () => {
  it('is posted by the next gateway that has Slack', async () => {
    const env = new TestEnv();
    const slack = await new FakeSlack().start();
    try {
      const before = await env.gateway({});
      const req = await before.service.submit(agent, deploy);
      await env.close(before);
      const after = await env.gateway({ slack: slackSection(slack.apiUrl) });
      env.clock.advance(30_000);
      expect(await after.slack?.channel.resync()).toBe(1);
      expect(JSON.stringify(slack.callsOf('chat.postMessage')[0]?.body.blocks)).toContain(req.id);
    } finally {
      await env.cleanup();
      await slack.stop();
    }
  });
});
