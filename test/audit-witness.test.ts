import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cosignatureVerifier, logKeyFrom, openCheckpoint } from '../src/audit/checkpoint.js';
import { logSigner } from '../src/audit/log.js';
import { LocalEd25519Key, openNote, parseVerifierKey } from '../src/audit/note.js';
import { FileWitnessState, Witness } from '../src/audit/witness.js';
import { witnessServer } from '../src/audit/witness-http.js';
import { loadConfig } from '../src/config/load.js';
import { systemClock } from '../src/core/clock.js';
import { createGateway } from '../src/server/gateway.js';
import { loadOrCreateSigningKey } from '../src/server/keys.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('gateway publishes checkpoints to a directory and a witness', () => {
  it('keeps the witness cosignature with each checkpoint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-gw-witness-'));
    dirs.push(dir);
    await mkdir(join(dir, 'data'), { recursive: true });
    const key = loadOrCreateSigningKey(join(dir, 'data', 'audit-signing.key'));
    const vkey = logSigner(key.privateKey, systemClock, 'test.example/gw').verifierKey;
    const witness = new Witness(
      'w.example/1',
      LocalEd25519Key.generate(),
      [logKeyFrom(vkey)],
      new FileWitnessState(join(dir, 'w.json')),
      systemClock,
    );
    const server = witnessServer(witness);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const file = join(dir, 'countersign.yaml');
    await writeFile(
      file,
      `dataDir: ./data\ndev: true\nserver:\n  logLevel: silent\naudit:\n  origin: test.example/gw\n  publishDir: ./published\n  witnesses: ['${url}']\n`,
    );
    const gw = await createGateway(loadConfig(file, {}));
    try {
      await gw.app.ready();
      await gw.admin.createActor({
        name: 'bot',
        owner: 'o@example.com',
        expiresAt: null,
        allowedTypes: null,
      });
      await gw.checkpointer.checkpoint();
      const latest = (await gw.store.audit.latestCheckpoint())!;
      const wk = parseVerifierKey(witness.verifierKey);
      expect(openNote(latest.note, [cosignatureVerifier(wk.name, wk.publicKey)]).verifiedBy).toHaveLength(1);
      const published = await readFile(join(dir, 'published', 'checkpoint'), 'utf8');
      expect(openCheckpoint(published, logKeyFrom(vkey)).checkpoint.size).toBe(latest.size);
    } finally {
      await gw.close();
      server.close();
    }
  });
});
