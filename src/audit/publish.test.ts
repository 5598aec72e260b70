import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { CheckpointSigner, cosignatureVerifier, logKeyFrom } from './checkpoint.js';
import { AuditCheckpointer } from './checkpointer.js';
import type { AuditLogStore, StoredCheckpoint } from './log.js';
import { CompactRange, leafHash } from './merkle.js';
import { LocalEd25519Key, openNote, parseVerifierKey } from './note.js';
import { directorySink, witnessSink } from './publish.js';
import { appendLeaves, edgeRoot, emptyEdge, MemoryTiles, type Tile, type TreeEdge } from './tiles.js';
import { FileWitnessState, Witness } from './witness.js';
import { witnessServer } from './witness-http.js';

/** An in-memory AuditLogStore: the contract the SQLite store implements, small enough to read. */
class MemoryLog extends MemoryTiles implements AuditLogStore {
  edge: TreeEdge = emptyEdge();
  entries: string[] = [];
  cps: StoredCheckpoint[] = [];
  append(entries: string[]): void {
    const r = appendLeaves(
      this.edge,
      entries.map((e) => leafHash(e)),
    );
    this.write(r.tiles);
    this.edge = r.edge;
    this.entries.push(...entries);
  }
  async treeHead() {
    return { size: this.edge.size, root: edgeRoot(this.edge) };
  }
  async *tilesAt(): AsyncGenerator<Tile> {}
  async readEntries(from: number, limit: number) {
    return this.entries.slice(from, from + limit).map((entry, i) => ({ index: from + i, entry }));
  }
  async saveCheckpoint(seq: number, size: number, at: number, note: string) {
    if (seq !== this.cps.length + 1) return false;
    this.cps.push({ seq, size, at, note });
    return true;
  }
  async updateCheckpointNote(seq: number, note: string) {
    this.cps[seq - 1]!.note = note;
  }
  async latestCheckpoint() {
    return this.cps[this.cps.length - 1];
  }
  async checkpoints(after: number, limit: number) {
    return this.cps.slice(after, after + limit);
  }
}

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('publishing checkpoints', () => {
  it('gets cosignatures from a witness over HTTP on loopback and keeps them with the checkpoint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-publish-'));
    dirs.push(dir);
    const clock = new ManualClock();
    const signer = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), clock);
    const witness = new Witness(
      'w.example/1',
      LocalEd25519Key.generate(),
      [logKeyFrom(signer.verifierKey)],
      new FileWitnessState(join(dir, 'w.json')),
      clock,
    );
    const server = witnessServer(witness);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const log = new MemoryLog();
      const cp = new AuditCheckpointer(log, signer, clock, {
        sinks: [directorySink(join(dir, 'pub')), witnessSink(url)],
      });
      log.append(['a', 'b', 'c']);
      await cp.checkpoint();
      log.append(['d', 'e']);
      await cp.checkpoint();
      // A restarted log (fresh sink, no memory of the witness's size) still gets cosigned.
      const restarted = new AuditCheckpointer(log, signer, clock, { sinks: [witnessSink(url)] });
      log.append(['f']);
      await restarted.checkpoint();

      const wk = parseVerifierKey(witness.verifierKey);
      const latest = log.cps[log.cps.length - 1]!;
      expect(openNote(latest.note, [cosignatureVerifier(wk.name, wk.publicKey)]).verifiedBy).toHaveLength(1);
      expect(log.cps.map((c) => c.size)).toEqual([3, 5, 6]);
      // The witness cosigned checkpoints that carry the chain extension line, the restarted
      // checkpointer continuing the chain from the stored checkpoints.
      expect(log.cps.map((c) => c.note.split('\n')[3]?.split(' ').slice(0, 2).join(' '))).toEqual([
        'countersign.chain/v1 1',
        'countersign.chain/v1 2',
        'countersign.chain/v1 3',
      ]);
      expect(await readFile(join(dir, 'pub', 'checkpoint'), 'utf8')).toBe(
        log.cps[1]!.note.split('\u2014 w.example')[0],
      );
      const c = new CompactRange();
      for (const e of log.entries) c.append(leafHash(e));
      expect((await log.treeHead()).root).toEqual(c.root());
    } finally {
      server.close();
    }
  });
});
