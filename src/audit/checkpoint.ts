import { hash, verify } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { decodeBase64 } from './base64.js';
import {
  checkKeyName,
  type Ed25519Key,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  keyId,
  type Note,
  NoteError,
  type NoteSigner,
  type NoteVerifier,
  openNote,
  parseNote,
  parseVerifierKey,
  publicKeyObject,
  SIG_COSIGNATURE_V1,
  SIG_ED25519,
  signNote,
} from './note.js';

/** C2SP tlog-checkpoint: origin, tree size, base64 root hash, optional extension lines. */
export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  extensions?: string[];
}

export function formatCheckpoint(cp: Checkpoint): string {
  if ((cp.extensions ?? []).some((l) => l === '' || l.includes('\n')))
    throw new NoteError('a checkpoint extension line must be one non-empty line');
  const ext = (cp.extensions ?? []).map((l) => `${l}\n`).join('');
  return `${cp.origin}\n${cp.size}\n${cp.root.toString('base64')}\n${ext}`;
}

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '')
    throw new NoteError('checkpoint has fewer than 3 lines');
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (origin.length === 0) throw new NoteError('checkpoint origin line is empty');
  if (!/^(0|[1-9]\d*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw new NoteError(`checkpoint size ${JSON.stringify(sizeText)} is not a decimal tree size`);
  }
  const root = decodeBase64(rootText);
  if (root?.length !== 32) throw new NoteError('checkpoint root is not a base64 SHA-256 hash');
  const extensions = lines.slice(3, -1);
  if (extensions.some((l) => l === '')) throw new NoteError('checkpoint has an empty extension line');
  return { origin, size: Number(sizeText), root, ...(extensions.length > 0 ? { extensions } : {}) };
}

/**
 * The chain extension line: `countersign.chain/v1 <seq> <base64 SHA-256 of the previous
 * checkpoint's note text>`, or `-` in place of the hash for the log's first checkpoint. It makes
 * the checkpoints one signed sequence, so a bundle that loses, repeats or reorders one no longer
 * verifies (docs/decisions/0010-checkpoint-chain.md). The previous *text* is hashed, not the whole
 * note: witness cosignatures are appended to a note after it is signed and stored.
 */
export const CHAIN_EXTENSION = 'countersign.chain/v1';

export interface ChainLink {
  /** 1-based position of the checkpoint among all the log has signed. */
  seq: number;
  /** SHA-256 of the previous checkpoint's note text; null for the first checkpoint. */
  previous: Buffer | null;
}

/** The note text of a signed checkpoint: what its signatures cover. */
export function noteTextHash(noteText: string): Buffer {
  return hash('sha256', noteText, 'buffer') as Buffer;
}

/** The extension line for checkpoint `seq`, given the signed note of the one before it. */
export function chainExtension(seq: number, previousNote: string | null): string {
  if (!Number.isSafeInteger(seq) || seq < 1)
    throw new Error(`checkpoint sequence ${seq} is not a positive integer`);
  if ((seq === 1) !== (previousNote === null))
    throw new Error('only the first checkpoint (sequence 1) has no previous checkpoint');
  const prev = previousNote === null ? '-' : noteTextHash(parseNote(previousNote).text).toString('base64');
  return `${CHAIN_EXTENSION} ${seq} ${prev}`;
}

/**
 * The chain link a checkpoint carries, undefined if it carries none (checkpoints signed before
 * the chain existed). A malformed or repeated chain line is an error, never ignored.
 */
export function chainLinkOf(cp: Checkpoint): ChainLink | undefined {
  const lines = (cp.extensions ?? []).filter((l) => l.split(' ', 1)[0] === CHAIN_EXTENSION);
  if (lines.length === 0) return undefined;
  if (lines.length > 1) throw new NoteError(`checkpoint has ${lines.length} ${CHAIN_EXTENSION} lines`);
  const m = /^\S+ ([1-9]\d{0,15}) (-|[A-Za-z0-9+/]{43}=)$/.exec(lines[0]!);
  if (!m || !Number.isSafeInteger(Number(m[1])))
    throw new NoteError(`malformed chain line ${JSON.stringify(lines[0]!.slice(0, 120))}`);
  const seq = Number(m[1]);
  const previous = m[2] === '-' ? null : decodeBase64(m[2]!);
  if (m[2] !== '-' && previous?.length !== 32)
    throw new NoteError('chain line hash is not a canonical base64 SHA-256 hash');
  if ((seq === 1) !== (previous === null))
    throw new NoteError(
      `chain line of checkpoint ${seq} ${seq === 1 ? 'names' : 'lacks'} a previous checkpoint`,
    );
  return { seq, previous: previous ?? null };
}

