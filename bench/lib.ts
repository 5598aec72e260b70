import { type ChildProcess, spawn } from 'node:child_process';
import { hash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

export interface Server {
  url: string;
  token: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a bench server script in its own Node process and waits for its READY line. */
export async function startServer(script: string, ...args: string[]): Promise<Server> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  for (;;) {
    const [chunk] = (await once(proc.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
    out += chunk.toString();
    const m = /READY (\S+) (\S+)/.exec(out);
    if (m) {
      return {
        url: m[1] as string,
        token: m[2] as string,
        proc,
        async stop() {
          proc.kill('SIGTERM');
          await once(proc, 'exit');
        },
      };
    }
  }
}

export function machine(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, ${process.platform}/${process.arch}`;
}

export function printTable(headers: string[], rows: Array<Array<string | number>>): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(headers));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of cells.slice(1)) console.log(line(r));
}

/** Percentile of a sorted numeric array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * What one durable write costs on the disk under `dir`: a 4 KiB append and its `fdatasync`,
 * timed together, the floor under `fsync` durability.
 */
export function diskSync(dir: string, samples = 200): { p50: number; p99: number } {
  const probeDir = mkdtempSync(join(dir, 'cs-disk-'));
  const fd = openSync(join(probeDir, 'probe'), 'w');
  const times: number[] = [];
  const block = Buffer.alloc(4096, 1);
  try {
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      writeSync(fd, block);
      fdatasyncSync(fd);
      times.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
    rmSync(probeDir, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/**
 * Two readings of the host itself, so runs on different days can be told apart from changes in
 * the code: the time of a fixed CPU-bound loop (JSON and SHA-256, the gateway's kind of work;
 * median of five), and `diskSync` in `dir` (the store's disk).
 */
export function hostReadings(dir: string): { cpuLoopMs: number; diskSyncP50Ms: number } {
  const loops: number[] = [];
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    let n = 0;
    for (let i = 0; i < 20_000; i++)
      n += hash('sha256', JSON.stringify({ i, text: 'calibration', list: [1, 2, 3] }), 'hex').length;
    if (n === 0) throw new Error('unreachable');
    loops.push(performance.now() - start);
  }
  loops.sort((a, b) => a - b);
  return { cpuLoopMs: percentile(loops, 50), diskSyncP50Ms: diskSync(dir).p50 };
}
