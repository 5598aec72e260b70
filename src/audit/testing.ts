import { ManualClock } from '../core/clock.js';
import { createBundle } from './bundle.js';
import { CheckpointSigner, chainExtension } from './checkpoint.js';
import { CompactRange, leafHash } from './merkle.js';
import { LocalEd25519Key } from './note.js';
import { appendLeaves, emptyEdge } from './tiles.js';

/**
 * Test support: writes a bundle of `n` entries with checkpoints at the given sizes (the last one =
 * n), chained as the checkpointer chains them; `unchained` leaves the chain line off the first
 * that many, like checkpoints signed before the chain existed.
 */
export async function writeTestBundle(
  dir: string,
  n: number,
  checkpointSizes: number[],
  signer = new CheckpointSigner('test.example/log', LocalEd25519Key.generate(), new ManualClock()),
  { unchained = 0 }: { unchained?: number } = {},
): Promise<{ vkey: string; entries: string[]; signer: CheckpointSigner; checkpoints: string[] }> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const s = new CheckpointSigner(signer.origin, signer.key, clock);
  const entries = Array.from(
    { length: n },
    (_, i) => `{"at":${1_767_225_600_000 + i},"i":${i},"kind":"request.submitted"}`,
  );
  const bundle = await createBundle(dir);
  const compact = new CompactRange();
  const checkpoints: string[] = [];
  let edge = emptyEdge();
  let from = 0;
  for (const size of checkpointSizes) {
    const batch = entries.slice(from, size);
    const leaves = batch.map((e) => leafHash(e));
    for (const l of leaves) compact.append(l);
    const r = appendLeaves(edge, leaves);
    edge = r.edge;
    await bundle.addEntries(batch);
    await bundle.addTiles(r.tiles);
    clock.advance(1000);
    const seq = checkpoints.length + 1;
    const chain = seq > unchained ? [chainExtension(seq, checkpoints[seq - 2] ?? null)] : [];
    checkpoints.push(await s.sign(size, compact.root(), chain));
    from = size;
  }
  await bundle.finish(s.verifierKey, checkpoints);
  return { vkey: s.verifierKey, entries, signer: s, checkpoints };
}
