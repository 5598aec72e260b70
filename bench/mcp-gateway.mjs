// Child process for bench/mcp.ts: a complete gateway (SQLite store, policy, audit trail) fronting
// one upstream URL, so the gateway does not share an event loop with the benchmark's clients.
// Plain JavaScript over the compiled dist/ (npm run build), the code `npm start` runs, so the
// figures carry no cost of a TypeScript loader. COUNTERSIGN_BENCH_BUILD names another compiled
// tree instead (bench/mcp-ab.ts compares builds side by side).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const build = resolve(
  fileURLToPath(new URL('..', import.meta.url)),
  process.env.COUNTERSIGN_BENCH_BUILD ?? 'dist',
);
const { loadConfig } = await import(pathToFileURL(join(build, 'config/load.js')).href);
const { createGateway } = await import(pathToFileURL(join(build, 'server/gateway.js')).href);

const [upstreamUrl, policyFile, base] = process.argv.slice(2);
// `base` puts the SQLite store elsewhere, e.g. on tmpfs to separate fsync cost from gateway CPU.
const dir = mkdtempSync(join(base ?? tmpdir(), 'cs-bench-mcp-'));
const file = join(dir, 'countersign.yaml');
writeFileSync(
  file,
  `dataDir: ./data
policy: { files: [${JSON.stringify(resolve(policyFile))}] }
server: { logLevel: warn }
mcp:
  upstreams:
    bench: { url: ${JSON.stringify(upstreamUrl)} }
`,
);
const gw = await createGateway(loadConfig(file, {}));
const url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
const { token } = await gw.admin.createActor({ name: 'bench-agent', owner: 'bench@example.com' });
process.stdout.write(`${JSON.stringify({ url, token })}\n`);
// Nothing in the store is needed after the run: remove it (on tmpfs it holds memory).
process.once(
  'SIGTERM',
  () =>
    void gw.close().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }),
);
