import type Database from 'better-sqlite3';
import type { AuditLogStore, StoredCheckpoint, TreeHead } from '../../audit/log.js';
import { HASH_SIZE, leafHash, treeRoot } from '../../audit/merkle.js';
import {
  appendLeaves,
  edgeRoot,
  loadEdgeSync,
  splitHashes,
  TILE_WIDTH,
  type Tile,
  type TileId,
  TileNodeReader,
  type TreeEdge,
} from '../../audit/tiles.js';

/** Tables of the audit tree; the events table itself holds the entries. */
export const auditMigration = `
  CREATE TABLE audit_tiles (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    width INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (level, idx)
  ) WITHOUT ROWID;
  CREATE TABLE audit_checkpoints (
    seq INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    at INTEGER NOT NULL,
    note TEXT NOT NULL
  );
  CREATE TABLE audit_tree (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL);
  INSERT INTO audit_tree (id, size) VALUES (1, 0);
`;

/**
 * The incomplete level-0 tile, one row per leaf: a batch of one event writes one small row
 * instead of rewriting a blob of up to 255 hashes (8 KiB) in every commit.
 */
export const auditLeavesMigration = `
  CREATE TABLE audit_leaves (idx INTEGER PRIMARY KEY, hash BLOB NOT NULL);
`;

interface CheckpointRow {
  seq: number;
  size: number;
  at: number;
  note: string;
}

/**
 * The Merkle tree over the events table. `extend` runs inside every write batch's transaction
 * (group commit): it hashes the events the batch appended and writes the changed tiles and the
 * new tree size in that same transaction, so an event and its leaf are durable together or not
 * at all. The in-memory edge is checked against the committed size each time, so a batch that
 * rolled back (or a write by another process) never leaves it ahead of the database.
 *
 * Storage: `audit_tiles` holds every full tile and the partial tiles at levels 1 and up (they
 * change once per 256 leaves). The incomplete level-0 tile is kept in `audit_leaves`, one row per
 * leaf, and is replaced by its full tile in the batch that completes it. Readers in other processes
 * assemble it from those rows and see the same bytes as a stored partial tile; this store serves
 * it from its in-memory edge (see readTiles).
 */
