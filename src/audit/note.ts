import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hash,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { decodeBase64 } from './base64.js';

/**
 * C2SP signed-note: text, a blank line, then lines `— <name> base64(keyID || signature)`.
 * Key ID = SHA-256(name || 0x0A || type || public key)[:4]. Only Ed25519 types are supported.
 */

/** Signature type bytes assigned by C2SP signed-note. */
export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;

const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const MAX_SIGNATURES = 100;

/**
 * The pluggable part: a key that signs with Ed25519. A KMS or HSM implements it without the
 * private key ever entering this process.
 */
export interface Ed25519Key {
  readonly publicKey: Buffer;
  sign(message: Uint8Array): Promise<Buffer>;
}

/** An Ed25519 key held in process memory (node:crypto), loaded from or saved to a PKCS#8 PEM file. */
export class LocalEd25519Key implements Ed25519Key {
  readonly publicKey: Buffer;

  private constructor(private readonly key: KeyObject) {
    const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
    this.publicKey = Buffer.from(der.subarray(ED25519_SPKI.length));
  }

  static generate(): LocalEd25519Key {
    return new LocalEd25519Key(generateKeyPairSync('ed25519').privateKey);
  }

  static fromSeed(seed: Uint8Array): LocalEd25519Key {
    if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
    return new LocalEd25519Key(
      createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: 'der', type: 'pkcs8' }),
    );
  }

  static fromKeyObject(key: KeyObject): LocalEd25519Key {
    if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519')
      throw new Error('expected an Ed25519 private key');
    return new LocalEd25519Key(key);
  }

  static fromPem(pem: string): LocalEd25519Key {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ed25519')
      throw new Error('the signing key file does not hold an Ed25519 private key');
    return new LocalEd25519Key(key);
  }

  toPem(): string {
    return this.key.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  async sign(message: Uint8Array): Promise<Buffer> {
    return sign(null, message, this.key);
  }

  /** Never print the private key by accident (console.log, JSON.stringify of a config object). */
  toJSON(): { publicKey: string } {
    return { publicKey: this.publicKey.toString('base64') };
  }
}

export function keyId(name: string, type: number, publicKey: Uint8Array): number {
  const digest = hash(
    'sha256',
    Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([type]), publicKey]),
    'buffer',
  ) as Buffer;
  return digest.readUInt32BE(0);
}

export function checkKeyName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name)) {
    throw new Error(`key name ${JSON.stringify(name)} must be non-empty, without spaces or '+'`);
  }
}

/** Something that adds one signature line to a note. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes that follow the key ID. */
  sign(text: string): Promise<Buffer>;
}

/** Checks one signature line from a known key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(text: string, signature: Buffer): boolean;
}

export function ed25519NoteSigner(name: string, key: Ed25519Key): NoteSigner {
  checkKeyName(name);
  return {
    name,
    keyId: keyId(name, SIG_ED25519, key.publicKey),
    sign: (text) => key.sign(Buffer.from(text, 'utf8')),
  };
}

export function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI, raw]), format: 'der', type: 'spki' });
}

export function ed25519NoteVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  checkKeyName(name);
  const key = publicKeyObject(publicKey);
  return {
    name,
    keyId: keyId(name, SIG_ED25519, publicKey),
    verify: (text, signature) =>
      signature.length === 64 && verify(null, Buffer.from(text, 'utf8'), key, signature),
  };
}

/** The `name+hexid+base64(type||key)` verifier key string of signed-note. */
export function verifierKey(name: string, type: number, publicKey: Uint8Array): string {
  checkKeyName(name);
  const id = keyId(name, type, publicKey).toString(16).padStart(8, '0');
  return `${name}+${id}+${Buffer.concat([Buffer.from([type]), publicKey]).toString('base64')}`;
}

export interface ParsedVerifierKey {
  name: string;
  keyId: number;
  type: number;
  publicKey: Buffer;
}

export function parseVerifierKey(vkey: string): ParsedVerifierKey {
  const bad = (why: string) =>
    new Error(
      `verifier key ${JSON.stringify(vkey.slice(0, 120))} is malformed: ${why}; expect name+hexid+base64key`,
    );
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(vkey.trim());
  if (!m) throw bad('wrong shape');
  const [, name, idHex, b64] = m as unknown as [string, string, string, string];
  const bytes = decodeBase64(b64);
  if (!bytes) throw bad('key is not canonical base64');
  const type = bytes[0];
  const publicKey = bytes.subarray(1);
  if ((type !== SIG_ED25519 && type !== SIG_COSIGNATURE_V1) || publicKey.length !== 32) {
    throw bad('only Ed25519 keys (type 0x01 or 0x04) are supported');
  }
  const id = keyId(name, type, publicKey);
  if (id !== Number.parseInt(idHex, 16)) throw bad('key id does not match name and key');
  return { name, keyId: id, type, publicKey };
}

export interface NoteSignature {
  name: string;
  keyId: number;
  /** The bytes after the key ID. */
  signature: Buffer;
}

export interface Note {
  text: string;
  signatures: NoteSignature[];
}

export class NoteError extends Error {
  override name = 'NoteError';
}

export function parseNote(note: string): Note {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the spec forbids exactly these characters.
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new NoteError('note contains control characters');
  if (note.includes('\uFFFD')) throw new NoteError('note is not valid UTF-8');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new NoteError('note has no signature block');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError(`note has more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line) => {
    const m = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
    if (!m) throw new NoteError(`malformed signature line ${JSON.stringify(line.slice(0, 120))}`);
    const raw = decodeBase64(m[2]!);
    if (!raw) throw new NoteError(`signature of ${m[1]} is not canonical base64`);
    if (raw.length < 5) throw new NoteError(`signature of ${m[1]} is too short`);
    return { name: m[1]!, keyId: raw.readUInt32BE(0), signature: raw.subarray(4) };
  });
  return { text, signatures };
}

export function signatureLine(s: NoteSignature): string {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(s.keyId);
  return `\u2014 ${s.name} ${Buffer.concat([id, s.signature]).toString('base64')}\n`;
}

export function formatNote(note: Note): string {
  return `${note.text}\n${note.signatures.map(signatureLine).join('')}`;
}

export async function signNote(text: string, signers: readonly NoteSigner[]): Promise<string> {
  if (!text.endsWith('\n')) throw new NoteError('note text must end with a newline');
  const signatures: NoteSignature[] = [];
  for (const s of signers) signatures.push({ name: s.name, keyId: s.keyId, signature: await s.sign(text) });
  return formatNote({ text, signatures });
}

/**
 * Opens a note: every signature from a known key must verify, and at least one must.
 * Returns the text and the verifiers whose signatures were checked.
 */
export function openNote(
  note: string | Note,
  verifiers: readonly NoteVerifier[],
): { note: Note; verifiedBy: NoteVerifier[] } {
  const parsed = typeof note === 'string' ? parseNote(note) : note;
  const verifiedBy: NoteVerifier[] = [];
  for (const sig of parsed.signatures) {
    const v = verifiers.find((x) => x.name === sig.name && x.keyId === sig.keyId);
    if (!v) continue;
    if (!v.verify(parsed.text, sig.signature))
      throw new NoteError(`signature by ${sig.name} does not verify`);
    verifiedBy.push(v);
  }
  if (verifiedBy.length === 0) throw new NoteError('note has no signature from a known key');
  return { note: parsed, verifiedBy };
}
