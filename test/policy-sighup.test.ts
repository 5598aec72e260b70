import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

const main = join(import.meta.dirname, '../src/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'cs-sighup-'));
const policy = join(dir, 'policy.yaml');
let server: ChildProcess | null = null;
let output = '';

afterAll(() => {
  server?.kill('SIGTERM');
});

describe('countersign serve and SIGHUP', () => {
  it('reloads the policy on SIGHUP, and keeps the old one when the new one is invalid', async () => {
    writeFileSync(policy, 'version: 1\ndefault: { decision: deny }\n');
    writeFileSync(
      join(dir, 'countersign.yaml'),
      `dataDir: ${JSON.stringify(join(dir, 'data'))}\nserver: { host: 127.0.0.1, port: 0 }\npolicy: { files: [policy.yaml], watch: false }\n`,
    );
    server = spawn(
      process.execPath,
      ['--import', 'tsx', main, 'serve', '--config', join(dir, 'countersign.yaml')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const proc = server;
    proc.stdout?.on('data', (d: Buffer) => {
      output += d;
    });
    proc.stderr?.on('data', (d: Buffer) => {
      output += d;
    });
    await vi.waitFor(() => expect(output).toContain('Countersign gateway listening'), {
      timeout: 20_000,
      interval: 50,
    });

    writeFileSync(policy, 'version: 1\ndefault: { decision: perhaps }\n');
    proc.kill('SIGHUP');
    await vi.waitFor(
      () => expect(output).toContain('policy reload failed, the previous policy stays in force'),
      { timeout: 10_000, interval: 50 },
    );
    // The log line is JSON, so the quotes around the value arrive escaped.
    expect(output).toMatch(/policy\.yaml:2:\d+: default\.decision is \\"perhaps\\"/);

    writeFileSync(policy, 'version: 1\ndefault: { decision: deny, message: changed }\n');
    proc.kill('SIGHUP');
    await vi.waitFor(() => expect(output).toContain('policy reloaded'), { timeout: 10_000, interval: 50 });
    expect(output).toContain('"trigger":"sighup"');
  });
});
