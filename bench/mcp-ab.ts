// npm run bench:mcp:ab -- [options] BUILD... — compares compiled builds of the gateway side by side
// on the bench:mcp workload: one upstream, one gateway per build, the direct path as the anchor,
// rounds interleaved (the order reversed every other round) so that the host's drift hits every
// path alike. Meant for telling whether a change to the call path helps, where two runs of
// `npm run bench:mcp` an hour apart differ by more than most changes do (bench/RESULTS.md).
//
// A build is a compiled tree beside dist/ (dist-*, ignored by git), e.g. a copy made before a change:
//   cp -r dist dist-base && <change src/> && npm run build && cp -r dist dist-change
//   npm run bench:mcp:ab -- dist-base dist-change
// Beside dist/, because the gateway reads ../package.json and resolves this node_modules.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { percentile, printTable } from './lib.js';
import { connect, cpuMs, measure, pathCpuMs, type Run, root, start } from './mcp-lib.js';

const usage = `Usage: npm run bench:mcp:ab -- [options] BUILD...

Compares compiled gateway builds (copies of dist/ beside it, e.g. dist-base) on the bench:mcp workload,
against the same calls made directly to the upstream, in interleaved rounds. Prints the median
of every figure over the rounds.

Options:
  --clients N   concurrent MCP clients per path (default 8)
  --calls N     calls per path per round (default 1000)
  --rounds N    rounds (default 8)
  --warmup N    calls per path before the first round (default 6000)
  --tmpfs       keep the gateways' stores on /dev/shm, to leave the disk out
  -h, --help    this text

Exit codes: 0 done, 1 a path failed (a call errored or a process exited), 2 bad arguments.`;

interface Options {
  clients: number;
  calls: number;
  rounds: number;
  warmup: number;
  tmpfs: boolean;
  builds: string[];
}

