import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
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
