import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLE, checkpointFile, listCheckpoints, readEntryChunks, readTileFiles } from './bundle.js';
import {
  CHAIN_EXTENSION,
  type ChainLink,
  chainLinkOf,
  type LogKey,
  logKeyFrom,
  noteTextHash,
  type OpenedCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signedBy,
} from './checkpoint.js';
import { hashLineChunks } from './leaf-hasher.js';
import { CompactRange, emptyRoot, HASH_SIZE } from './merkle.js';
import { parseNote } from './note.js';
import { type Rotation, RotationScanner } from './rotation.js';
import { appendLeaves, edgeRoot, emptyEdge, TILE_WIDTH, type Tile, tilePath } from './tiles.js';

/** Offline verification of an export bundle (see bundle.ts), trusting only the verifier key. */

export type ProblemCode =
  | 'key'
  | 'checkpoint'
  | 'chain'
  | 'order'
  | 'fork'
  | 'rollback'
  | 'entry'
  | 'tile'
  | 'bundle';

export interface VerifyProblem {
  code: ProblemCode;
  message: string;
  /** The first bad entry, when one can be named. */
  index?: number;
  /** The bundle file at fault, when one can be named. */
  path?: string;
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  checkpoints: number;
  size?: number;
  root?: string;
  /** POSIX seconds of the latest checkpoint's timestamp. */
  timestamp?: number;
  /**
   * Checkpoints signed before the checkpoint chain existed (no chain line): they come first, and
   * removing one of them is detected only through the chained checkpoints after them.
   */
  unchained?: number;
  problem?: VerifyProblem;
}

export interface VerifyOptions {
  /** The log's verifier key, obtained from the operator out of band (`countersign audit key`). */
  key: string;
  /** A checkpoint the auditor saved earlier; the bundle must extend it. */
  trustedCheckpoint?: string;
  onProgress?: (done: number, total: number) => void;
}

class Failed extends Error {
  constructor(readonly problem: VerifyProblem) {
    super(problem.message);
  }
}

const fail = (p: VerifyProblem): never => {
  throw new Failed(p);
};

export async function verifyBundle(dir: string, opts: VerifyOptions): Promise<VerifyReport> {
  const report: VerifyReport = { ok: false, entries: 0, checkpoints: 0 };
  try {
    await run(dir, opts, report);
    report.ok = true;
  } catch (e) {
    if (!(e instanceof Failed)) throw e;
    report.problem = e.problem;
  }
  return report;
}

async function run(dir: string, opts: VerifyOptions, report: VerifyReport): Promise<void> {
  try {
    logKeyFrom(opts.key);
  } catch (e) {
    return fail({ code: 'key', message: (e as Error).message });
  }
  // One pass over the entries: they are hashed (at every size a checkpoint claims) while key
  // rotations are collected; nothing computed here is trusted until the checkpoints open below.
  const claimed = await claimedSizes(dir, opts.trustedCheckpoint);
  const rotations = new RotationScanner();
  const { leaves, rootsAt, tiles, missing } = await hashEntries(
    dir,
    claimed.sizes,
    claimed.latest,
    rotations,
    opts.onProgress,
  );
  const { cps, keys, unchained } = await openAll(dir, opts.key, rotations.found);
  report.checkpoints = cps.length;
  report.unchained = unchained;
  const latest = cps[cps.length - 1]!.checkpoint;
  Object.assign(report, {
    size: latest.size,
    root: latest.root.toString('base64'),
    timestamp: cps[cps.length - 1]!.timestamp,
  });
  const trusted =
    opts.trustedCheckpoint === undefined ? undefined : openTrusted(opts.trustedCheckpoint, keys, latest.size);
  if (missing && latest.size > 0)
    fail({ code: 'bundle', path: BUNDLE.entries, index: 0, message: `${BUNDLE.entries} is missing` });
  report.entries = leaves.count;
  const rootOk = (c: { size: number; root: Buffer }) => rootsAt.get(c.size)?.equals(c.root) === true;
  const badCp = cps.map((c) => c.checkpoint).find((c) => !rootOk(c));
  if (badCp || leaves.count !== latest.size) {
    return fail(await locateBadEntry(dir, leaves, cps, rootOk, await listCheckpoints(dir)));
  }
  if (trusted && !rootOk(trusted.checkpoint)) {
    return fail({
      code: 'fork',
      message: `the log's tree of size ${trusted.checkpoint.size} differs from your trusted checkpoint: its history was rewritten (fork)`,
    });
  }
  await checkTiles(dir, tiles);
}

