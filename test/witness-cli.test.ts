import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointSigner, cosignatureVerifier } from '../src/audit/checkpoint.js';
import { leafHash, nodeHash } from '../src/audit/merkle.js';
import { LocalEd25519Key, openNote, parseVerifierKey } from '../src/audit/note.js';
import { formatAddCheckpoint } from '../src/audit/witness.js';
import { systemClock } from '../src/core/clock.js';
import { runCli } from './support/process.js';

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

describe('countersign witness (CLI): bad listen options', () => {
  it('says the port is taken, exit 2, instead of an unhandled error and a stack trace', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as AddressInfo).port;
    const wdir = await mkdtemp(join(tmpdir(), 'cs-witness-port-'));
    try {
      const log = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), systemClock);
      const args = [
        'witness',
        '--name',
        'w.example/1',
        '--log',
        log.verifierKey,
        '--key-file',
        join(wdir, 'k'),
      ];
      const inUse = await runCli([...args, '--port', String(port), '--state', join(wdir, 's.json')]);
      expect(inUse.code).toBe(2);
      expect(inUse.err).toBe(
        `error: cannot listen on 127.0.0.1:${port} (EADDRINUSE); choose another --port or --host\n`,
      );
      const notANumber = await runCli([...args, '--port', 'http', '--state', join(wdir, 's.json')]);
      expect(notANumber.code).toBe(2);
      expect(notANumber.err).toContain('expected a whole number from 0 to 65535');
      const plain = join(wdir, 'plain');
      await writeFile(plain, '');
      const underAFile = await runCli([...args.slice(0, -1), join(plain, 'k')]);
      expect(underAFile.code).toBe(2);
      expect(underAFile.err).toBe(
        `error: ${join(plain, 'k')}: cannot read the witness key (a part of the path is a file, not a directory); give --key-file the witness key, or a path in a directory you can write to\n`,
      );
    } finally {
      taken.close();
      await rm(wdir, { recursive: true, force: true });
    }
  });
});
