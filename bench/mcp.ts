// npm run bench:mcp — tools/call round trips through the Countersign MCP gateway against the same
// calls made directly to the same upstream process, in the same run. Prints a table with the ratio.
import { type ChildProcess, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const calls = Number(process.env.BENCH_CALLS ?? 2000);
const warmup = Number(process.env.BENCH_WARMUP ?? 300);
const concurrency = (process.env.BENCH_CONCURRENCY ?? '1,8').split(',').map(Number);

/** Starts a child process and resolves with the first line it prints. */
function start(args: string[], children: ChildProcess[]): Promise<string> {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
  });
}

async function connect(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : {},
    }),
  );
  return client;
}

const call = (c: Client, i: number) =>
  c.request(
    { method: 'tools/call', params: { name: 'echo', arguments: { text: `n${i}` } } },
    CallToolResultSchema,
  );

interface Run {
  rps: number;
  p50: number;
  p99: number;
}

/** `n` calls spread over `clients` sequential loops; latency per call, throughput over the whole run. */
async function measure(clients: Client[], n: number): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        const r = await call(c, i);
        latencies.push(performance.now() - s);
        if (r.isError) throw new Error(`call failed: ${JSON.stringify(r.content)}`);
      }
    }),
  );
  const elapsed = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number;
  return { rps: (n / elapsed) * 1000, p50: at(0.5), p99: at(0.99) };
}

const children: ChildProcess[] = [];
const rows: string[][] = [['clients', 'path', 'calls/s', 'p50 ms', 'p99 ms', 'ratio', 'added p50 ms']];
try {
  const upstream = await start(['test/mcp/fixture-server.mjs', '--http'], children);
  const upstreamUrl = `http://127.0.0.1:${upstream.trim()}/mcp`;
  const gateway = await start(
    ['--import', 'tsx', 'bench/mcp-gateway.ts', upstreamUrl, 'test/mcp/policy.yaml'],
    children,
  );
  const { url, token } = JSON.parse(gateway) as { url: string; token: string };
  for (const c of concurrency) {
    const direct = await Promise.all(Array.from({ length: c }, () => connect(upstreamUrl)));
    const viaGw = await Promise.all(Array.from({ length: c }, () => connect(`${url}/mcp/bench`, token)));
    await measure(direct, warmup);
    await measure(viaGw, warmup);
    // Alternate halves so drift (thermal, GC) hits both paths alike.
    const d1 = await measure(direct, calls / 2);
    const g1 = await measure(viaGw, calls / 2);
    const d2 = await measure(direct, calls / 2);
    const g2 = await measure(viaGw, calls / 2);
    const avg = (a: Run, b: Run): Run => ({
      rps: (a.rps + b.rps) / 2,
      p50: (a.p50 + b.p50) / 2,
      p99: (a.p99 + b.p99) / 2,
    });
    const d = avg(d1, d2);
    const g = avg(g1, g2);
    rows.push([String(c), 'direct', d.rps.toFixed(0), d.p50.toFixed(3), d.p99.toFixed(3), '1.00', '']);
    rows.push([
      String(c),
      'gateway',
      g.rps.toFixed(0),
      g.p50.toFixed(3),
      g.p99.toFixed(3),
      (g.rps / d.rps).toFixed(2),
      (g.p50 - d.p50).toFixed(3),
    ]);
    await Promise.all([...direct, ...viaGw].map((x) => x.close()));
  }
} finally {
  for (const child of children) child.kill('SIGTERM');
}
const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
console.log(
  `MCP tools/call (allowed, recorded), ${calls} calls per path per row; ${cpus().length} CPUs, Node ${process.version}`,
);
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i] ?? 0)).join('  '));
console.log('Targets: gateway/direct calls/s >= 0.70 and added p50 <= 1 ms.');
