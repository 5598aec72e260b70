import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChannelContract } from '../src/channels/channel.case.js';
import { resolveSlack } from '../src/channels/slack/config.js';
import { createSlack } from '../src/channels/slack/index.js';
import { resolveWebhooks } from '../src/channels/webhook/config.js';
import { createWebhooks } from '../src/channels/webhook/index.js';
import { ManualClock } from '../src/core/clock.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import { FakeSlack } from './fakes/slack.js';
import { reviewers } from './helpers/gateway.js';
import { slackSection } from './helpers/slack.js';

function tempStore() {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-contract-'));
  return { store: new SqliteStore({ path: join(dir, 'db.sqlite') }), dir };
}

runChannelContract('slack', async () => {
  const fake = await new FakeSlack().start();
  const { store, dir } = tempStore();
  const directory = { get: (id: string) => reviewers.find((r) => r.id === id) };
  const slack = createSlack({
    config: resolveSlack(slackSection(fake.apiUrl), null),
    store,
    clock: new ManualClock(),
    directory,
    sleep: async () => {},
  });
  return {
    channel: slack.channel,
    breakTransport: () => {
      fake.down = { status: 503 };
    },
    settle: () => slack.channel.idle(),
    cleanup: async () => {
      await slack.channel.idle();
      await store.close();
      await fake.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

runChannelContract('webhook', async () => {
  const { store, dir } = tempStore();
  const config = resolveWebhooks({
    allowHttp: true,
    endpoints: [
      {
        id: 'down',
        url: 'http://127.0.0.1:9/',
        secrets: [`whsec_${Buffer.alloc(24, 1).toString('base64')}`],
      },
    ],
  });
  const webhooks = createWebhooks({ config, store, clock: new ManualClock() });
  webhooks.worker.start(60_000);
  return {
    channel: webhooks.channel,
    breakTransport: () => {},
    settle: async () => {
      await webhooks.worker.stop();
      webhooks.worker.start(60_000);
    },
    cleanup: async () => {
      await webhooks.worker.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
