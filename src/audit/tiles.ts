import { foldRange, HASH_SIZE, type NodeId, type NodeReader, nodeHash } from './merkle.js';

/**
 * Hash storage in the C2SP tlog-tiles layout: a tile at level L holds up to 256 hashes of tree
 * level 8L; the 7 levels in between are recomputed from the tile when a proof needs them. The
 * log keeps only its right edge (one partial row per level) in memory and emits, per batch of
 * appended leaves, the tiles that changed, so a store writes them in the same transaction as the
 * events.
 */

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 2 ** TILE_HEIGHT;

export interface TileId {
  level: number;
  index: number;
}

/** A tile as stored: `width` hashes (1..256) concatenated in `data`. */
export interface Tile extends TileId {
  width: number;
  data: Buffer;
}

/** Where tiles are kept. A store implements it over a table; a bundle over files; tests over memory. */
export interface TileReader {
  /** The latest stored version of each tile (full or partial), or undefined. */
  readTiles(ids: readonly TileId[]): Promise<(Buffer | undefined)[]>;
}

/** The right edge of the tree: its size and the hashes of the partial tile at each level. */
export interface TreeEdge {
  size: number;
  rows: Buffer[][];
}

export function emptyEdge(): TreeEdge {
  return { size: 0, rows: [] };
}

/** Leaves covered by one hash at a tile level. */
function span(level: number): number {
  return TILE_WIDTH ** level;
}

/** The hash of the complete aligned subtree over `count` hashes of `row` starting at `start`. */
export function subtreeOf(row: readonly Buffer[], start: number, count: number): Buffer {
  if (count === 1) return row[start]!;
  const half = count / 2;
  return nodeHash(subtreeOf(row, start, half), subtreeOf(row, start + half, half));
}

function join(row: readonly Buffer[]): Buffer {
  return Buffer.concat(row, row.length * HASH_SIZE);
}

export function splitHashes(data: Buffer, width: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < width; i++) out.push(data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  return out;
}

/** Appends leaf hashes to the edge; returns the new edge and every tile that changed (full, then partial). */
export function appendLeaves(edge: TreeEdge, leaves: readonly Buffer[]): { edge: TreeEdge; tiles: Tile[] } {
  const rows = edge.rows.map((r) => r.slice());
  const tiles: Tile[] = [];
  const dirty = new Set<number>();
  let size = edge.size;
  const push = (level: number, h: Buffer): void => {
    if (!rows[level]) rows[level] = [];
    const row = rows[level];
    row.push(h);
    dirty.add(level);
    if (row.length < TILE_WIDTH) return;
    // The tile that just filled: its index is the number of full tiles before it at this level.
    const index = Math.floor((size + 1 - TILE_WIDTH * span(level)) / (TILE_WIDTH * span(level)));
    tiles.push({ level, index, width: TILE_WIDTH, data: join(row) });
    rows[level] = [];
    push(level + 1, subtreeOf(row, 0, TILE_WIDTH));
  };
  for (const leaf of leaves) {
    push(0, leaf);
    size++;
  }
  for (const level of [...dirty].sort((a, b) => a - b)) {
    const row = rows[level]!;
    if (row.length === 0) continue;
    // Joined on first read: a store that keeps a partial tile another way (SQLite keeps level 0
    // as leaf rows) need not copy up to 8 KiB per batch. `row` is never mutated afterwards: the
    // next append copies the edge's rows.
    let data: Buffer | undefined;
    tiles.push({
      level,
      index: Math.floor(size / (TILE_WIDTH * span(level))),
      width: row.length,
      get data() {
        data ??= join(row);
        return data;
      },
    });
  }
  while (rows.length > 0 && rows[rows.length - 1]!.length === 0) rows.pop();
  return { edge: { size, rows }, tiles };
}

/** The partial tiles that make up the right edge of a tree of `size` leaves. */
export function edgeTiles(size: number): (TileId & { width: number })[] {
  const out: (TileId & { width: number })[] = [];
  for (let level = 0; span(level) <= size; level++) {
    const width = Math.floor(size / span(level)) % TILE_WIDTH;
    if (width > 0) out.push({ level, index: Math.floor(size / span(level + 1)), width });
  }
  return out;
}

