import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { CheckpointSigner, cosignatureVerifier, logKeyFrom } from './checkpoint.js';
import { consistencyProof, leafHash, rootOfLeaves } from './merkle.js';
import { LocalEd25519Key, openNote, parseVerifierKey } from './note.js';
import { appendLeaves, emptyEdge, MemoryTiles, TileNodeReader } from './tiles.js';
import { FileWitnessState, formatAddCheckpoint, Witness } from './witness.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'cs-witness-'));
  dirs.push(dir);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const log = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), clock);
  const state = new FileWitnessState(join(dir, 'state.json'));
  const witness = new Witness(
    'witness.example/w1',
    LocalEd25519Key.generate(),
    [logKeyFrom(log.verifierKey)],
    state,
    clock,
  );
  const leaves = Array.from({ length: 40 }, (_, i) => leafHash(`e${i}`));
  const tiles = new MemoryTiles();
  tiles.write(appendLeaves(emptyEdge(), leaves).tiles);
  const reader = new TileNodeReader(tiles);
  const cp = (n: number, ls = leaves) => log.sign(n, rootOfLeaves(ls.slice(0, n)));
  return { dir, log, witness, leaves, reader, cp };
}

describe('witness (C2SP tlog-witness add-checkpoint)', () => {
  it('cosigns a first checkpoint, then only consistent extensions', async () => {
    const { witness, reader, cp } = await setup();
    const first = await cp(10);
    const r1 = await witness.addCheckpoint(formatAddCheckpoint(0, [], first));
    expect(r1.status).toBe(200);
    const wk = parseVerifierKey(witness.verifierKey);
    const v = cosignatureVerifier(wk.name, wk.publicKey);
    expect(openNote(first + r1.body, [v]).verifiedBy).toHaveLength(1);

    const second = await cp(25);
    const proof = await consistencyProof(reader, 10, 25);
    expect((await witness.addCheckpoint(formatAddCheckpoint(10, proof, second))).status).toBe(200);

    // A stale client learns the witness's size.
    const stale = await witness.addCheckpoint(formatAddCheckpoint(10, proof, second));
    expect(stale).toMatchObject({ status: 409, contentType: 'text/x.tlog.size', body: '25\n' });
  });

  it('refuses a bad consistency proof, a fork, an unknown log and a forged signature', async () => {
    const { dir, witness, reader, cp, leaves } = await setup();
    await witness.addCheckpoint(formatAddCheckpoint(0, [], await cp(10)));
    const wrong = await consistencyProof(reader, 9, 30);
    expect((await witness.addCheckpoint(formatAddCheckpoint(10, wrong, await cp(30)))).status).toBe(422);

    // Same size, different history: a fork.
    const forked = leaves.slice();
    forked[3] = leafHash('rewritten');
    const fork = await witness.addCheckpoint(formatAddCheckpoint(10, [], await cp(10, forked)));
    expect(fork.status).toBe(409);
    expect(fork.body).toMatch(/^fork/);
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'));
    expect(state.conflicts).toHaveLength(2);
    expect(state.logs['test.example/log'].size).toBe(10);

    const other = new CheckpointSigner('other.example/log', LocalEd25519Key.generate(), new ManualClock());
    expect(
      (await witness.addCheckpoint(formatAddCheckpoint(0, [], await other.sign(1, leaves[0]!)))).status,
    ).toBe(404);
    const impostor = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), new ManualClock());
    expect(
      (await witness.addCheckpoint(formatAddCheckpoint(10, [], await impostor.sign(12, leaves[0]!)))).status,
    ).toBe(403);
    expect((await witness.addCheckpoint('old x\n\n')).status).toBe(400);
  });

  it('never rolls back when two submissions race', async () => {
    const { witness, reader, cp } = await setup();
    await witness.addCheckpoint(formatAddCheckpoint(0, [], await cp(5)));
    const [a, b] = await Promise.all([
      witness.addCheckpoint(formatAddCheckpoint(5, await consistencyProof(reader, 5, 20), await cp(20))),
      witness.addCheckpoint(formatAddCheckpoint(5, await consistencyProof(reader, 5, 30), await cp(30))),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
  });
});
