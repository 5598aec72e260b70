import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type Config, loadConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/core/clock.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';

/** A dev-mode gateway (demo reviewers alice, bob, dana) in a temp dir, with extra configuration. */
export async function testGateway(
  extra: Record<string, unknown> = {},
  clock?: Clock,
): Promise<Gateway & { config: Config; dir: string; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'cs-identity-'));
  const file = join(dir, 'countersign.yaml');
  writeFileSync(file, stringify({ dev: true, dataDir: 'data', server: { logLevel: 'silent' }, ...extra }));
  const config = loadConfig(file, {});
  const gateway = await createGateway(config, clock);
  return {
    ...gateway,
    config,
    dir,
    async cleanup() {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