/** Rebuilds the in-memory edge from stored tiles, e.g. when a store opens. */
export async function loadEdge(reader: TileReader, size: number): Promise<TreeEdge> {
  const ids = edgeTiles(size);
  const datas = await reader.readTiles(ids);
  return edgeFrom(size, ids, datas);
}

/** The same, for stores that read synchronously inside a transaction (SQLite). */
export function loadEdgeSync(
  read: (level: number, index: number) => Buffer | undefined,
  size: number,
): TreeEdge {
  const ids = edgeTiles(size);
  return edgeFrom(
    size,
    ids,
    ids.map((id) => read(id.level, id.index)),
  );
}

function edgeFrom(
  size: number,
  ids: (TileId & { width: number })[],
  datas: (Buffer | undefined)[],
): TreeEdge {
  const rows: Buffer[][] = [];
  ids.forEach((id, i) => {
    const data = datas[i];
    if (!data || data.length < id.width * HASH_SIZE) {
      throw new Error(
        `tile ${tilePath(id.level, id.index, id.width)} is missing or short for tree size ${size}`,
      );
    }
    rows[id.level] = splitHashes(data, id.width);
  });
  for (let l = 0; l < rows.length; l++) rows[l] ??= [];
  return { size, rows };
}

/** The root of the tree the edge describes, from the edge alone (no storage read). */
export function edgeRoot(edge: TreeEdge): Buffer {
  const nodes: Buffer[] = [];
  for (let level = edge.rows.length - 1; level >= 0; level--) {
    const row = edge.rows[level]!;
    let start = 0;
    for (let bit = TILE_WIDTH / 2; bit >= 1; bit /= 2) {
      if (row.length & bit) {
        nodes.push(subtreeOf(row, start, bit));
        start += bit;
      }
    }
  }
  return foldRange(nodes);
}

/** C2SP tlog-tiles path of a tile: `tile/<L>/<N>` with N in 3-digit groups, `.p/<W>` when partial. */
export function tilePath(level: number, index: number, width = TILE_WIDTH): string {
  const digits = String(index).padStart(3, '0');
  const groups: string[] = [];
  for (let end = digits.length; end > 0; end -= 3) groups.unshift(digits.slice(Math.max(0, end - 3), end));
  // A group of fewer than 3 digits can only come first; pad it as the spec's zero-padded groups.
  groups[0] = groups[0]!.padStart(3, '0');
  const n = groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
  return `tile/${level}/${n}${width < TILE_WIDTH ? `.p/${width}` : ''}`;
}

/** Parses a path made by `tilePath`; undefined for anything else. */
export function parseTilePath(path: string): (TileId & { width: number }) | undefined {
  const m = /^tile\/(\d+)\/((?:x\d{3}\/)*)(\d{3})(?:\.p\/(\d+))?$/.exec(path);
  if (!m) return undefined;
  const index = Number((m[2]!.replaceAll('x', '').replaceAll('/', '') + m[3]!).replace(/^0+(?=\d)/, ''));
  const width = m[4] === undefined ? TILE_WIDTH : Number(m[4]);
  if (width < 1 || width > TILE_WIDTH || tilePath(Number(m[1]), index, width) !== path) return undefined;
  return { level: Number(m[1]), index, width };
}

/**
 * Every level of a tile's subtree in one buffer (one object instead of 511 for the collector):
 * level j holds floor(width / 2^j) hashes, stored after the levels below it.
 */
interface Expanded {
  width: number;
  data: Buffer;
}

function expand(tile: Buffer): Expanded {
  const width = Math.floor(tile.length / HASH_SIZE);
  let total = 0;
  for (let n = width; n > 0; n = Math.floor(n / 2)) total += n;
  const data = Buffer.allocUnsafe(total * HASH_SIZE);
  tile.copy(data, 0, 0, width * HASH_SIZE);
  let below = 0;
  let at = width;
  for (let n = Math.floor(width / 2); n > 0; n = Math.floor(n / 2)) {
    for (let i = 0; i < n; i++) {
      const l = (below + 2 * i) * HASH_SIZE;
      nodeHash(data.subarray(l, l + HASH_SIZE), data.subarray(l + HASH_SIZE, l + 2 * HASH_SIZE)).copy(
        data,
        (at + i) * HASH_SIZE,
      );
    }
    below = at;
    at += n;
  }
  return { width, data };
}

