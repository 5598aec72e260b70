// npm run bench:mcp — tools/call round trips through the Countersign MCP gateway against the same
// calls made directly to the same upstream process, in the same run. Prints a table with the ratio.
//
// The upstream is the test fixture McpServer over Streamable HTTP in its own process; the gateway
// runs in its own process too (bench/mcp-gateway.mjs, over the compiled dist/) with a real SQLite
// store, so every call is a durable submit plus a recorded result. A bare HTTP relay
// (bench/mcp-passthrough.mjs) shows what the extra hop alone costs, with no Countersign work. A
// second gateway keeps its store on tmpfs (when /dev/shm exists) to show how much of the added
// latency is the disk's fsync.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { hostReadings } from './lib.js';
import { connect, cpuMs, mean, measure, pathCpuMs, type Run, start } from './mcp-lib.js';

const calls = Number(process.env.BENCH_CALLS ?? 4000);
// Each path reaches its steady state only after a few thousand calls (JIT tiers, caches): with
// 300, the gateway's first 2,000 calls ran at p50 2.1 ms against 1.25 ms once warm, and the
// direct path's at 1.1 against 0.5 ms. Every path gets the same warm-up.
const warmup = Number(process.env.BENCH_WARMUP ?? 6000);
const concurrency = (process.env.BENCH_CONCURRENCY ?? '1,8').split(',').map(Number);

/** Flushes per call and their mean duration, for a gateway's row; blank for the others. */
function flushColumns(t: Target, f: Flushes): string[] {
  if (!t.gateway) return ['', ''];
  if (f.count === 0) return ['0', '—'];
  return [(f.count / calls).toFixed(2), ((f.seconds / f.count) * 1000).toFixed(3)];
}

interface Target {
  name: string;
  url: string;
  token?: string;
  /** The process serving this path: the upstream for direct, the gateway otherwise. */
  pid?: number | undefined;
  /** A gateway's base URL, whose /metrics counts its WAL flushes. */
  gateway?: string;
}

interface Flushes {
  count: number;
  seconds: number;
}

/**
 * The WAL flushes a gateway has made so far (`countersign_store_flush_seconds`, all threads):
 * every allowed call is answered only after one, which runs while the call is forwarded (decision
 * 0014), so their mean bounds the disk's share of the added latency, read from inside the gateway
 * rather than inferred from the tmpfs row.
 */
async function flushes(t: Target): Promise<Flushes | undefined> {
  if (!t.gateway) return undefined;
  const text = await (await fetch(`${t.gateway}/metrics`)).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return {
    count: sum('countersign_store_flush_seconds_count'),
    seconds: sum('countersign_store_flush_seconds_sum'),
  };
}

