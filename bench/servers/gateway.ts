// A complete gateway (SQLite file in WAL with synchronous=FULL, the bench policy) in its own
// process, so the load generator does not share its event loop. Prints `READY <url> <agent key>`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The compiled build, as `npm start` runs it (`npm run bench:*` builds first).
import { loadConfig } from '../../dist/config/load.js';
import { createGateway } from '../../dist/server/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'cs-bench-'));
writeFileSync(
  join(dir, 'policy.yaml'),
  `version: 1
approval: { approvers: { groups: [sre], count: 1 } }
rules:
  - { name: reads, match: { type: "*.read" }, decision: allow }
  - { name: iam, match: { type: "aws.iam.*" }, decision: require_approval }
  - { name: drops, match: { type: "db.drop", resource: "prod/**" }, decision: deny }
`,
);
const durability = process.argv[2] === 'os' ? 'os' : 'fsync';
writeFileSync(
  join(dir, 'countersign.yaml'),
  `server: { logLevel: error }\ndataDir: ./data\nstore: { durability: ${durability} }\npolicy: { files: [./policy.yaml] }\n`,
);
const gw = await createGateway(loadConfig(join(dir, 'countersign.yaml'), {}));
const url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
const { token } = await gw.admin.createActor({ name: 'bench', owner: 'bench@example.com' });
process.stdout.write(`READY ${url} ${token}\n`);
process.on('SIGTERM', () => {
  const g = globalThis as any;
  const stat = (a: number[]) => {
    const s = [...a].sort((x, y) => x - y);
    return `n=${s.length} p50=${s[Math.floor(s.length / 2)]?.toFixed(2)} p99=${s[Math.floor(s.length * 0.99)]?.toFixed(2)} max=${s[s.length - 1]?.toFixed(2)}`;
  };
  if (g.__flush) {
    console.error(
      'flush batch',
      stat(g.__flush.map((x: number[]) => x[0])),
      'ms',
      stat(g.__flush.map((x: number[]) => x[1])),
    );
    console.error('sync', stat(g.__sync));
    console.error('groups', stat(g.__groups));
    console.error('checkpoint', stat(g.__cp ?? []));
  }
  void gw.close().then(() => process.exit(0));
});