function nodeIn(e: Expanded, height: number, offset: number): Buffer | undefined {
  let start = 0;
  let n = e.width;
  for (let j = 0; j < height; j++) {
    start += n;
    n = Math.floor(n / 2);
  }
  if (offset >= n) return undefined;
  const at = (start + offset) * HASH_SIZE;
  return e.data.subarray(at, at + HASH_SIZE);
}

/**
 * Serves node hashes from tiles. A partial tile is re-read every time because it grows.
 */
export class TileNodeReader implements NodeReader {
  /** Full tiles never change: their expansions are kept, least recently used evicted first. */
  private readonly cache = new Map<string, Expanded>();
  /** Expansions of partial tiles by width: a given width of a tile never changes, only grows. */
  private readonly partial = new Map<string, Expanded>();

  constructor(
    private readonly tiles: TileReader,
    /** 16 KiB each: the default keeps the level-0 tiles of about a million entries. */
    private readonly cacheTiles = 4096,
  ) {}

  async readNodes(nodes: readonly NodeId[]): Promise<Buffer[]> {
    const where = nodes.map(locate);
    const key = (w: TileId) => `${w.level}/${w.index}`;
    // Tiles this call uses are held here, so that caching one cannot evict another mid-call.
    const held = new Map<string, Expanded>();
    const missing = new Map<string, TileId>();
    for (const w of where) {
      const k = key(w);
      if (held.has(k) || missing.has(k)) continue;
      const cached = this.cache.get(k);
      if (cached) {
        held.set(k, cached);
        this.cache.delete(k);
        this.cache.set(k, cached);
      } else missing.set(k, { level: w.level, index: w.index });
    }
    const ids = [...missing.values()];
    const datas = ids.length > 0 ? await this.tiles.readTiles(ids) : [];
    ids.forEach((id, i) => {
      const data = datas[i];
      if (data) held.set(key(id), this.expansion(key(id), data));
    });
    return where.map((w, i) => {
      const e = held.get(key(w));
      const h = e && nodeIn(e, w.height, w.offset);
      if (!h) throw new Error(`tree node ${JSON.stringify(nodes[i])} is not in the stored tiles`);
      return h;
    });
  }

  private expansion(k: string, data: Buffer): Expanded {
    const width = Math.floor(data.length / HASH_SIZE);
    if (width === TILE_WIDTH) {
      const e = expand(data);
      remember(this.cache, k, e, this.cacheTiles);
      return e;
    }
    const pk = `${k}/${width}`;
    let e = this.partial.get(pk);
    if (!e) {
      e = expand(data);
      remember(this.partial, pk, e, 64);
    }
    return e;
  }
}

function remember<V>(cache: Map<string, V>, k: string, v: V, max: number): void {
  if (cache.size >= max) cache.delete(cache.keys().next().value!);
  cache.set(k, v);
}

interface Located extends TileId {
  height: number;
  offset: number;
}

function locate(n: NodeId): Located {
  const level = Math.floor(n.level / TILE_HEIGHT);
  const height = n.level - level * TILE_HEIGHT;
  const first = n.index * 2 ** height;
  return { level, index: Math.floor(first / TILE_WIDTH), height, offset: (first % TILE_WIDTH) / 2 ** height };
}

/** Tiles in memory: for tests, and for a verifier that loads a bundle. */
export class MemoryTiles implements TileReader {
  readonly tiles = new Map<string, Buffer>();

  write(tiles: readonly Tile[]): void {
    for (const t of tiles) this.tiles.set(`${t.level}/${t.index}`, t.data);
  }

  async readTiles(ids: readonly TileId[]): Promise<(Buffer | undefined)[]> {
    return ids.map((id) => this.tiles.get(`${id.level}/${id.index}`));
  }
}
