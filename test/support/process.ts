import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

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

const cliMain = join(import.meta.dirname, '../../src/cli/main.ts');
/** tsx's loader by path: `--import tsx` resolves from the working directory, which may be anywhere. */
const tsxLoader = pathToFileURL(join(import.meta.dirname, '../../node_modules/tsx/dist/loader.mjs')).href;
/** Node arguments that run the CLI from source, from any working directory. */
export const cliArgs = ['--import', tsxLoader, cliMain];

/** Runs the `countersign` CLI as a real process and collects its output and exit code. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...cliArgs, ...args], {
      env: { ...process.env, ...env },
      cwd: cwd ?? process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d;
    });
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}
