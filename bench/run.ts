// npm run bench — every benchmark, one after the other (each prints its own table).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const benches = ['actions.ts', 'audit.ts', 'policy.ts', 'mcp.ts'].filter((b) =>
  existsSync(join(import.meta.dirname, b)),
);
let failed = 0;
for (const b of benches) {
  console.log(`\n=== ${b} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, b)], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