const children: ChildProcess[] = [];
const rows: string[][] = [
  [
    'clients',
    'path',
    'calls/s',
    'p50 ms',
    'p99 ms',
    'ratio',
    'added p50 ms',
    'server CPU ms/call',
    'all CPU ms/call',
    'CPU-bound ratio',
    'flushes/call',
    'flush mean ms',
  ],
];
const load = loadavg()[0]?.toFixed(1);
// Before any child starts, so nothing of ours competes with the readings.
const host = hostReadings(tmpdir());
try {
  const port = await start(['test/mcp/fixture-server.mjs', '--http'], children);
  const upstreamUrl = `http://127.0.0.1:${port.trim()}/mcp`;
  const upstreamPid = children[0]?.pid;
  const targets: Target[] = [{ name: 'direct', url: upstreamUrl, pid: upstreamPid }];
  /** What a path's calls cost every process they run through (see `pathCpuMs`). */
  const allCpuMs = (t: Target) => pathCpuMs(upstreamPid, t.pid === upstreamPid ? undefined : t.pid);
  const relay = JSON.parse(await start(['bench/mcp-passthrough.mjs', upstreamUrl], children)) as {
    url: string;
  };
  targets.push({ name: 'bare HTTP relay (floor)', url: `${relay.url}/mcp`, pid: children.at(-1)?.pid });
  const bases: Array<[string, string[]]> = [['gateway', []]];
  if (existsSync('/dev/shm')) bases.push(['gateway, store on tmpfs', ['/dev/shm']]);
  for (const [name, extra] of bases) {
    const line = await start(
      ['bench/mcp-gateway.mjs', upstreamUrl, 'test/mcp/policy.yaml', ...extra],
      children,
    );
    const { url, token } = JSON.parse(line) as { url: string; token: string };
    targets.push({ name, url: `${url}/mcp/bench`, token, pid: children.at(-1)?.pid, gateway: url });
  }
  // Fresh clients for every round: the SDK client keeps one abort listener per event-stream
  // response it reads (the direct path's upstream answers with event streams), so a long-lived
  // client would slow down as it goes. Connecting is not timed.
  const connectAll = (c: number, t: Target) =>
    Promise.all(Array.from({ length: c }, () => connect(t.url, t.token)));
  const closeAll = (cl: Client[]) => Promise.all(cl.map((x) => x.close()));
  for (const c of concurrency) {
    // In rounds of at most 1,000 calls, for the same reason: one client making all 6,000 would
    // pass undici's cap of 1,500 listeners per signal and flood stderr with warnings.
    for (const t of targets) {
      for (let done = 0; done < warmup; done += 1000) {
        const warm = await connectAll(c, t);
        await measure(warm, Math.min(1000, warmup - done));
        await closeAll(warm);
      }
    }
    // Interleave rounds so drift (load from other processes, GC) hits every path alike.
    const runs: Run[][] = targets.map(() => []);
    const cpu = targets.map(() => 0);
    const allCpu = targets.map(() => 0);
    const flushed = targets.map((): Flushes => ({ count: 0, seconds: 0 }));
    for (let round = 0; round < 4; round++) {
      for (const [i, t] of targets.entries()) {
        const cl = await connectAll(c, t);
        const flushesBefore = await flushes(t);
        const before = cpuMs(t.pid);
        const allBefore = allCpuMs(t);
        runs[i]?.push(await measure(cl, calls / 4));
        const after = cpuMs(t.pid);
        const allAfter = allCpuMs(t);
        const flushesAfter = await flushes(t);
        cpu[i] = before === undefined || after === undefined ? Number.NaN : (cpu[i] ?? 0) + after - before;
        allCpu[i] = (allCpu[i] ?? 0) + allAfter - allBefore;
        const f = flushed[i] as Flushes;
        if (flushesBefore && flushesAfter) {
          f.count += flushesAfter.count - flushesBefore.count;
          f.seconds += flushesAfter.seconds - flushesBefore.seconds;
        }
        await closeAll(cl);
      }
    }
    const direct = mean(runs[0] as Run[]);
    for (const [i, t] of targets.entries()) {
      const r = mean(runs[i] as Run[]);
      rows.push([
        String(c),
        t.name,
        r.rps.toFixed(0),
        r.p50.toFixed(3),
        r.p99.toFixed(3),
        (r.rps / direct.rps).toFixed(2),
        i === 0 ? '' : (r.p50 - direct.p50).toFixed(3),
        Number.isNaN(cpu[i]) ? '—' : ((cpu[i] ?? 0) / calls).toFixed(2),
        Number.isNaN(allCpu[i]) ? '—' : ((allCpu[i] ?? 0) / calls).toFixed(2),
        Number.isNaN(allCpu[i]) ? '—' : ((allCpu[0] ?? 0) / (allCpu[i] ?? 1)).toFixed(2),
        ...flushColumns(t, flushed[i] as Flushes),
      ]);
    }
  }
} finally {
  for (const child of children) child.kill('SIGTERM');
}
/** End-of-run readings: the host's disk and speed can move during a run of several minutes. */
const after = hostReadings(tmpdir());
const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
console.log(
  `MCP tools/call, allowed and recorded: ${calls} calls per path per row; ${cpus().length} CPUs, ` +
    `Node ${process.version}, load average ${load} at start`,
);
for (const r of rows)
  console.log(r.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
console.log(
  'server CPU: the upstream process for direct, the relay or gateway process for the other rows\n' +
    '(whose calls also cost the upstream about what direct shows), from /proc in 10 ms ticks.\n' +
    'all CPU: the benchmark clients + the upstream + the relay or gateway, per call. CPU-bound ratio:\n' +
    "direct's all CPU over the row's, the ratio to expect when the host's CPUs are the only limit.",
);
console.log(
  "flushes: the gateway's WAL fdatasyncs during the row (countersign_store_flush_seconds), per call and\n" +
    'their mean duration; each call is forwarded while one runs, and answered after it.',
);
console.log(
  `host: reference CPU loop ${host.cpuLoopMs.toFixed(1)} ms at the start, ${after.cpuLoopMs.toFixed(1)} at the end ` +
    `(lower is faster); 4 KiB write + fdatasync p50 ${host.diskSyncP50Ms.toFixed(3)} ms at the start, ` +
    `${after.diskSyncP50Ms.toFixed(3)} at the end, in ${tmpdir()} (the gateway's store); compare runs on these first.`,
);
console.log('Targets: gateway/direct calls/s >= 0.70 and added p50 <= 1 ms.');