/** The message a timestamped Ed25519 cosignature (C2SP tlog-cosignature, cosignature/v1) signs. */
export function cosignedMessage(timestamp: number, checkpointText: string): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`, 'utf8');
}

/**
 * A timestamped cosigner: signs `timestamp || Ed25519(cosignature/v1 message)`. The log uses one
 * over its own key to date each checkpoint; a witness uses one over the witness key.
 */
export function cosigner(name: string, key: Ed25519Key, clock: Clock): NoteSigner {
  checkKeyName(name);
  return {
    name,
    keyId: keyId(name, SIG_COSIGNATURE_V1, key.publicKey),
    sign: async (text) => {
      const timestamp = Math.floor(clock.now() / 1000);
      const ts = Buffer.alloc(8);
      ts.writeBigUInt64BE(BigInt(timestamp));
      return Buffer.concat([ts, await key.sign(cosignedMessage(timestamp, text))]);
    },
  };
}

export interface CosignatureVerifier extends NoteVerifier {
  /** POSIX seconds carried by a cosignature, or undefined when the bytes are not one. */
  timestampOf(signature: Buffer): number | undefined;
}

export function cosignatureVerifier(name: string, publicKey: Uint8Array): CosignatureVerifier {
  checkKeyName(name);
  const key = publicKeyObject(publicKey);
  const timestampOf = (sig: Buffer) => {
    if (sig.length !== 72) return undefined;
    const t = sig.readBigUInt64BE(0);
    return t > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(t);
  };
  return {
    name,
    keyId: keyId(name, SIG_COSIGNATURE_V1, publicKey),
    timestampOf,
    verify: (text, sig) => {
      const t = timestampOf(sig);
      return t !== undefined && verify(null, cosignedMessage(t, text), key, sig.subarray(8));
    },
  };
}

/** Signs checkpoints as the log: an Ed25519 note signature plus a timestamped cosignature, same key. */
export class CheckpointSigner {
  private readonly signers: NoteSigner[];

  /** `also`: a second key that signs too, for the one checkpoint that hands over to a new key. */
  constructor(
    readonly origin: string,
    readonly key: Ed25519Key,
    clock: Clock,
    also?: Ed25519Key,
  ) {
    this.signers = [key, ...(also ? [also] : [])].flatMap((k) => [
      ed25519NoteSigner(origin, k),
      cosigner(origin, k, clock),
    ]);
  }

  /** The `name+id+key` string an auditor passes to `audit verify --key`. */
  get verifierKey(): string {
    return logVerifierKey(this.origin, this.key.publicKey);
  }

  /** `extensions`: extension lines, e.g. the chain line (see chainExtension). */
  sign(size: number, root: Buffer, extensions: string[] = []): Promise<string> {
    return signNote(formatCheckpoint({ origin: this.origin, size, root, extensions }), this.signers);
  }
}

export function logVerifierKey(origin: string, publicKey: Buffer): string {
  const id = keyId(origin, SIG_ED25519, publicKey).toString(16).padStart(8, '0');
  return `${origin}+${id}+${Buffer.concat([Buffer.from([SIG_ED25519]), publicKey]).toString('base64')}`;
}

/** What a verifier of the log's own checkpoints needs, from the verifier key string. */
export interface LogKey {
  origin: string;
  note: NoteVerifier;
  timestamp: CosignatureVerifier;
}

export function logKeyFrom(vkey: string): LogKey {
  const k = parseVerifierKey(vkey);
  if (k.type !== SIG_ED25519) throw new Error('the log verifier key must be an Ed25519 (type 0x01) key');
  return {
    origin: k.name,
    note: ed25519NoteVerifier(k.name, k.publicKey),
    timestamp: cosignatureVerifier(k.name, k.publicKey),
  };
}

export interface OpenedCheckpoint {
  checkpoint: Checkpoint;
  /** POSIX seconds of the log's timestamped cosignature. */
  timestamp: number;
  note: Note;
  text: string;
}

/** Whether a note carries both a signature and a timestamp by this key (without checking them). */
export function signedBy(noteText: string, key: LogKey): boolean {
  const note = parseNote(noteText);
  const has = (v: NoteVerifier) => note.signatures.some((s) => s.name === v.name && s.keyId === v.keyId);
  return has(key.note) && has(key.timestamp);
}

/** Verifies the log signature and the log's timestamp cosignature; both are required. */
export function openCheckpoint(noteText: string, key: LogKey): OpenedCheckpoint {
  const note = parseNote(noteText);
  openNote(note, [key.note, key.timestamp]);
  const has = (v: NoteVerifier) => note.signatures.find((s) => s.name === v.name && s.keyId === v.keyId);
  if (!has(key.note)) throw new NoteError('checkpoint is not signed by the log key');
  const ts = has(key.timestamp);
  if (!ts) throw new NoteError('checkpoint carries no timestamp cosignature by the log key');
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint.origin !== key.origin) {
    throw new NoteError(
      `checkpoint origin ${JSON.stringify(checkpoint.origin)} is not the log ${JSON.stringify(key.origin)}`,
    );
  }
  return { checkpoint, timestamp: key.timestamp.timestampOf(ts.signature)!, note, text: noteText };
}