export class SqliteAuditLog implements AuditLogStore {
  private edge: TreeEdge;
  /** The largest tree size known to be on stable storage; only it may be signed. */
  private durable: number;
  private readonly reader = new TileNodeReader(this);
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = {
      size: db.prepare<[], { size: number }>('SELECT size FROM audit_tree WHERE id = 1'),
      setSize: db.prepare<[number]>('UPDATE audit_tree SET size = ? WHERE id = 1'),
      lastIdx: db.prepare<[], { idx: number | null }>('SELECT MAX(idx) AS idx FROM events'),
      entriesFrom: db.prepare<[number, number], { idx: number; entry: string }>(
        'SELECT idx, entry FROM events WHERE idx >= ? ORDER BY idx LIMIT ?',
      ),
      tile: db.prepare<[number, number], { data: Buffer }>(
        'SELECT data FROM audit_tiles WHERE level = ? AND idx = ?',
      ),
      putTile: db.prepare<[number, number, number, Buffer]>(
        'INSERT INTO audit_tiles (level, idx, width, data) VALUES (?, ?, ?, ?) ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data',
      ),
      dropTile: db.prepare<[number]>('DELETE FROM audit_tiles WHERE level = 0 AND idx = ?'),
      lastLevel0: db.prepare<[], { idx: number; width: number; data: Buffer }>(
        'SELECT idx, width, data FROM audit_tiles WHERE level = 0 ORDER BY idx DESC LIMIT 1',
      ),
      // Plain INSERT: a leaf already stored at that index means the tables disagree; fail closed.
      putLeaf: db.prepare<[number, Buffer]>('INSERT INTO audit_leaves (idx, hash) VALUES (?, ?)'),
      leaves: db.prepare<[number, number], { idx: number; hash: Buffer }>(
        'SELECT idx, hash FROM audit_leaves WHERE idx >= ? AND idx < ? ORDER BY idx',
      ),
      dropLeaves: db.prepare<[number, number]>('DELETE FROM audit_leaves WHERE idx >= ? AND idx < ?'),
      latest: db.prepare<[], CheckpointRow>(
        'SELECT seq, size, at, note FROM audit_checkpoints ORDER BY seq DESC LIMIT 1',
      ),
      checkpoints: db.prepare<[number, number], CheckpointRow>(
        'SELECT seq, size, at, note FROM audit_checkpoints WHERE seq > ? ORDER BY seq LIMIT ?',
      ),
      // Never store a checkpoint older or smaller than one already stored: two signers (the server
      // and a CLI export) may race, and verifiers require sizes and timestamps in order. The seq is
      // the one the checkpoint's chain line names, so it must come right after the latest one.
      saveCheckpoint: db.prepare<[number, number, number, string, number, number, number]>(
        `INSERT INTO audit_checkpoints (seq, size, at, note) SELECT ?, ?, ?, ?
         WHERE (SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints) = ? - 1
           AND NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE size > ? OR at > ?)`,
      ),
      updateNote: db.prepare<[string, number]>('UPDATE audit_checkpoints SET note = ? WHERE seq = ?'),
    };
    // Both reads in one snapshot: another process may complete the tile between two statements.
    this.openTile = db.transaction(
      (index: number) => this.stmt.tile.get(0, index)?.data ?? this.leafTile(index),
    );
    this.upgradeLeaves(db);
    this.edge = this.loadEdge(this.committedSize());
    this.durable = this.edge.size;
  }

  /**
   * Databases written before `audit_leaves` existed keep the incomplete level-0 tile as a partial
   * row (always the last level-0 tile): move its hashes to leaf rows once, before the edge is
   * loaded. A row shorter than its width is left alone, so readers report it short as before.
   */
  private upgradeLeaves(db: Database.Database): void {
    const partial = () => {
      const t = this.stmt.lastLevel0.get();
      return t && t.width < TILE_WIDTH && t.data.length >= t.width * HASH_SIZE ? t : undefined;
    };
    if (!partial()) return;
    db.transaction(() => {
      const t = partial();
      if (!t) return;
      const hashes = splitHashes(t.data, t.width);
      for (let i = 0; i < hashes.length; i++) this.stmt.putLeaf.run(t.idx * TILE_WIDTH + i, hashes[i]!);
      this.stmt.dropTile.run(t.idx);
    }).immediate();
  }

  /** Reads the level-0 tile `index` (not yet full) from its leaf rows, in one snapshot. */
  private readonly openTile: (index: number) => Buffer | undefined;

  /**
   * The leaf rows of level-0 tile `index`, concatenated up to the first gap or malformed row: a
   * caller needing more hashes than that finds the tile short, never a hash shifted into place.
   */
  private leafTile(index: number): Buffer | undefined {
    const start = index * TILE_WIDTH;
    const hashes: Buffer[] = [];
    for (const r of this.stmt.leaves.all(start, start + TILE_WIDTH)) {
      if (r.idx !== start + hashes.length || r.hash.length !== HASH_SIZE) break;
      hashes.push(r.hash);
    }
    return hashes.length > 0 ? Buffer.concat(hashes, hashes.length * HASH_SIZE) : undefined;
  }

  /** A tile as readers have always seen it: the stored row, or the open level-0 tile's leaf rows. */
  private tileSync(level: number, index: number): Buffer | undefined {
    const data = this.stmt.tile.get(level, index)?.data;
    return data || level > 0 ? data : this.openTile(index);
  }

  /** The tree size the last commit produced (call right after a commit). */
  committed(): number {
    return this.edge.size;
  }

  /**
   * True once an entry is known to be on disk. Entries are never deleted, so from then on the
   * events table is never empty again (a flag set before the commit could be undone by it).
   */
  hasDurableEntries(): boolean {
    return this.durable > 0;
  }

  markDurable(size: number): void {
    this.durable = Math.max(this.durable, size);
  }

  private committedSize(): number {
    return this.stmt.size.get()?.size ?? 0;
  }

  private loadEdge(size: number): TreeEdge {
    return loadEdgeSync((level, index) => this.tileSync(level, index), size);
  }

  private syncEdge(): number {
    const size = this.committedSize();
    if (size !== this.edge.size) this.edge = this.loadEdge(size);
    return size;
  }

  /**
   * Leaf hashes of the entries this attempt inserted, keyed by index: hashed as they are written,
   * so the batch hook need not read them back. Cleared at the start of every attempt.
   */
  private leaves = new Map<number, Buffer>();

  pending(idx: number, entry: string): void {
    this.leaves.set(idx, leafHash(entry));
  }

  readonly discardPending = (): void => {
    this.leaves.clear();
  };

  /**
   * The write-batch hook. Throwing here fails the whole batch closed. Leaves come from `pending`
   * when this attempt wrote them in order from the committed size; anything else (a log written
   * before the tree existed, a write by another process) is read back and hashed.
   */
  readonly extend = (): void => {
    let size = this.syncEdge();
    const leaves = this.leaves;
    this.leaves = new Map();
    // Indexes are MAX+1, so after a savepoint rollback the next insert reuses the index and
    // overwrites the stale hash; hashes past the last row belong to rolled-back writes.
    const last = this.stmt.lastIdx.get()?.idx ?? -1;
    const hashes: Buffer[] = [];
    for (let i = size; i <= last; i++) {
      const h = leaves.get(i);
      if (!h) break;
      hashes.push(h);
    }
    if (hashes.length > 0 && size + hashes.length === last + 1) {
      this.grow(hashes);
      return;
    }
    // Paged, so catching up with a large log written before the tree existed stays in bounds.
    for (;;) {
      const rows = this.stmt.entriesFrom.all(size, 10_000);
      if (rows.length === 0) return;
      rows.forEach((r, i) => {
        if (r.idx !== size + i)
          throw new Error(`audit log gap: event ${size + i} is missing, found ${r.idx}`);
      });
      size = this.grow(rows.map((r) => leafHash(r.entry)));
    }
  };

  /** Appends leaves to the tree: changed tiles and the new size, in the caller's transaction. */
  private grow(hashes: Buffer[]): number {
    const from = this.edge.size;
    const { edge, tiles } = appendLeaves(this.edge, hashes);
    for (const t of tiles) {
      // The incomplete level-0 tile is stored as leaf rows (below), not rewritten whole.
      if (t.level > 0 || t.width === TILE_WIDTH) this.stmt.putTile.run(t.level, t.index, t.width, t.data);
    }
    // The tile that was open before this batch has leaf rows if it had leaves; once it is full,
    // its full tile (written above) replaces them.
    const wasOpen = from - (from % TILE_WIDTH);
    const open = edge.size - (edge.size % TILE_WIDTH);
    if (wasOpen < from && wasOpen < open) this.stmt.dropLeaves.run(wasOpen, wasOpen + TILE_WIDTH);
    // Leaf rows only for the tile still open: this batch's leaves of tiles it completed are in
    // their full tiles.
    for (let i = Math.max(from, open); i < edge.size; i++) this.stmt.putLeaf.run(i, hashes[i - from]!);
    this.stmt.setSize.run(edge.size);
    this.edge = edge;
    return edge.size;
  }

  /** The durable tree head: what a checkpoint may cover. */
  async treeHead(): Promise<TreeHead> {
    const committed = this.syncEdge();
    const size = Math.min(this.durable, committed);
    if (size === this.edge.size) return { size, root: edgeRoot(this.edge) };
    return { size, root: await treeRoot(this.reader, size) };
  }

  async readTiles(ids: readonly TileId[]): Promise<(Buffer | undefined)[]> {
    // Every proof to the current size needs the open level-0 tile: serve it from the edge, which
    // syncEdge has just matched to the committed size, instead of reading up to 255 leaf rows.
    this.syncEdge();
    const open = this.edge.size % TILE_WIDTH > 0 ? Math.floor(this.edge.size / TILE_WIDTH) : -1;
    return ids.map((id) =>
      id.level === 0 && id.index === open
        ? Buffer.concat(this.edge.rows[0]!, (this.edge.size % TILE_WIDTH) * HASH_SIZE)
        : this.tileSync(id.level, id.index),
    );
  }

  /** Tiles exactly as they were at tree size `size`: later hashes cut off, later tiles left out. */
  async *tilesAt(size: number): AsyncGenerator<Tile> {
    for (let level = 0; TILE_WIDTH ** level <= size; level++) {
      const hashes = Math.floor(size / TILE_WIDTH ** level);
      for (let index = 0; index * TILE_WIDTH < hashes; index++) {
        const width = Math.min(TILE_WIDTH, hashes - index * TILE_WIDTH);
        const data = this.tileSync(level, index);
        if (!data || data.length < width * HASH_SIZE)
          throw new Error(`audit tile ${level}/${index} is missing or short`);
        yield { level, index, width, data: data.subarray(0, width * HASH_SIZE) };
      }
    }
  }

  async readEntries(from: number, limit: number): Promise<{ index: number; entry: string }[]> {
    return this.stmt.entriesFrom.all(from, limit).map((r) => ({ index: r.idx, entry: r.entry }));
  }

  async saveCheckpoint(seq: number, size: number, at: number, note: string): Promise<boolean> {
    return this.stmt.saveCheckpoint.run(seq, size, at, note, seq, size, at).changes === 1;
  }

  async updateCheckpointNote(seq: number, note: string): Promise<void> {
    this.stmt.updateNote.run(note, seq);
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return this.stmt.latest.get();
  }

  async checkpoints(afterSeq: number, limit: number): Promise<StoredCheckpoint[]> {
    return this.stmt.checkpoints.all(afterSeq, limit);
  }
}
