import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompactRange,
  consistencyProof,
  inclusionProof,
  leafHash,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
import {
  appendLeaves,
  edgeRoot,
  emptyEdge,
  loadEdge,
  MemoryTiles,
  parseTilePath,
  TileNodeReader,
  tilePath,
} from './tiles.js';

const leavesOf = (n: number, from = 0) => Array.from({ length: n }, (_, i) => leafHash(`e${from + i}`));

function rootOf(n: number): Buffer {
  const c = new CompactRange();
  for (const l of leavesOf(n)) c.append(l);
  return c.root();
}

describe('tile paths (C2SP tlog-tiles)', () => {
  it('encodes indices in x-prefixed 3-digit groups and partial widths', () => {
    expect(tilePath(0, 1234067)).toBe('tile/0/x001/x234/067');
    expect(tilePath(1, 5, 17)).toBe('tile/1/005.p/17');
    expect(tilePath(2, 1000)).toBe('tile/2/x001/000');
    expect(parseTilePath('tile/0/x001/x234/067')).toEqual({ level: 0, index: 1234067, width: 256 });
    expect(parseTilePath('tile/1/005.p/17')).toEqual({ level: 1, index: 5, width: 17 });
    expect(parseTilePath('tile/1/5')).toBeUndefined();
    expect(parseTilePath('tile/1/005.p/0')).toBeUndefined();
    expect(parseTilePath('tile/0/x000/005')).toBeUndefined();
  });
});

describe('incremental tiles', () => {
  it('serve the same roots and proofs as hashing the whole log, for random batch sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 6 }),
        async (batches) => {
          const store = new MemoryTiles();
          let edge = emptyEdge();
          for (const b of batches) {
            const r = appendLeaves(edge, leavesOf(b, edge.size));
            store.write(r.tiles);
            edge = r.edge;
            // A restarted log rebuilds the same edge from what it stored.
            expect(await loadEdge(store, edge.size)).toEqual(edge);
            expect(edgeRoot(edge)).toEqual(rootOf(edge.size));
          }
          const n = edge.size;
          const reader = new TileNodeReader(store, 4);
          expect(await treeRoot(reader, n)).toEqual(rootOf(n));
          for (const i of [0, n - 1, Math.floor(n / 2)]) {
            const proof = await inclusionProof(reader, i, n);
            expect(verifyInclusion(i, n, leafHash(`e${i}`), proof, rootOf(n))).toBe(true);
          }
          const m = Math.max(1, Math.floor(n / 3));
          expect(verifyConsistency(m, n, await consistencyProof(reader, m, n), rootOf(m), rootOf(n))).toBe(
            true,
          );
        },
      ),
      { numRuns: 25 },
    );
  });

  it('reaches the second tile level and writes each full tile once with width 256', async () => {
    const store = new MemoryTiles();
    const n = 256 * 256 + 300;
    const r = appendLeaves(emptyEdge(), leavesOf(n));
    store.write(r.tiles);
    const full0 = r.tiles.filter((t) => t.level === 0 && t.width === 256);
    expect(full0.map((t) => t.index)).toEqual(Array.from({ length: 257 }, (_, i) => i));
    expect(r.tiles.filter((t) => t.level === 2).map((t) => t.width)).toEqual([1]);
    const reader = new TileNodeReader(store);
    expect(await treeRoot(reader, n)).toEqual(rootOf(n));
    expect(await treeRoot(reader, 256 * 256)).toEqual(rootOf(256 * 256));
    const proof = await inclusionProof(reader, 65_000, n);
    expect(verifyInclusion(65_000, n, leafHash('e65000'), proof, rootOf(n))).toBe(true);
  });

  it('serves proofs with a tiny cache: caching one tile never evicts another in use', async () => {
    const store = new MemoryTiles();
    const n = 256 * 256 * 2 + 1000;
    store.write(appendLeaves(emptyEdge(), leavesOf(n)).tiles);
    const reader = new TileNodeReader(store, 1);
    const root = rootOf(n);
    for (const i of [5, 300, 70_000, 5, 131_000, 300, 131_500]) {
      const proof = await inclusionProof(reader, i, n);
      expect(verifyInclusion(i, n, leafHash(`e${i}`), proof, root)).toBe(true);
    }
  });

  it('names a missing tile instead of returning a wrong proof', async () => {
    const store = new MemoryTiles();
    const r = appendLeaves(emptyEdge(), leavesOf(600));
    store.write(r.tiles.filter((t) => !(t.level === 0 && t.index === 1)));
    await expect(inclusionProof(new TileNodeReader(store), 300, 600)).rejects.toThrow(
      /not in the stored tiles/,
    );
    await expect(loadEdge(new MemoryTiles(), 600)).rejects.toThrow(/tile\/0\/002\.p\/88 is missing/);
  });
});
