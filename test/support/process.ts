import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

/** Starts `countersign serve` as a real process and resolves with its URL. */
export async function serve(configFile: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, '../../src/cli/main.ts'), 'serve', '--config', configFile],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  for (;;) {
    const m = /listening on (http:\/\/[^\s]+)/.exec(out);
    if (m) return { proc, url: m[1] as string };
    if (proc.exitCode !== null) throw new Error(`serve exited: ${out}`);
    await once(proc.stdout as NodeJS.ReadableStream, 'data');
  }
}
