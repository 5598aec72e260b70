import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';

const N = Number(process.env.N ?? 16000);
const C = Number(process.env.C ?? 8);
const W = Number(process.env.W ?? 6000);
const GWARGS = (process.env.GWARGS ?? '').split(' ').filter(Boolean);
const GW = process.env.GW ?? 'bench/mcp-gateway.mjs';
const children: ChildProcess[] = [];
function start(args: string[]): Promise<string> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.stderr!.on('data', (d) => process.stderr.write(`[${args[0]}] ${d}`));
  return new Promise((res) => createInterface({ input: child.stdout! }).once('line', res));
}
const cpu = (pid?: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const self = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const port = await start(['test/mcp/fixture-server.mjs', '--http']);
const up = `http://127.0.0.1:${port.trim()}/mcp`;
let url = up, token: string | undefined;
if (!process.env.DIRECT) {
  const line = await start([...GWARGS, GW, up, 'test/mcp/policy.yaml', ...(process.env.SHM ? ['/dev/shm'] : [])]);
  const j = JSON.parse(line); url = `${j.url}/mcp/bench`; token = j.token;
}
const gwpid = children[1]?.pid, uppid = children[0]!.pid;
async function round(n: number) {
  const cl = await Promise.all(Array.from({ length: C }, async () => {
    const c = new Client({ name: 'b', version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : {} }));
    return c;
  }));
  let next = 0; const lat: number[] = [];
  await Promise.all(cl.map(async (c) => { while (next < n) { const i = next++; const s = performance.now();
    await c.request({ method: 'tools/call', params: { name: 'echo', arguments: { text: `n${i}` } } }, CallToolResultSchema, { timeout: 15000 }).catch((e) => { console.error(`call ${i} failed at ${new Date().toISOString()} after ${(performance.now()-s).toFixed(0)} ms: ${e}`); for (const c of children) c.kill('SIGKILL'); process.exit(3); }); lat.push(performance.now() - s); } }));
  await Promise.all(cl.map((c) => c.close()));
  return lat;
}
for (let d = 0; d < W; d += 1000) { await round(1000); process.stderr.write(`warm ${d}\n`); }
const g0 = gwpid ? cpu(gwpid) : 0, u0 = cpu(uppid), s0 = self(); const t0 = performance.now();
const lat: number[] = [];
for (let d = 0; d < N; d += 1000) { lat.push(...(await round(1000))); process.stderr.write(`run ${d}\n`); }
const el = performance.now() - t0;
lat.sort((a, b) => a - b);
console.log(JSON.stringify({ rps: Math.round(N / el * 1000), p50: lat[N >> 1]!.toFixed(3), p99: lat[Math.floor(N * 0.99)]!.toFixed(3),
  gw: gwpid ? ((cpu(gwpid) - g0) / N).toFixed(3) : '-', up: ((cpu(uppid) - u0) / N).toFixed(3), client: ((self() - s0) / N).toFixed(3) }));
for (const c of children.reverse()) c.kill('SIGTERM');
await new Promise((r) => setTimeout(r, 1500));
for (const c of children) c.kill('SIGKILL');
process.exit(0);
