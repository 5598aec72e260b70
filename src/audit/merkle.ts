import { hash } from 'node:crypto';

/**
 * RFC 9162 (Certificate Transparency v2) Merkle tree hashing and proofs.
 * Ranges are half-open [start, end) over leaf indices; a node is a complete aligned subtree.
 */

export const HASH_SIZE = 32;

/** A complete aligned subtree: `2^level` leaves starting at `index * 2^level`. */
export interface NodeId {
  level: number;
  index: number;
}

export type Range = readonly [start: number, end: number];

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

function sha256(data: Uint8Array): Buffer {
  return hash('sha256', data, 'buffer') as Buffer;
}

export const emptyRoot: Buffer = sha256(new Uint8Array(0));

// A reused scratch buffer for the 0x00 prefix and the entry: one copy, no allocation per leaf.
// An entry larger than it (rare) gets a buffer of its own, so one big entry pins no memory.
const leafBuf = Buffer.allocUnsafe(64 * 1024);

export function leafHash(entry: Uint8Array | string): Buffer {
  const size = 1 + (typeof entry === 'string' ? Buffer.byteLength(entry, 'utf8') : entry.length);
  const buf = size <= leafBuf.length ? leafBuf : Buffer.allocUnsafe(size);
  buf[0] = LEAF_PREFIX;
  if (typeof entry === 'string') buf.write(entry, 1, 'utf8');
  else buf.set(entry, 1);
  return sha256(buf.subarray(0, size));
}

// One reused buffer: node hashing is the hot path of appends and verification.
const nodeBuf = Buffer.allocUnsafe(1 + 2 * HASH_SIZE);
nodeBuf[0] = NODE_PREFIX;

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  nodeBuf.set(left, 1);
  nodeBuf.set(right, 1 + HASH_SIZE);
  return sha256(nodeBuf);
}

/** Largest power of two strictly smaller than n (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPow2(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** Root of a list of leaf hashes, by folding complete subtrees right to left. */
export function rootOfLeaves(leaves: readonly Uint8Array[]): Buffer {
  const c = new CompactRange();
  for (const l of leaves) c.append(l);
  return c.root();
}

/**
 * The right edge of a growing tree: one hash per set bit of the size. Appending is amortised
 * one node hash per leaf, so recomputing a log's root is linear.
 */
export class CompactRange {
  size = 0;
  private readonly stack: Buffer[] = [];

  append(leaf: Uint8Array): void {
    let h: Buffer = Buffer.from(leaf);
    let s = this.size;
    while (s & 1) {
      h = nodeHash(this.stack.pop()!, h);
      s = Math.floor(s / 2);
    }
    this.stack.push(h);
    this.size++;
  }

  root(): Buffer {
    if (this.stack.length === 0) return emptyRoot;
    let h = this.stack[this.stack.length - 1]!;
    for (let i = this.stack.length - 2; i >= 0; i--) h = nodeHash(this.stack[i]!, h);
    return h;
  }
}

/** The complete aligned subtrees that make up [start, end), left to right, largest first. */
export function rangeNodes(start: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  let lo = start;
  while (lo < end) {
    let level = 0;
    while ((lo / 2 ** (level + 1)) % 1 === 0 && lo + 2 ** (level + 1) <= end) level++;
    out.push({ level, index: lo / 2 ** level });
    lo += 2 ** level;
  }
  return out;
}

/** MTH of a range given the hashes of its `rangeNodes`, folded right to left as RFC 9162 defines. */
export function foldRange(nodes: readonly Uint8Array[]): Buffer {
  if (nodes.length === 0) return emptyRoot;
  let h: Buffer = Buffer.from(nodes[nodes.length - 1]!);
  for (let i = nodes.length - 2; i >= 0; i--) h = nodeHash(nodes[i]!, h);
  return h;
}

/** Ranges whose hashes form the inclusion proof of leaf `index` in a tree of `size` (RFC 9162 2.1.3.1). */
export function inclusionRanges(index: number, size: number): Range[] {
  checkIndex(index, size);
  const out: Range[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo += k;
    }
  }
  return out.reverse();
}

/** Ranges whose hashes form the consistency proof from `size1` to `size2` (RFC 9162 2.1.4.1). */
export function consistencyRanges(size1: number, size2: number): Range[] {
  checkSizes(size1, size2);
  if (size1 === 0 || size1 === size2) return [];
  const out: Range[] = [];
  let lo = 0;
  let hi = size2;
  let haveRoot = true;
  while (size1 !== hi) {
    const k = splitPoint(hi - lo);
    if (size1 <= lo + k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo += k;
      haveRoot = false;
    }
  }
  if (!haveRoot) out.push([lo, hi]);
  return out.reverse();
}

function checkIndex(index: number, size: number): void {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new RangeError(`leaf index ${index} is outside a tree of size ${size}`);
  }
}

function checkSizes(size1: number, size2: number): void {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size1 > size2) {
    throw new RangeError(`tree size ${size1} cannot precede tree size ${size2}`);
  }
}

/** RFC 9162 2.1.3.2: the root an inclusion proof leads to, or an error if the proof has the wrong shape. */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Buffer {
  checkIndex(index, size);
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) throw new Error('inclusion proof is longer than the tree is deep');
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('inclusion proof is shorter than the tree is deep');
  return r;
}

export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    return rootFromInclusionProof(index, size, leaf, proof).equals(root);
  } catch {
    return false;
  }
}

/** RFC 9162 2.1.4.2: checks that the tree of size2 with root2 extends the tree of size1 with root1. */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  try {
    checkSizes(size1, size2);
  } catch {
    return false;
  }
  if (size1 === size2) return proof.length === 0 && Buffer.from(root1).equals(root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = isPow2(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}

/** Reads node hashes from wherever a log keeps them (memory, tiles in a database, a bundle). */
export interface NodeReader {
  readNodes(nodes: readonly NodeId[]): Promise<Buffer[]>;
}

async function hashRanges(reader: NodeReader, ranges: readonly Range[]): Promise<Buffer[]> {
  const perRange = ranges.map(([s, e]) => rangeNodes(s, e));
  const hashes = await reader.readNodes(perRange.flat());
  let at = 0;
  return perRange.map((nodes) => {
    const slice = hashes.slice(at, at + nodes.length);
    at += nodes.length;
    return foldRange(slice);
  });
}

export function inclusionProof(reader: NodeReader, index: number, size: number): Promise<Buffer[]> {
  return hashRanges(reader, inclusionRanges(index, size));
}

export function consistencyProof(reader: NodeReader, size1: number, size2: number): Promise<Buffer[]> {
  return hashRanges(reader, consistencyRanges(size1, size2));
}

export async function treeRoot(reader: NodeReader, size: number): Promise<Buffer> {
  if (size === 0) return emptyRoot;
  const [root] = await hashRanges(reader, [[0, size]]);
  return root!;
}
