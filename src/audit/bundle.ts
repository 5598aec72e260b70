import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { parseTilePath, type Tile, tilePath } from './tiles.js';

/**
 * An export bundle: everything an auditor needs, offline, in plain files.
 *
 *   log.vkey               verifier key of the log (signed-note `name+id+key`)
 *   checkpoint             latest signed checkpoint (C2SP tlog-checkpoint)
 *   checkpoints/NNNNNNNNNN every checkpoint the log signed, in the order it signed them
 *   entries.jsonl          entry i (RFC 8785 JSON, the exact bytes hashed) on line i
 *   tile/...               hash tiles, C2SP tlog-tiles paths
 */
export const BUNDLE = {
  key: 'log.vkey',
  checkpoint: 'checkpoint',
  checkpoints: 'checkpoints',
  entries: 'entries.jsonl',
  tiles: 'tile',
} as const;

export function checkpointFile(seq: number): string {
  return join(BUNDLE.checkpoints, String(seq).padStart(10, '0'));
}

export interface BundleWriter {
  addEntries(entries: readonly string[]): Promise<void>;
  addTiles(tiles: readonly Tile[]): Promise<void>;
  finish(vkey: string, checkpoints: readonly string[]): Promise<void>;
}

/** Creates (or empties) `dir` and writes a bundle into it incrementally, so a big log never sits in memory. */
export async function createBundle(dir: string): Promise<BundleWriter> {
  await mkdir(dir, { recursive: true });
  await Promise.all(Object.values(BUNDLE).map((p) => rm(join(dir, p), { recursive: true, force: true })));
  await writeFile(join(dir, BUNDLE.entries), '');
  // A later partial (or full) version of a tile replaces the one written before it.
  const written = new Map<string, string>();
  return {
    async addEntries(entries) {
      for (const e of entries) {
        if (e.includes('\n')) throw new Error('an entry contains a newline; entries must be RFC 8785 JSON');
      }
      if (entries.length > 0) await appendFile(join(dir, BUNDLE.entries), `${entries.join('\n')}\n`);
    },
    async addTiles(tiles) {
      for (const t of tiles) {
        const path = join(dir, ...tilePath(t.level, t.index, t.width).split('/'));
        const old = written.get(`${t.level}/${t.index}`);
        if (old && old !== path) await rm(old, { force: true });
        written.set(`${t.level}/${t.index}`, path);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, t.data);
      }
    },
    async finish(vkey, checkpoints) {
      await writeFile(join(dir, BUNDLE.key), `${vkey}\n`);
      await mkdir(join(dir, BUNDLE.checkpoints), { recursive: true });
      for (const [i, c] of checkpoints.entries()) await writeFile(join(dir, checkpointFile(i + 1)), c);
      const last = checkpoints[checkpoints.length - 1];
      if (last) await writeFile(join(dir, BUNDLE.checkpoint), last);
    },
  };
}

/** Every tile file in a bundle, keyed by path; files under tile/ that are not tile paths are returned apart. */
export async function readTileFiles(
  dir: string,
): Promise<{ tiles: (Tile & { path: string })[]; stray: string[] }> {
  const root = join(dir, BUNDLE.tiles);
  const tiles: (Tile & { path: string })[] = [];
  const stray: string[] = [];
  let files: string[] = [];
  try {
    files = (await readdir(root, { recursive: true, withFileTypes: true }))
      .filter((d) => d.isFile())
      .map((d) => relative(dir, join(d.parentPath, d.name)).split(sep).join('/'));
  } catch {
    return { tiles, stray };
  }
  for (const path of files.sort()) {
    const id = parseTilePath(path);
    if (!id || path.startsWith('tile/entries/')) {
      stray.push(path);
      continue;
    }
    tiles.push({ ...id, path, data: await readFile(join(dir, path)) });
  }
  return { tiles, stray };
}

/** Names of the checkpoint files in signing order. */
export async function listCheckpoints(dir: string): Promise<string[]> {
  try {
    const names = await readdir(join(dir, BUNDLE.checkpoints));
    return names.sort().map((n) => join(BUNDLE.checkpoints, n).split(sep).join('/'));
  } catch {
    return [];
  }
}

/**
 * Streams entries.jsonl in chunks of complete lines, each line ending in a newline (one is added
 * to a last line that lacks it; the newline is never part of an entry).
 */
export async function* readEntryChunks(dir: string, chunkBytes = 1 << 20): AsyncGenerator<Buffer> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(join(dir, BUNDLE.entries), { highWaterMark: chunkBytes })) {
    const buf: Buffer = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    const end = buf.lastIndexOf(0x0a) + 1;
    if (end > 0) yield buf.subarray(0, end);
    rest = Buffer.from(buf.subarray(end));
  }
  if (rest.length > 0) yield Buffer.concat([rest, Buffer.from('\n')]);
}
