import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlackApiError, SlackWebApi } from '../src/channels/slack/web-api.js';
import { FakeSlack } from './fakes/slack.js';

describe('Slack Web API client', () => {
  let slack: FakeSlack;
  const waits: number[] = [];
  const api = (token: string, attempts = 4) =>
    new SlackWebApi({
      baseUrl: slack.apiUrl,
      token,
      attempts,
      retryBaseMs: 1000,
      random: () => 1,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });

  beforeEach(async () => {
    slack = await new FakeSlack().start();
    waits.length = 0;
  });
  afterEach(() => slack.stop());

  it('sends the bot token as a bearer header and JSON, and never puts the token in an error', async () => {
    const wrong = 'xoxb-wrong-but-secret-token';
    const error = await api(wrong)
      .call('chat.postMessage', { channel: 'C1', text: 'hi' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlackApiError);
    expect((error as Error).message).toBe('Slack chat.postMessage failed: invalid_auth');
    expect(JSON.stringify(error)).not.toContain(wrong);
    expect(slack.calls).toHaveLength(1); // permanent: not retried
    expect(slack.calls[0]?.token).toBe(wrong);
  });

  it('retries 5xx and rate limits with growing waits, honouring Retry-After', async () => {
    slack.fail(
      'chat.postMessage',
      { status: 503 },
      { status: 429, headers: { 'retry-after': '30' } },
      { status: 500 },
    );
    const res = await api(slack.botToken).call('chat.postMessage', { channel: 'C1', text: 'hi' });
    expect(res.ok).toBe(true);
    expect(waits).toEqual([1000, 30_000, 4000]);
  });

  it('gives up after the last attempt with the last error', async () => {
    slack.down = { status: 502 };
    await expect(api(slack.botToken, 3).call('chat.update', { channel: 'C1', ts: '1' })).rejects.toThrow(
      'Slack chat.update failed: HTTP 502',
    );
    expect(slack.calls).toHaveLength(3);
  });
});
