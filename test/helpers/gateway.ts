import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/core/clock.js';
import type { Actor, Reviewer } from '../../src/core/identity.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';

export const reviewers = [
  { id: 'alice@example.com', email: 'alice@example.com', name: 'Alice', groups: ['sre'] },
  { id: 'bob@example.com', email: 'bob@example.com', name: 'Bob', groups: ['sre', 'security-leads'] },
  { id: 'dana@example.com', email: 'dana@example.com', name: 'Dana', groups: ['sre'] },
  { id: 'erin@example.com', email: 'erin@example.com', name: 'Erin', groups: ['finance'] },
];

export const agent: Actor = {
  id: 'csk_agent1',
  name: 'deploy-bot',
  principal: 'dana@example.com',
  via: 'api_key',
};

export function reviewer(id: string): Reviewer {
  const r = reviewers.find((x) => x.id === id);
  if (!r) throw new Error(`no test reviewer ${id}`);
  return r;
}

/** A temporary data dir with a config file; `extra` adds top-level keys such as `webhooks:`. */
export class TestEnv {
  readonly dir = mkdtempSync(join(tmpdir(), 'countersign-test-'));
  readonly clock = new ManualClock(Date.now());
  private gateways: Gateway[] = [];

  configFile(extra: Record<string, unknown>): string {
    const file = join(this.dir, 'countersign.yaml');
    writeFileSync(file, stringify({ dataDir: 'data', reviewers, ...extra }));
    return file;
  }

  async gateway(extra: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<Gateway> {
    const config = loadConfig(this.configFile(extra), env, this.dir);
    const gw = await createGateway(
      { ...config, server: { ...config.server, logLevel: 'silent' } },
      this.clock,
    );
    this.gateways.push(gw);
    return gw;
  }

  async close(gw: Gateway): Promise<void> {
    this.gateways = this.gateways.filter((g) => g !== gw);
    await gw.close();
  }

  async cleanup(): Promise<void> {
    for (const gw of this.gateways) await gw.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