/**
 * Opens every checkpoint in signing order with the key trusted at that point: the auditor's key,
 * then each key a rotation entry hands over to (the checkpoint covering the rotation must be
 * signed by both). Returns the checkpoints and every key that was trusted along the way.
 */
async function openAll(
  dir: string,
  vkey: string,
  rotations: Rotation[],
): Promise<{ cps: OpenedCheckpoint[]; keys: LogKey[]; unchained: number }> {
  const names = await listCheckpoints(dir);
  if (names.length === 0)
    fail({ code: 'bundle', message: 'the bundle has no signed checkpoints', path: BUNDLE.checkpoints });
  let current = { vkey, key: logKeyFrom(vkey) };
  const keys = [current.key];
  const pending = [...rotations];
  const out: OpenedCheckpoint[] = [];
  const links: (ChainLink | undefined)[] = [];
  for (const path of names) {
    const text = await readFile(join(dir, path), 'utf8');
    let opened: OpenedCheckpoint | undefined;
    try {
      opened = openCheckpoint(text, current.key);
    } catch (e) {
      fail({
        code: 'checkpoint',
        path,
        message: `checkpoint ${path} is not validly signed by the log key: ${(e as Error).message}${laterKeyHint(vkey, keys.length, pending)}`,
      });
    }
    while (pending[0] && pending[0].index < opened!.checkpoint.size) {
      const r = pending.shift()!;
      current = handOver(text, path, r, current);
      keys.push(current.key);
    }
    out.push(opened!);
    links.push(checkChain(out, links, names));
    checkOrder(out, path);
  }
  const latestText = await readFile(join(dir, BUNDLE.checkpoint), 'utf8').catch(() => undefined);
  if (latestText !== out[out.length - 1]!.text) checkLatest(latestText, current.key, out.length);
  return { cps: out, keys, unchained: links.filter((l) => l === undefined).length };
}

/**
 * The auditor gave a key this log only rotated to later (e.g. `audit key` run after a rotation):
 * say so, and which key to look for in their own records. The bundle's word is not trusted here.
 */
function laterKeyHint(vkey: string, trustedSoFar: number, pending: Rotation[]): string {
  if (trustedSoFar !== 1) return '';
  const r = pending.find((x) => x.newKey.trim() === vkey.trim());
  if (!r) return '';
  return `. The key you gave is the one this log rotated to at entry ${r.index}; checkpoints before that are signed by the key it replaced. Verify with the key you trusted before the rotation (the bundle says it was ${r.previousKey.trim()}; compare it with your own records, do not take it from the bundle), and the verifier follows the hand-over`;
}

/**
 * The chain (docs/decisions/0010-checkpoint-chain.md): the checkpoint just opened, the k-th in the
 * bundle, must say it is the log's k-th and carry the hash of the (k-1)-th one's text. So a
 * checkpoint removed, inserted, repeated, reordered or swapped for another of the same log is
 * named. Only checkpoints signed before the chain existed carry no line; they must come first.
 */
function checkChain(
  cps: OpenedCheckpoint[],
  links: (ChainLink | undefined)[],
  names: string[],
): ChainLink | undefined {
  const at = cps.length;
  const path = names[at - 1]!;
  const bad = (message: string) => fail({ code: 'chain', path, message });
  let link: ChainLink | undefined;
  try {
    link = chainLinkOf(cps[at - 1]!.checkpoint);
  } catch (e) {
    return fail({ code: 'checkpoint', path, message: `checkpoint ${path}: ${(e as Error).message}` });
  }
  if (!link) {
    const chained = links.findIndex((l) => l !== undefined);
    if (chained >= 0)
      bad(
        `checkpoint ${path} carries no ${CHAIN_EXTENSION} line although ${names[chained]} before it does: the log signs every checkpoint after the first chained one with a chain line`,
      );
    return undefined;
  }
  if (link.seq > at) {
    const gone = link.seq - at === 1 ? `checkpoint ${at} is` : `checkpoints ${at} to ${link.seq - 1} are`;
    bad(
      `checkpoint ${path} is checkpoint ${link.seq} of the log but number ${at} in the bundle: ${gone} missing (removed from ${BUNDLE.checkpoints}/, or the checkpoints were reordered)`,
    );
  }
  if (link.seq < at) {
    bad(
      `checkpoint ${path} is checkpoint ${link.seq} of the log but number ${at} in the bundle: a checkpoint before it was inserted, repeated or moved`,
    );
  }
  const previous = cps[at - 2];
  if (previous && !link.previous!.equals(noteTextHash(previous.note.text))) {
    bad(
      `checkpoint ${path} does not chain to ${names[at - 2]}, the one before it: that one is not the checkpoint the log signed in its place (replaced, or the checkpoints were reordered)`,
    );
  }
  return link;
}

