// npm run bench:actions — POST /v1/actions for an allowed action, stored, under concurrent load,
// next to a bare route of the same framework measured in the same run. The gateway runs the
// compiled build in its own process; the load generator (autocannon) runs in this one.
import { tmpdir } from 'node:os';
import autocannon from 'autocannon';
import { diskSync, machine, printTable, startServer } from './lib.js';

const duration = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const body = JSON.stringify({
  type: 's3.read',
  resource: 'prod/bucket/reports',
  params: { prefix: '2026/11/' },
  justification: 'nightly report',
});

async function load(url: string, token: string) {
  const result = await autocannon({
    url: `${url}/v1/actions`,
    method: 'POST',
    connections,
    duration,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0)
    throw new Error(
      `${url}: ${bad} failed requests (non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts})`,
    );
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
  };
}

async function measure(script: string, ...args: string[]) {
  const server = await startServer(script, ...args);
  try {
    await load(server.url, server.token); // warm-up of the same shape, discarded
    return await load(server.url, server.token);
  } finally {
    await server.stop();
  }
}

console.log(
  `POST /v1/actions, allowed action; ${connections} connections, ${duration}s each after an equal warm-up`,
);
console.log(`machine: ${machine()}; date: ${new Date().toISOString().slice(0, 10)}`);
const disk = diskSync(tmpdir());
console.log(`disk: 4 KiB write + fdatasync p50 ${disk.p50.toFixed(2)} ms, p99 ${disk.p99.toFixed(2)} ms\n`);
const bare = await measure('servers/bare.ts');
const durable = await measure('servers/gateway.ts', 'fsync');
const os = await measure('servers/gateway.ts', 'os');
const row = (name: string, r: typeof bare) => [
  name,
  Math.round(r.rps),
  r.p50,
  r.p99,
  (r.rps / bare.rps).toFixed(2),
];
printTable(
  ['target', 'req/s', 'p50 ms', 'p99 ms', 'ratio to bare'],
  [
    row('bare Fastify route (anchor)', bare),
    row('countersign, store.durability=fsync', durable),
    row('countersign, store.durability=os', os),
  ],
);
const met = (r: typeof bare) => (r.rps >= 5000 && r.p99 <= 20 ? 'met' : 'not met');
console.log(`\ntarget ≥ 5,000/s with p99 ≤ 20 ms: fsync ${met(durable)}, os ${met(os)}`);
