import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../config/load.js';
import { resolveWebhooks } from './config.js';

const secret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;

function load(body: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-config-'));
  const file = join(dir, 'countersign.yaml');
  writeFileSync(file, stringify(body));
  return loadConfig(file, env, dir);
}

describe('webhooks and slack configuration', () => {
  it('validates secrets and says what is wrong without echoing them', () => {
    const bad = { webhooks: { endpoints: [{ id: 'a', url: 'https://x.example', secrets: ['hunter2'] }] } };
    expect(() => load(bad)).toThrow(/secrets/);
    expect(() => load(bad)).not.toThrow(/hunter2/);
    const short = `whsec_${Buffer.alloc(8).toString('base64')}`;
    const section = { endpoints: [{ id: 'a', url: 'https://x.example', secrets: [short] }] };
    expect(() => resolveWebhooks(section)).toThrow(/at least 16 bytes/);
    try {
      resolveWebhooks(section);
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
    expect(() =>
      resolveWebhooks({ endpoints: [{ id: 'a', url: 'https://x', secrets: ['env:NOPE'] }] }, {}),
    ).toThrow(/NOPE is not set/);
  });

  it('refuses duplicate endpoint ids and unknown keys', () => {
    const e = { id: 'a', url: 'https://x.example', secrets: [secret] };
    expect(() => resolveWebhooks({ endpoints: [e, e] })).toThrow(/used twice/);
    expect(() => load({ webhooks: { endpoints: [{ ...e, retries: 3 }] } })).toThrow(/unknown key 'retries'/);
  });

  it('takes Slack secrets from COUNTERSIGN__SLACK__* environment variables', () => {
    const config = load(
      { slack: { teamIds: ['T1'], appIds: ['A1'] } },
      {
        COUNTERSIGN__SLACK__BOT_TOKEN: 'xoxb-from-env',
        COUNTERSIGN__SLACK__SIGNING_SECRET: 'signing-secret-from-the-environment',
      },
    );
    expect(config.slack?.botToken).toBe('xoxb-from-env');
    expect(config.slack?.signingSecret).toBe('signing-secret-from-the-environment');
  });

  it('refuses a Slack bot token of the wrong kind', () => {
    const bad = { slack: { botToken: 'xoxp-user-token', teamIds: ['T1'], appIds: ['A1'] } };
    expect(() => load(bad)).toThrow(/botToken/);
    expect(() => load(bad)).not.toThrow(/xoxp-user-token/);
  });
});
