import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { configDigest } from '../src/config/record.js';
import { secretEnv, secretEverywhere } from '../src/config/testing.js';
import type { Gateway } from '../src/server/gateway.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import { FakeSlack } from './fakes/slack.js';
import { TestEnv } from './helpers/gateway.js';

/** The gateway's audit entries, exactly as they are hashed into the log. */
async function entries(gw: Gateway): Promise<{ kind: string; details: any; text: string }[]> {
  const rows = await gw.store.audit.readEntries(0, 1000);
  return rows.map((r) => ({ ...JSON.parse(r.entry), text: r.entry }));
}

describe('config.loaded in the audit log', () => {
  let env: TestEnv;
  let slack: FakeSlack | undefined;
  afterEach(async () => {
    await env.cleanup();
    await slack?.stop();
    slack = undefined;
  });

  it('is written at start, before policy.loaded, with the file, digest and a summary', async () => {
    env = new TestEnv();
    const gw = await env.gateway({ store: { durability: 'os' }, webhooks: { endpoints: [] } });
    const log = await entries(gw);
    expect(log.map((e) => e.kind).slice(0, 2)).toEqual(['config.loaded', 'policy.loaded']);
    const [loaded] = log;
    expect(loaded!.details).toMatchObject({
      file: env.configFile({ store: { durability: 'os' }, webhooks: { endpoints: [] } }),
      trigger: 'startup',
      summary: { store: { driver: 'sqlite', durability: 'os' }, channels: { slack: null, webhooks: [] } },
    });
    expect(loaded!.details.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('is committed together with the starting policy, so a crash cannot keep one without the other', async () => {
    env = new TestEnv();
    const appends = vi.spyOn(SqliteStore.prototype, 'appendEvents');
    try {
      await env.gateway({ store: { durability: 'os' }, webhooks: { endpoints: [] } });
      const withConfig = appends.mock.calls.filter(([events]) =>
        events.some((e) => e.kind === 'config.loaded'),
      );
      expect(withConfig).toHaveLength(1);
      expect(withConfig[0]![0].map((e) => e.kind)).toEqual(['config.loaded', 'policy.loaded']);
    } finally {
      appends.mockRestore();
    }
  });

  it('each start writes one; the digest is stable, and changes with a setting', async () => {
    env = new TestEnv();
    const digests = async (extra: Record<string, unknown>) => {
      const gw = await env.gateway(extra);
      const all = (await entries(gw)).filter((e) => e.kind === 'config.loaded');
      await env.close(gw);
      return all.map((e) => e.details.digest as string);
    };
    const first = await digests({ store: { durability: 'fsync' } });
    const again = await digests({ store: { durability: 'fsync' } });
    const changed = await digests({ store: { durability: 'os' } });
    // One data dir: the log keeps every start's entry.
    expect(first).toHaveLength(1);
    expect(again).toEqual([first[0], first[0]]);
    expect(changed).toHaveLength(3);
    expect(changed[2]).not.toBe(first[0]);
  });

  it('attack: a distinctive secret in every secret field never reaches the entry', async () => {
    env = new TestEnv();
    slack = await new FakeSlack().start();
    // The witness URL would be contacted at each checkpoint; src/config/record.test.ts covers it.
    const { audit: _witnesses, ...config } = secretEverywhere(slack.apiUrl);
    // The gateway refuses a webhook URL with user:password@; a path or query can still carry one.
    config.webhooks.endpoints[0]!.url = 'https://hooks.example.com/S3CRET-hook-path?token=S3CRET-hook-query';
    const gw = await env.gateway(config, secretEnv);
    const loaded = (await entries(gw)).find((e) => e.kind === 'config.loaded')!;
    expect(loaded.text).not.toMatch(/S3CRET/i);
    expect(loaded.details.summary.mcp.upstreams).toEqual([
      { name: 'remote', kind: 'http' },
      { name: 'tool', kind: 'stdio' },
    ]);
    expect(loaded.details.summary.channels).toMatchObject({ slack: { mode: 'http' }, webhooks: ['siem'] });
    // Nothing anywhere in the log's entries.
    for (const e of await entries(gw)) expect(e.text).not.toMatch(/S3CRET/i);
    // The digest is the one of the configuration the gateway ran on (TestEnv silences its log).
    const ran = loadConfig(env.configFile(config), secretEnv, env.dir);
    expect(loaded.details.digest).toBe(
      configDigest({ ...ran, server: { ...ran.server, logLevel: 'silent' } }),
    );
  });
});
