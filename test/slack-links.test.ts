import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SlackInteractions } from '../src/channels/slack/interactions.js';
import { SlackWebApi } from '../src/channels/slack/web-api.js';
import { ManualClock } from '../src/core/clock.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import { SqliteSlackState } from '../src/store/sqlite/slack.js';
import { FakeSlack } from './fakes/slack.js';
import { appId, click, team, users } from './helpers/slack.js';

const requestId = 'req_06h06evmm0bhx869ydktkfkgw0';

describe('unlinked Slack users and the identity link flow', () => {
  let dir: string;
  let store: SqliteStore;
  let slack: FakeSlack;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'countersign-links-'));
    store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    slack = await new FakeSlack().start();
  });
  afterEach(async () => {
    await store.close();
    await slack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function interactions(startLink?: (t: string, u: string) => Promise<{ url: string }>) {
    const review = vi.fn();
    const handler = new SlackInteractions({
      service: { review } as never,
      links: { resolve: async () => undefined },
      api: new SlackWebApi({ baseUrl: slack.apiUrl, token: slack.botToken, attempts: 1, retryBaseMs: 1 }),
      state: new SqliteSlackState(store),
      clock: new ManualClock(Date.now()),
      teamIds: [team],
      appIds: [appId],
      ...(startLink ? { startLink } : {}),
    });
    return { handler, review };
  }
  const ephemeral = () => String(slack.callsOf('chat.postEphemeral')[0]?.body.text);

  it('offers a link to connect the account, made for exactly that Slack user', async () => {
    const startLink = vi.fn(async () => ({ url: 'https://cs.example.com/auth/link/abc123' }));
    const { handler, review } = interactions(startLink);
    await handler.handle(click(users.mallory, 'cs_approve', requestId), null);
    await vi.waitFor(() =>
      expect(ephemeral()).toContain('<https://cs.example.com/auth/link/abc123|Link your Slack account>'),
    );
    expect(startLink).toHaveBeenCalledWith(team, users.mallory);
    expect(slack.callsOf('chat.postEphemeral')[0]?.body.user).toBe(users.mallory);
    expect(review).not.toHaveBeenCalled();
  });

  it('never puts a link with markup characters into the message', async () => {
    const { handler } = interactions(async () => ({ url: 'https://cs.example.com/x|<!channel>' }));
    await handler.handle(click(users.mallory, 'cs_approve', requestId), null);
    await vi.waitFor(() => expect(ephemeral()).toMatch(/not linked/));
    expect(ephemeral()).not.toContain('<!channel>');
    expect(ephemeral()).not.toContain('Link your Slack account');
  });

  it('still refuses, with the plain explanation, when the link flow fails', async () => {
    const { handler, review } = interactions(async () => {
      throw new Error('identity store down');
    });
    await handler.handle(click(users.mallory, 'cs_approve', requestId), null);
    await vi.waitFor(() => expect(ephemeral()).toMatch(/not linked/));
    expect(review).not.toHaveBeenCalled();
  });
});