/** `checkpoint` is not the last of `checkpoints/`; say which checkpoint files are missing if it can tell. */
function checkLatest(text: string | undefined, key: LogKey, count: number): never {
  let link: ChainLink | undefined;
  try {
    if (text !== undefined) link = chainLinkOf(openCheckpoint(text, key).checkpoint);
  } catch {
    link = undefined;
  }
  if (link && link.seq > count) {
    const first = checkpointFile(count + 1)
      .split('\\')
      .join('/');
    return fail({
      code: 'chain',
      path: first,
      message: `${BUNDLE.checkpoint} is checkpoint ${link.seq} of the log but ${BUNDLE.checkpoints}/ ends at checkpoint ${count}: ${first}${link.seq > count + 1 ? ` to checkpoint ${link.seq}` : ''} removed`,
    });
  }
  return fail({
    code: 'checkpoint',
    path: BUNDLE.checkpoint,
    message: `${BUNDLE.checkpoint} is not the last checkpoint of ${BUNDLE.checkpoints}/`,
  });
}

function handOver(
  text: string,
  path: string,
  r: Rotation,
  current: { vkey: string; key: LogKey },
): { vkey: string; key: LogKey } {
  const bad = (why: string) =>
    fail({ code: 'checkpoint', path, index: r.index, message: `key rotation at entry ${r.index}: ${why}` });
  if (r.previousKey.trim() !== current.vkey.trim())
    bad('it does not hand over from the key trusted at that point');
  let next: LogKey | undefined;
  try {
    next = logKeyFrom(r.newKey);
  } catch (e) {
    bad(`the new key is malformed (${(e as Error).message})`);
  }
  if (next!.origin !== current.key.origin) bad('the new key names another log');
  if (!signedBy(text, next!)) bad(`checkpoint ${path}, the first to cover it, is not signed by the new key`);
  try {
    openCheckpoint(text, next!);
  } catch (e) {
    bad(`the new key's signature on ${path} does not verify (${(e as Error).message})`);
  }
  return { vkey: r.newKey, key: next! };
}

function checkOrder(cps: OpenedCheckpoint[], path: string): void {
  if (cps.length < 2) return;
  const prev = cps[cps.length - 2]!;
  const cur = cps[cps.length - 1]!;
  if (cur.timestamp < prev.timestamp) {
    fail({
      code: 'order',
      path,
      message: `checkpoint ${path} is dated ${cur.timestamp}, before the one signed earlier (${prev.timestamp})`,
    });
  }
  if (cur.checkpoint.size < prev.checkpoint.size) {
    fail({
      code: 'order',
      path,
      message: `checkpoint ${path} has size ${cur.checkpoint.size}, smaller than the one signed earlier (${prev.checkpoint.size})`,
    });
  }
  if (cur.checkpoint.size === prev.checkpoint.size && !cur.checkpoint.root.equals(prev.checkpoint.root)) {
    fail({
      code: 'fork',
      path,
      message: `checkpoint ${path} has the size of the previous one but another root: the log forked`,
    });
  }
}

