import { verify } from 'node:crypto';
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

  sign(size: number, root: Buffer): Promise<string> {
    return signNote(formatCheckpoint({ origin: this.origin, size, root }), this.signers);
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
