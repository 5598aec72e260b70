// Shared by the MCP benchmarks (bench/mcp.ts, bench/mcp-ab.ts): child processes, the SDK clients
// that make the calls, and the CPU readings taken around them.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { percentile } from './lib.js';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** Starts a child process and resolves with the first line it prints. */
export function start(args: string[], children: ChildProcess[], env?: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
  });
}

/**
 * CPU time (user + system, ms) a process has used, from /proc (Linux; clock ticks of 10 ms);
 * undefined elsewhere. Steadier than throughput on a shared host for telling whether work shrank.
 */
export function cpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ms) of every process a path's calls run through: this benchmark's clients, the
 * upstream, and the relay or gateway in between (none for the direct path). On a host with few
 * CPUs the clients and the upstream compete with the gateway, so when the CPUs are the limit the
 * ratio of two paths' throughputs tends to the inverse ratio of these sums ("CPU-bound ratio").
 */
export function pathCpuMs(upstreamPid: number | undefined, serverPid: number | undefined): number {
  const own = process.cpuUsage();
  const upstream = cpuMs(upstreamPid);
  const server = serverPid === undefined ? 0 : cpuMs(serverPid);
  if (upstream === undefined || server === undefined) return Number.NaN;
  return (own.user + own.system) / 1000 + upstream + server;
}

export async function connect(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : {},
    }),
  );
  return client;
}

export const call = (c: Client, i: number) =>
  c.request(
    { method: 'tools/call', params: { name: 'echo', arguments: { text: `n${i}` } } },
    CallToolResultSchema,
  );

export interface Run {
  rps: number;
  p50: number;
  p99: number;
}

/** `n` calls spread over the clients' sequential loops; latency per call, throughput over the run. */
export async function measure(clients: Client[], n: number): Promise<Run> {
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
  return { rps: (n / elapsed) * 1000, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

export const mean = (runs: Run[]): Run => ({
  rps: runs.reduce((a, r) => a + r.rps, 0) / runs.length,
  p50: runs.reduce((a, r) => a + r.p50, 0) / runs.length,
  p99: runs.reduce((a, r) => a + r.p99, 0) / runs.length,
});