function openTrusted(text: string, keys: LogKey[], latestSize: number): OpenedCheckpoint {
  let t: OpenedCheckpoint | undefined;
  const errors: string[] = [];
  for (const k of keys) {
    try {
      t = openCheckpoint(text, k);
      break;
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (!t) {
    return fail({
      code: 'key',
      message: `the trusted checkpoint does not verify with the log key: ${errors[0] ?? 'no key'}`,
    });
  }
  if (t.checkpoint.size > latestSize) {
    fail({
      code: 'rollback',
      index: latestSize,
      message: `your trusted checkpoint covers ${t.checkpoint.size} entries but the bundle only ${latestSize}: entries from index ${latestSize} were dropped`,
    });
  }
  return t;
}

/** Leaf hashes packed in chunks: a million Buffer objects would cost more than the hashes. */
class LeafHashes {
  private readonly chunks: Buffer[] = [];
  count = 0;
  private static readonly PER_CHUNK = 1 << 16;

  push(h: Buffer): void {
    const at = this.count % LeafHashes.PER_CHUNK;
    if (at === 0) this.chunks.push(Buffer.allocUnsafe(LeafHashes.PER_CHUNK * HASH_SIZE));
    h.copy(this.chunks[this.chunks.length - 1]!, at * HASH_SIZE);
    this.count++;
  }

  get(i: number): Buffer {
    const c = this.chunks[Math.floor(i / LeafHashes.PER_CHUNK)]!;
    const at = (i % LeafHashes.PER_CHUNK) * HASH_SIZE;
    return c.subarray(at, at + HASH_SIZE);
  }
}

/**
 * One pass over the entries: leaf hashes, the tiles they produce (to compare with the bundle's),
 * and the root at every size a checkpoint names.
 */
async function hashEntries(
  dir: string,
  sizes: Set<number>,
  total: number,
  rotations: RotationScanner,
  onProgress?: (done: number, total: number) => void,
): Promise<{ leaves: LeafHashes; rootsAt: Map<number, Buffer>; tiles: Map<string, Tile>; missing: boolean }> {
  const leaves = new LeafHashes();
  const rootsAt = new Map<number, Buffer>();
  const tiles = new Map<string, Tile>();
  if (sizes.has(0)) rootsAt.set(0, emptyRoot);
  let edge = emptyEdge();
  let batch: Buffer[] = [];
  const flush = () => {
    const r = appendLeaves(edge, batch);
    edge = r.edge;
    for (const t of r.tiles) tiles.set(`${t.level}/${t.index}`, t);
    batch = [];
  };
  async function* scanned(): AsyncGenerator<Buffer> {
    for await (const chunk of readEntryChunks(dir)) {
      rotations.scan(chunk);
      yield chunk;
    }
  }
  let missing = false;
  try {
    for await (const hashes of hashLineChunks(scanned())) {
      for (let at = 0; at < hashes.length; at += HASH_SIZE) {
        const h = hashes.subarray(at, at + HASH_SIZE);
        leaves.push(h);
        batch.push(h);
        const n = leaves.count;
        if (sizes.has(n)) {
          flush();
          rootsAt.set(n, edgeRoot(edge));
        } else if (batch.length >= 4096) flush();
        if (onProgress && n % 65_536 === 0) onProgress(n, total);
      }
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    missing = true;
  }
  flush();
  onProgress?.(leaves.count, total);
  return { leaves, rootsAt, tiles, missing };
}

/**
 * The tree sizes the bundle's checkpoints (and the auditor's trusted one) claim, read without
 * checking signatures: only where to record roots during the single pass. Unreadable ones are
 * skipped here and reported when the checkpoints are opened.
 */
async function claimedSizes(dir: string, trusted?: string): Promise<{ sizes: Set<number>; latest: number }> {
  // One file at a time: a bundle holds a checkpoint per second of writes, and opening them all at
  // once runs out of file descriptors, which would drop sizes and fail an intact bundle.
  const sizes = new Set<number>();
  let latest = 0;
  const add = (text: string): void => {
    try {
      const size = parseCheckpoint(parseNote(text).text).size;
      sizes.add(size);
      latest = Math.max(latest, size);
    } catch {}
  };
  for (const path of await listCheckpoints(dir)) add(await readFile(join(dir, path), 'utf8').catch(() => ''));
  if (trusted) add(trusted);
  return { sizes, latest };
}

/**
 * The entries do not hash to the signed roots. Tiles that hash to the latest signed root are the
 * log's true leaf hashes, so the first entry that differs from them is the first bad one. If the
 * tiles were altered too, the signed checkpoints still bound where the damage starts.
 */
async function locateBadEntry(
  dir: string,
  leaves: LeafHashes,
  cps: OpenedCheckpoint[],
  rootOk: (c: { size: number; root: Buffer }) => boolean,
  names: string[],
): Promise<VerifyProblem> {
  const latest = cps[cps.length - 1]!.checkpoint;
  const truth = await authenticTiles(dir, latest.size, latest.root);
  const bad = (index: number, why: string): VerifyProblem => ({
    code: 'entry',
    index,
    path: BUNDLE.entries,
    message: `entry ${index} (line ${index + 1} of ${BUNDLE.entries}) ${why}`,
  });
  if (truth) {
    const n = Math.min(leaves.count, latest.size);
    for (let i = 0; i < n; i++) {
      if (!leaves.get(i).equals(truth(i)))
        return bad(i, 'is not the entry the log signed: altered, removed, reordered or inserted');
    }
  }
  if (leaves.count < latest.size)
    return bad(leaves.count, `is missing: the latest checkpoint covers ${latest.size} entries`);
  // An export stops at its latest checkpoint, so entries beyond it mean the bundle was changed:
  // the newest checkpoints were removed (with `checkpoint` replaced to match) or entries appended.
  if (leaves.count > latest.size) {
    return bad(
      latest.size,
      `and the ${leaves.count - latest.size - 1} after it are not covered by any signed checkpoint: the latest in the bundle, ${names[names.length - 1]}, covers ${latest.size} entries. Newer checkpoints were removed from the bundle, or entries were added to it`,
    );
  }
  // A loop, not Math.max(...sizes): hundreds of thousands of checkpoints overflow the call stack.
  const from = cps
    .map((c) => c.checkpoint)
    .filter(rootOk)
    .reduce((max, c) => Math.max(max, c.size), 0);
  const to = cps.map((c) => c.checkpoint).find((c) => !rootOk(c))!.size;
  return bad(
    from,
    `or one after it up to index ${to - 1} was altered; the tiles were altered too, so the exact entry cannot be named`,
  );
}

/**
 * A lookup of leaf hashes from the bundle's level-0 tiles, if they hash to the signed root. Only
 * level 0 is used: upper tiles would let an altered level-0 tile go unnoticed.
 */
async function authenticTiles(
  dir: string,
  size: number,
  root: Buffer,
): Promise<((i: number) => Buffer) | undefined> {
  const { tiles } = await readTileFiles(dir);
  const row = new Map<number, Buffer>();
  for (const t of tiles) {
    if (
      t.level === 0 &&
      t.data.length === t.width * HASH_SIZE &&
      (row.get(t.index)?.length ?? 0) < t.data.length
    ) {
      row.set(t.index, t.data);
    }
  }
  const leaf = (i: number): Buffer | undefined => {
    const data = row.get(Math.floor(i / TILE_WIDTH));
    const at = (i % TILE_WIDTH) * HASH_SIZE;
    return data && data.length >= at + HASH_SIZE ? data.subarray(at, at + HASH_SIZE) : undefined;
  };
  const compact = new CompactRange();
  for (let i = 0; i < size; i++) {
    const h = leaf(i);
    if (!h) return undefined;
    compact.append(h);
  }
  return compact.root().equals(root) ? (i) => leaf(i)! : undefined;
}

/** The entries are right; the tiles must be exactly the ones they produce, nothing more. */
async function checkTiles(dir: string, expected: Map<string, Tile>): Promise<void> {
  const { tiles, stray } = await readTileFiles(dir);
  if (stray.length > 0)
    fail({ code: 'tile', path: stray[0]!, message: `${stray[0]} is not a tile of this log` });
  const have = new Map(tiles.map((t) => [t.path, t]));
  for (const t of [...expected.values()].sort((a, b) => a.level - b.level || a.index - b.index)) {
    const path = tilePath(t.level, t.index, t.width);
    const got = have.get(path);
    if (!got) fail({ code: 'tile', path, message: `tile ${path} is missing` });
    if (!got!.data.equals(t.data))
      fail({ code: 'tile', path, message: `tile ${path} does not match the entries` });
    have.delete(path);
  }
  const extra = [...have.keys()][0];
  if (extra) fail({ code: 'tile', path: extra, message: `tile ${extra} does not belong to the signed tree` });
}
