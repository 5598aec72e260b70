import type { KeyObject } from 'node:crypto';
import { hash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Clock } from '../core/clock.js';
import { CheckpointSigner } from './checkpoint.js';
import { LocalEd25519Key } from './note.js';
import type { Tile, TileReader } from './tiles.js';

/** The tree size and root a store has committed. */
export interface TreeHead {
  size: number;
  root: Buffer;
}

export interface StoredCheckpoint {
  seq: number;
  size: number;
  /** ms since epoch when it was signed */
  at: number;
  note: string;
}

/**
 * What the audit log needs from a store. The store appends entries and tiles in its own
 * transactions; this is the read side plus checkpoint storage, the same for SQLite and PostgreSQL.
 */
export interface AuditLogStore extends TileReader {
  treeHead(): Promise<TreeHead>;
  tilesAt(size: number): AsyncIterable<Tile>;
  readEntries(from: number, limit: number): Promise<{ index: number; entry: string }[]>;
  /**
   * Stores a checkpoint as number `seq` (the one its chain line names) only if `seq` follows the
   * latest stored and no larger or later one is stored; says whether it did. Two signers that
   * race (the server and a CLI command) thus never store two checkpoints claiming one place.
   */
  saveCheckpoint(seq: number, size: number, at: number, note: string): Promise<boolean>;
  updateCheckpointNote(seq: number, note: string): Promise<void>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  checkpoints(afterSeq: number, limit: number): Promise<StoredCheckpoint[]>;
}

/** A stable origin line for a log that was given none: derived from its public key. */
export function defaultOrigin(publicKey: Buffer): string {
  return `countersign.local/${(hash('sha256', publicKey, 'hex') as string).slice(0, 16)}`;
}

/**
 * A key rotation keeps the log's origin: it is written next to the key file (`<file>.origin`)
 * so that the default origin, derived from the first key, survives a new key.
 */
export function originFile(keyFile: string): string {
  return `${keyFile}.origin`;
}

/**
 * The log's signer from the gateway's signing key (already loaded as a KeyObject). The origin is
 * the configured one, else the one recorded beside the key file, else derived from the key.
 */
export function logSigner(
  privateKey: KeyObject,
  clock: Clock,
  origin?: string,
  keyFile?: string,
): CheckpointSigner {
  const key = LocalEd25519Key.fromKeyObject(privateKey);
  const recorded =
    keyFile && existsSync(originFile(keyFile)) ? readFileSync(originFile(keyFile), 'utf8').trim() : undefined;
  return new CheckpointSigner(origin ?? recorded ?? defaultOrigin(key.publicKey), key, clock);
}
