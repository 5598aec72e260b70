import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointSigner, cosignatureVerifier } from '../src/audit/checkpoint.js';
import { leafHash, nodeHash } from '../src/audit/merkle.js';
import { LocalEd25519Key, openNote, parseVerifierKey } from '../src/audit/note.js';
import { formatAddCheckpoint } from '../src/audit/witness.js';
import { systemClock } from '../src/core/clock.js';

const root = resolve(import.meta.dirname, '..');
let child: ChildProcess | undefined;
let dir: string;
afterAll(async () => {
  child?.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

describe('countersign witness (CLI)', () => {
  it('serves add-checkpoint: cosigns a first checkpoint, refuses a fork', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cs-witness-cli-'));
    const log = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), systemClock);
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'src', 'cli', 'main.ts'),
        'witness',
        '--name',
        'w.example/1',
        '--log',
        log.verifierKey,
        '--port',
        '0',
        '--key-file',
        join(dir, 'w.key'),
        '--state',
        join(dir, 'w.json'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const banner = await new Promise<string>((res) => {
      let out = '';
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('verifier key')) res(out);
      });
    });
    const url = /listening on (\S+)/.exec(banner)![1]!;
    const wkey = parseVerifierKey(/verifier key (\S+)/.exec(banner)![1]!);

    const a = leafHash('a');
    const cp = await log.sign(2, nodeHash(a, leafHash('b')));
    const ok = await fetch(url, { method: 'POST', body: formatAddCheckpoint(0, [], cp) });
    expect(ok.status).toBe(200);
    expect(
      openNote(cp + (await ok.text()), [cosignatureVerifier(wkey.name, wkey.publicKey)]).verifiedBy,
    ).toHaveLength(1);

    const fork = await log.sign(2, nodeHash(a, leafHash('c')));
    const refused = await fetch(url, { method: 'POST', body: formatAddCheckpoint(2, [], fork) });
    expect(refused.status).toBe(409);
  });
});
