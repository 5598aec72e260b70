import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SocketModeClient } from '../src/channels/slack/socket-mode.js';
import { SlackWebApi } from '../src/channels/slack/web-api.js';
import type { Gateway } from '../src/server/gateway.js';
import { FakeSlack } from './fakes/slack.js';
import { agent, TestEnv } from './helpers/gateway.js';
import { click, denySubmission, slackSection, users } from './helpers/slack.js';

const deploy = { type: 'deploy.service', resource: 'prod/api', params: {}, justification: 'release' };

describe('review in Slack over Socket Mode', () => {
  let env: TestEnv;
  let slack: FakeSlack;
  let gw: Gateway;

  beforeEach(async () => {
    env = new TestEnv();
    slack = await new FakeSlack().start();
    gw = await env.gateway({
      slack: slackSection(slack.apiUrl, {
        mode: 'socket',
        signingSecret: undefined,
        appToken: slack.appToken,
      }),
    });
    await gw.app.ready();
    await gw.slack?.socket?.connected;
  });
  afterEach(async () => {
    await env.cleanup();
    await slack.stop();
  });

  const status = async (id: string) => (await gw.service.get(id)).request.status;

  it('opens the connection with the app-level token and serves no HTTP endpoint', async () => {
    const [open] = slack.callsOf('apps.connections.open');
    expect(open?.token).toBe(slack.appToken);
    const res = await gw.app.inject({
      method: 'POST',
      url: '/v1/slack/interactivity',
      payload: 'payload=%7B%7D',
    });
    expect(res.statusCode).toBe(404);
  });

  it('acknowledges every envelope and votes through the service', async () => {
    const req = await gw.service.submit(agent, deploy);
    const ack = await slack.deliver(click(users.alice, 'cs_approve', req.id), 'env-approve');
    expect(ack).toEqual({ envelope_id: 'env-approve' });
    expect(await status(req.id)).toBe('approved');
  });

  it('returns modal errors in the ack payload', async () => {
    const req = await gw.service.submit(agent, deploy);
    const ack = await slack.deliver(denySubmission(users.erin, req.id, 'no'));
    expect(ack.payload).toMatchObject({ response_action: 'errors' });
    expect(await status(req.id)).toBe('pending');
  });

  it('ignores a redelivered envelope and an unknown workspace', async () => {
    const req = await gw.service.submit(agent, { ...deploy, type: 'aws.iam.attach' });
    const payload = click(users.alice, 'cs_approve', req.id);
    await slack.deliver(payload, 'env-1');
    await slack.deliver(payload, 'env-1');
    await slack.deliver(
      { ...payload, trigger_id: 'other', actions: [{ ...payload.actions[0], action_ts: '9.9' }] },
      'env-2',
    );
    expect((await gw.service.get(req.id)).reviews).toHaveLength(1);
    const foreign = click(users.bob, 'cs_approve', req.id, {
      team: { id: 'T0EVIL' },
      user: { id: users.bob, team_id: 'T0EVIL' },
    });
    const ack = await slack.deliver(foreign, 'env-3');
    expect(ack).toEqual({ envelope_id: 'env-3' });
    expect((await gw.service.get(req.id)).reviews).toHaveLength(1);
  });

  it('reconnects when Slack asks it to, and keeps working', async () => {
    await slack.refresh();
    await vi.waitFor(() => expect(slack.connectionsOpened).toBe(2));
    await gw.slack?.socket?.connected;
    const req = await gw.service.submit(agent, deploy);
    await slack.deliver(click(users.alice, 'cs_approve', req.id));
    expect(await status(req.id)).toBe('approved');
  });
});

describe('Socket Mode client', () => {
  it('reconnects after the connection drops and after apps.connections.open fails', async () => {
    const slack = await new FakeSlack().start();
    const api = new SlackWebApi({
      baseUrl: slack.apiUrl,
      token: slack.botToken,
      attempts: 1,
      retryBaseMs: 1,
    });
    const handled: unknown[] = [];
    const client = new SocketModeClient({
      api,
      appToken: slack.appToken,
      interactions: {
        handle: async (p: unknown) => {
          handled.push(p);
          return { status: 200 };
        },
      } as never,
      reconnectBaseMs: 5,
    });
    try {
      slack.fail('apps.connections.open', { status: 500 });
      client.start();
      await client.connected;
      expect(slack.connectionsOpened).toBe(1); // the failed call was not counted as an open
      (await slack.socket()).terminate();
      await vi.waitFor(() => expect(slack.connectionsOpened).toBe(2));
      await slack.deliver({ type: 'block_actions' }, 'env-x');
      expect(handled).toHaveLength(1);
    } finally {
      await client.stop();
      await slack.stop();
    }
  });
});