const parseOptions = () =>
  parseArgs({
    allowPositionals: true,
    options: {
      clients: { type: 'string', default: '8' },
      calls: { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '8' },
      warmup: { type: 'string', default: '6000' },
      tmpfs: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });

/** Parses argv; exits 2 with the usage on anything it cannot use. */
function options(): Options {
  const bad = (why: string): never => {
    process.stderr.write(`${why}\n\n${usage}\n`);
    process.exit(2);
  };
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions();
  } catch (error) {
    return bad((error as Error).message);
  }
  if (parsed.values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const count = (name: 'clients' | 'calls' | 'rounds' | 'warmup', min: number) => {
    const n = Number(parsed.values[name]);
    return Number.isSafeInteger(n) && n >= min ? n : bad(`--${name} must be a whole number >= ${min}`);
  };
  const builds = parsed.positionals.map((b) => resolve(b));
  if (builds.length === 0) bad('Name at least one build directory (a compiled tree such as dist/).');
  for (const b of builds) {
    if (!existsSync(join(b, 'server/gateway.js')))
      bad(`${b} holds no compiled gateway (server/gateway.js); run npm run build and copy dist/.`);
    if (resolve(b, '..') !== resolve(root))
      bad(`${b} is not beside dist/ in ${root}: put a copy of dist/ there (e.g. dist-base).`);
  }
  if (parsed.values.tmpfs && !existsSync('/dev/shm')) bad('--tmpfs needs /dev/shm, which this host lacks.');
  return {
    clients: count('clients', 1),
    calls: count('calls', 1),
    rounds: count('rounds', 1),
    warmup: count('warmup', 0),
    tmpfs: parsed.values.tmpfs ?? false,
    builds,
  };
}

interface Path {
  name: string;
  url: string;
  token?: string;
  /** The gateway's process; undefined for the direct path. */
  pid?: number;
}

interface Round extends Run {
  /** The gateway process's CPU per call (ms); NaN for the direct path. */
  server: number;
  /** Clients + upstream + gateway CPU per call (ms). */
  all: number;
}

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

async function main(o: Options): Promise<void> {
  const children: ChildProcess[] = [];
  try {
    const port = await start(['test/mcp/fixture-server.mjs', '--http'], children);
    const upstreamUrl = `http://127.0.0.1:${port.trim()}/mcp`;
    const upstreamPid = children[0]?.pid;
    const paths: Path[] = [{ name: 'direct', url: upstreamUrl }];
    for (const build of o.builds) {
      const args = ['bench/mcp-gateway.mjs', upstreamUrl, 'test/mcp/policy.yaml'];
      const line = await start(o.tmpfs ? [...args, '/dev/shm'] : args, children, {
        COUNTERSIGN_BENCH_BUILD: build,
      });
      const { url, token } = JSON.parse(line) as { url: string; token: string };
      const name = paths.some((p) => p.name === basename(build)) ? build : basename(build);
      paths.push({ name, url: `${url}/mcp/bench`, token, pid: children.at(-1)?.pid as number });
    }
    // Fresh clients for every round of at most 1,000 calls, as in bench/mcp.ts.
    const round = async (p: Path, n: number): Promise<Round> => {
      const clients: Client[] = await Promise.all(
        Array.from({ length: o.clients }, () => connect(p.url, p.token)),
      );
      const [s0, a0] = [cpuMs(p.pid), pathCpuMs(upstreamPid, p.pid)];
      const run = await measure(clients, n);
      const [s1, a1] = [cpuMs(p.pid), pathCpuMs(upstreamPid, p.pid)];
      await Promise.all(clients.map((c) => c.close()));
      const perCall = (a?: number, b?: number) =>
        a === undefined || b === undefined ? Number.NaN : (b - a) / n;
      return { ...run, server: perCall(s0, s1), all: perCall(a0, a1) };
    };
    for (const p of paths) {
      for (let done = 0; done < o.warmup; done += 1000) await round(p, Math.min(1000, o.warmup - done));
      process.stderr.write(`warmed up: ${p.name}\n`);
    }
    const results = paths.map((): Round[] => []);
    for (let r = 0; r < o.rounds; r++) {
      const order = [...paths.keys()];
      if (r % 2 === 1) order.reverse();
      for (const i of order) results[i]?.push(await round(paths[i] as Path, o.calls));
      process.stderr.write(`round ${r + 1} of ${o.rounds} done\n`);
    }
    print(o, paths, results);
  } finally {
    for (const child of children) child.kill('SIGTERM');
  }
}

function print(o: Options, paths: Path[], results: Round[][]): void {
  const direct = results[0] as Round[];
  const headers = [
    'path',
    'calls/s',
    'p50 ms',
    'ratio',
    'added p50 ms',
    'gateway CPU ms/call',
    'all CPU ms/call',
    'CPU-bound ratio',
  ];
  const rows = paths.map((p, i) => {
    const rs = results[i] as Round[];
    // Each round's path against the direct path of the same round, then the median of those.
    const vs = (f: (r: Round, d: Round) => number) => median(rs.map((r, k) => f(r, direct[k] as Round)));
    return [
      p.name,
      median(rs.map((r) => r.rps)).toFixed(0),
      median(rs.map((r) => r.p50)).toFixed(3),
      vs((r, d) => r.rps / d.rps).toFixed(3),
      i === 0 ? '' : vs((r, d) => r.p50 - d.p50).toFixed(3),
      i === 0 ? '' : median(rs.map((r) => r.server)).toFixed(2),
      median(rs.map((r) => r.all)).toFixed(2),
      vs((r, d) => d.all / r.all).toFixed(3),
    ];
  });
  console.log(
    `MCP tools/call, ${o.clients} client(s), ${o.rounds} interleaved rounds of ${o.calls} calls per path, ` +
      `stores on ${o.tmpfs ? '/dev/shm' : 'the default temporary directory'}; medians over the rounds`,
  );
  printTable(headers, rows);
  console.log(
    "ratio and added p50: each round's path against the direct path of the same round. CPU from /proc in\n" +
      '10 ms ticks: ~1,000 calls per round reads to ±0.01 ms per call; see bench/mcp.ts for the columns.',
  );
}

main(options()).catch((error: unknown) => {
  process.stderr.write(`bench:mcp:ab failed: ${(error as Error).message}\n`);
  process.exit(1);
});
