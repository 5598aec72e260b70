import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompactRange,
  consistencyProof,
  emptyRoot,
  inclusionProof,
  leafHash,
  type NodeId,
  type NodeReader,
  nodeHash,
  rootFromInclusionProof,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

const hex = (s: string) => Buffer.from(s, 'hex');
const toHex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));

// RFC 6962 test data published by transparency-dev/merkle (testonly/constants.go, reference_test.go).
const leafInputs = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(hex);
const roots = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const inclusionVectors: { index: number; size: number; proof: string[] }[] = [
  { index: 0, size: 1, proof: [] },
  { index: 0, size: 2, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7'] },
  { index: 1, size: 2, proof: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'] },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];
const consistencyVectors: { size1: number; size2: number; proof: string[] }[] = [
  { size1: 1, size2: 1, proof: [] },
  {
    size1: 1,
    size2: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    size1: 2,
    size2: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    size1: 6,
    size2: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

/** Computes every node from the leaves: the slow, obviously right reader the fast ones are checked against. */
function naiveReader(leaves: Buffer[]): NodeReader {
  const node = (n: NodeId): Buffer => {
    if (n.level === 0) return leaves[n.index]!;
    return nodeHash(
      node({ level: n.level - 1, index: 2 * n.index }),
      node({ level: n.level - 1, index: 2 * n.index + 1 }),
    );
  };
  return { readNodes: async (ns) => ns.map(node) };
}

/** The RFC 6962 definition of MTH, straight from the text. */
function referenceRoot(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return emptyRoot;
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

const leaves = leafInputs.map((l) => leafHash(l));

describe('RFC 6962 test vectors (transparency-dev/merkle)', () => {
  it('computes the root of every size 0..8', async () => {
    for (let n = 0; n <= 8; n++) {
      const c = new CompactRange();
      for (const l of leaves.slice(0, n)) c.append(l);
      expect(c.root().toString('hex')).toBe(roots[n]);
      expect((await treeRoot(naiveReader(leaves), n)).toString('hex')).toBe(roots[n]);
    }
  });

  it.each(inclusionVectors)(
    'inclusion proof of leaf $index in size $size',
    async ({ index, size, proof }) => {
      const got = await inclusionProof(naiveReader(leaves), index, size);
      expect(toHex(got)).toEqual(proof);
      expect(verifyInclusion(index, size, leaves[index]!, proof.map(hex), hex(roots[size]!))).toBe(true);
    },
  );

  it.each(consistencyVectors)('consistency proof $size1 -> $size2', async ({ size1, size2, proof }) => {
    const got = await consistencyProof(naiveReader(leaves), size1, size2);
    expect(toHex(got)).toEqual(proof);
    expect(verifyConsistency(size1, size2, proof.map(hex), hex(roots[size1]!), hex(roots[size2]!))).toBe(
      true,
    );
  });

  it('rejects a proof against the wrong root, a flipped bit, or a wrong size', () => {
    const v = consistencyVectors[3]!;
    const proof = v.proof.map(hex);
    expect(verifyConsistency(6, 8, proof, hex(roots[5]!), hex(roots[8]!))).toBe(false);
    const bent = proof.map((p) => Buffer.from(p));
    bent[1]![0]! ^= 1;
    expect(verifyConsistency(6, 8, bent, hex(roots[6]!), hex(roots[8]!))).toBe(false);
    const inc = inclusionVectors[4]!;
    expect(verifyInclusion(1, 4, leaves[1]!, inc.proof.map(hex), hex(roots[5]!))).toBe(false);
    expect(verifyInclusion(2, 5, leaves[1]!, inc.proof.map(hex), hex(roots[5]!))).toBe(false);
    expect(() => rootFromInclusionProof(1, 5, leaves[1]!, inc.proof.slice(0, 2).map(hex))).toThrow(/shorter/);
  });
});

describe('proofs on random trees', () => {
  const tree = fc
    .integer({ min: 1, max: 300 })
    .map((n) => Array.from({ length: n }, (_, i) => leafHash(`entry ${i}`)));

  it('roots match the RFC definition', () => {
    fc.assert(
      fc.property(tree, (ls) => {
        expect(new CompactRange().root()).toEqual(emptyRoot);
        const c = new CompactRange();
        for (const l of ls) c.append(l);
        expect(c.root()).toEqual(referenceRoot(ls));
      }),
      { numRuns: 50 },
    );
  });

  it('every inclusion and consistency proof verifies, and fails against another root', async () => {
    await fc.assert(
      fc.asyncProperty(tree, fc.nat(), fc.nat(), async (ls, a, b) => {
        const n = ls.length;
        const reader = naiveReader(ls);
        const index = a % n;
        const size1 = (b % n) + 1;
        const root = referenceRoot(ls);
        const root1 = referenceRoot(ls.slice(0, size1));
        const inc = await inclusionProof(reader, index, n);
        expect(verifyInclusion(index, n, ls[index]!, inc, root)).toBe(true);
        expect(verifyInclusion(index, n, leafHash('other'), inc, root)).toBe(false);
        const cons = await consistencyProof(reader, size1, n);
        expect(verifyConsistency(size1, n, cons, root1, root)).toBe(true);
        if (size1 < n) expect(verifyConsistency(size1, n, cons, leafHash('x'), root)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});

describe('leafHash', () => {
  const reference = (bytes: Uint8Array) =>
    createHash('sha256')
      .update(Buffer.from([0]))
      .update(bytes)
      .digest();

  it('is SHA-256(0x00 || UTF-8 bytes) for any string, including ones past the scratch buffer', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary' }), fc.string({ minLength: 65_530, maxLength: 70_000 })),
        (s) => {
          expect(leafHash(s).equals(reference(Buffer.from(s, 'utf8')))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the same hash for bytes as for the string they encode, and keeps no state between calls', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }), { minLength: 2, maxLength: 5 }), (ss) => {
        const hashes = ss.map((s) => leafHash(Buffer.from(s, 'utf8')));
        ss.forEach((s, i) => {
          expect(leafHash(s).equals(hashes[i]!)).toBe(true);
        });
      }),
    );
  });
});
